import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, test } from 'vitest';
import { ReferenceStore } from '../../../electron/services/reference-store.js';
import { UserInputError } from '../../../electron/services/service-errors.js';
import { pngBytes, tempDir } from './service-fixtures.js';

function store(extra: Partial<ConstructorParameters<typeof ReferenceStore>[0]> = {}) {
  const dir = path.join(tempDir(), 'references');
  return new ReferenceStore({ dir, urlFor: (n) => `/files/references/${n}`, ...extra });
}

describe('ReferenceStore', () => {
  test('stores a PNG copy named by its sha256, deduplicated, and reports size and URL', async () => {
    const s = store();
    const a = await s.importBytes('cat.png', await pngBytes(8, 6));
    expect(a.name).toBe('cat.png');
    expect([a.width, a.height]).toEqual([8, 6]);
    expect(a.path).toBe(path.join(s.dir, `${a.id}.png`));
    expect(a.id).toMatch(/^[0-9a-f]{64}$/);
    expect(a.url).toBe(`/files/references/${a.id}.png`);
    const meta = await sharp(a.path).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 8, 6]);
    const b = await s.importBytes('same-again.png', await pngBytes(8, 6));
    expect(b.id).toBe(a.id);
    expect(b.name).toBe('same-again.png');
    expect(fs.readdirSync(s.dir)).toEqual([`${a.id}.png`]);
    expect(s.holds(a.path)).toBe(true);
    expect(s.holds('/etc/passwd')).toBe(false);
  });

  test('a JPEG with EXIF orientation 6 is stored upright (width and height swapped)', async () => {
    const raw = Buffer.alloc(10 * 4 * 3, 128);
    const jpeg = await sharp(raw, { raw: { width: 10, height: 4, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const r = await store().importBytes('phone.jpg', jpeg);
    expect([r.width, r.height]).toEqual([4, 10]);
  });

  test('alpha is kept in the stored copy', async () => {
    const r = await store().importBytes('cutout.png', await pngBytes(4, 4, true));
    expect((await sharp(r.path).metadata()).hasAlpha).toBe(true);
  });

  test('importFile reads from disk and names the file', async () => {
    const dir = tempDir();
    const f = path.join(dir, 'dog.png');
    fs.writeFileSync(f, await pngBytes(5, 5));
    const r = await store().importFile(f);
    expect(r.name).toBe('dog.png');
    await expect(store().importFile(path.join(dir, 'nope.png'))).rejects.toThrow(/nope\.png: file not found/);
    await expect(store().importFile(dir)).rejects.toThrow(/is a folder/);
  });

  test('non-images, empty, corrupt and oversized files get clear errors naming the file', async () => {
    const s = store({ maxBytes: 4096, maxPixels: 10_000 });
    const heic = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic'), Buffer.alloc(64, 1)]);
    await expect(s.importBytes('photo.heic', heic)).rejects.toThrow(/^photo\.heic: unsupported image format/);
    await expect(s.importBytes('notes.txt', Buffer.from('hello, not an image'))).rejects.toThrow(/^notes\.txt: unsupported image format/);
    await expect(s.importBytes('empty.png', Buffer.alloc(0))).rejects.toThrow(/^empty\.png: the file is empty/);
    const png = await pngBytes(60, 60);
    const truncated = png.subarray(0, png.length - 40);
    await expect(s.importBytes('cut.png', truncated)).rejects.toThrow(/^cut\.png: the PNG data is damaged or truncated/);
    await expect(s.importBytes('huge.png', await pngBytes(200, 100))).rejects.toThrow(/^huge\.png: the image is 200x100 .*larger than the limit/);
    await expect(s.importBytes('big.bin', Buffer.alloc(5000, 1))).rejects.toThrow(/^big\.bin: the file is 4\.9 KiB, larger than the 4\.0 KiB limit/);
    await expect(s.importBytes('x.txt', Buffer.from('x'))).rejects.toBeInstanceOf(UserInputError);
    expect(fs.existsSync(s.dir) ? fs.readdirSync(s.dir) : []).toEqual([]);
  });

  test('a name with a path keeps only the file name', async () => {
    const r = await store().importBytes('../../etc/evil.png', await pngBytes(3, 3));
    expect(r.name).toBe('evil.png');
  });
});
