// loadImageRgb on inputs made here with sharp: colour spaces, bit depths, alpha, EXIF, animation and bad files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_INPUT_PIXELS, decodeImageRgb, loadImageRgb } from '../../../electron/engine/image/load-image.js';
import { ImageInputError, type RgbImage } from '../../../electron/engine/image/rgb-image.js';
import { makePngChunk } from '../../../electron/engine/image/png-metadata.js';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'umo-load-image-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function pixel(img: RgbImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * 3;
  return [img.data[i], img.data[i + 1], img.data[i + 2]];
}

/** Raw pixels (channels per pixel) where f(x, y) gives each pixel's values. */
function rawImage(width: number, height: number, channels: number, f: (x: number, y: number) => number[]): Buffer {
  const buf = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) buf.set(f(x, y), (y * width + x) * channels);
  return buf;
}

async function writeFile(name: string, bytes: Buffer | Promise<Buffer>): Promise<string> {
  const file = path.join(dir, name);
  fs.writeFileSync(file, await bytes);
  return file;
}

describe('loadImageRgb: colour handling', () => {
  it('plain RGB PNG is returned unchanged', async () => {
    const raw = rawImage(5, 4, 3, (x, y) => [x * 50, y * 60, (x + y) * 20]);
    const file = await writeFile('rgb.png', sharp(raw, { raw: { width: 5, height: 4, channels: 3 } }).png().toBuffer());
    const img = await loadImageRgb(file);
    expect([img.width, img.height, img.source]).toEqual([5, 4, file]);
    expect(Buffer.from(img.data).equals(raw)).toBe(true);
  });

  it('CMYK JPEG becomes sRGB with the right colours', async () => {
    const raw = rawImage(32, 16, 3, (x) => (x < 16 ? [220, 30, 30] : [128, 128, 128]));
    const file = await writeFile('cmyk.jpg', sharp(raw, { raw: { width: 32, height: 16, channels: 3 } }).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer());
    const meta = await sharp(file).metadata();
    expect(meta.space).toBe('cmyk');
    expect(meta.channels).toBe(4);
    const img = await loadImageRgb(file);
    expect([img.width, img.height, img.data.length]).toEqual([32, 16, 32 * 16 * 3]);
    const [r, g, b] = pixel(img, 4, 8);
    expect(r).toBeGreaterThan(180);
    expect(g).toBeLessThan(80);
    expect(b).toBeLessThan(80);
    const grey = pixel(img, 28, 8);
    expect(Math.max(...grey) - Math.min(...grey)).toBeLessThan(16);
    expect(grey[0]).toBeGreaterThan(100);
    expect(grey[0]).toBeLessThan(160);
  });

  it('an ICC-tagged (Display P3) image is converted to sRGB, not read as if it were sRGB', async () => {
    const srgb = [200, 60, 40, 30, 180, 90];
    const file = await writeFile('p3.png', sharp(Buffer.from(srgb), { raw: { width: 2, height: 1, channels: 3 } }).withIccProfile('p3').png().toBuffer());
    expect((await sharp(file).metadata()).hasProfile).toBe(true);
    const storedP3 = await sharp(file, { ignoreIcc: true }).raw().toBuffer();
    expect(Math.abs(storedP3[0] - 200)).toBeGreaterThan(8); // the file really holds P3 numbers
    const img = await loadImageRgb(file);
    Array.from(img.data).forEach((v, i) => expect(Math.abs(v - srgb[i])).toBeLessThanOrEqual(2));
  });

  it('16-bit PNG becomes 8-bit (high byte)', async () => {
    const w = 4;
    const h = 2;
    const v16 = new Uint16Array(w * h * 3);
    for (let i = 0; i < v16.length; i++) v16[i] = (i * 5923 + 257) % 65536;
    const file = await writeFile('deep.png', sharp(v16, { raw: { width: w, height: h, channels: 3 } }).toColourspace('rgb16').png().toBuffer());
    const meta = await sharp(file).metadata();
    expect(meta.depth).toBe('ushort');
    const img = await loadImageRgb(file);
    for (let i = 0; i < v16.length; i++) expect(Math.abs(img.data[i] - v16[i] / 257)).toBeLessThanOrEqual(1);
  });

  it('grayscale PNG becomes R = G = B', async () => {
    const raw = rawImage(6, 3, 1, (x, y) => [x * 40 + y]);
    const file = await writeFile('grey.png', sharp(raw, { raw: { width: 6, height: 3, channels: 1 } }).toColourspace('b-w').png().toBuffer());
    expect((await sharp(file).metadata()).channels).toBe(1);
    const img = await loadImageRgb(file);
    expect(img.data.length).toBe(6 * 3 * 3);
    for (let y = 0; y < 3; y++) for (let x = 0; x < 6; x++) expect(pixel(img, x, y)).toEqual([x * 40 + y, x * 40 + y, x * 40 + y]);
  });

  it('RGBA: flattened onto white by default, alpha dropped (hidden RGB kept) with alpha: "drop"', async () => {
    // left column opaque red, middle column half-transparent black, right column fully transparent with hidden blue
    const raw = rawImage(3, 2, 4, (x) => (x === 0 ? [255, 0, 0, 255] : x === 1 ? [0, 0, 0, 128] : [0, 0, 255, 0]));
    const file = await writeFile('alpha.png', sharp(raw, { raw: { width: 3, height: 2, channels: 4 } }).png().toBuffer());
    expect((await sharp(file).metadata()).hasAlpha).toBe(true);

    const white = await loadImageRgb(file);
    expect(white.data.length).toBe(3 * 2 * 3);
    expect(pixel(white, 0, 0)).toEqual([255, 0, 0]);
    for (const v of pixel(white, 1, 0)) expect(Math.abs(v - 127)).toBeLessThanOrEqual(1);
    expect(pixel(white, 2, 1)).toEqual([255, 255, 255]);

    const dropped = await loadImageRgb(file, { alpha: 'drop' });
    expect(pixel(dropped, 0, 0)).toEqual([255, 0, 0]);
    expect(pixel(dropped, 1, 0)).toEqual([0, 0, 0]);
    expect(pixel(dropped, 2, 1)).toEqual([0, 0, 255]);
  });

  it('EXIF orientation 6 JPEG is rotated upright (width and height swapped)', async () => {
    // stored 40x20: left half red, right half blue. Orientation 6 = display rotated 90° clockwise,
    // so the stored left half ends up on top.
    const raw = rawImage(40, 20, 3, (x) => (x < 20 ? [230, 20, 20] : [20, 20, 230]));
    const file = await writeFile('exif6.jpg', sharp(raw, { raw: { width: 40, height: 20, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer());
    const meta = await sharp(file).metadata();
    expect([meta.width, meta.height, meta.orientation]).toEqual([40, 20, 6]);
    const img = await loadImageRgb(file);
    expect([img.width, img.height]).toEqual([20, 40]);
    const top = pixel(img, 10, 5);
    const bottom = pixel(img, 10, 35);
    expect(top[0]).toBeGreaterThan(180);
    expect(top[2]).toBeLessThan(80);
    expect(bottom[2]).toBeGreaterThan(180);
    expect(bottom[0]).toBeLessThan(80);
  });

  it('animated GIF: first frame only', async () => {
    const red = await sharp(rawImage(8, 6, 3, () => [255, 0, 0]), { raw: { width: 8, height: 6, channels: 3 } }).png().toBuffer();
    const green = await sharp(rawImage(8, 6, 3, () => [0, 255, 0]), { raw: { width: 8, height: 6, channels: 3 } }).png().toBuffer();
    const file = await writeFile('anim.gif', sharp([red, green], { join: { animated: true } }).gif().toBuffer());
    expect((await sharp(file).metadata()).pages).toBe(2);
    const img = await loadImageRgb(file);
    expect([img.width, img.height]).toEqual([8, 6]);
    for (let y = 0; y < 6; y++) for (let x = 0; x < 8; x++) expect(pixel(img, x, y)).toEqual([255, 0, 0]);
  });
});

describe('loadImageRgb: clear errors', () => {
  async function expectInputError(p: Promise<unknown>, file: string, pattern: RegExp): Promise<void> {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ImageInputError);
    expect((err as ImageInputError).file).toBe(file);
    expect((err as Error).message.startsWith(`${file}: `)).toBe(true);
    expect((err as Error).message).toMatch(pattern);
  }

  it('truncated PNG and JPEG', async () => {
    const raw = rawImage(64, 64, 3, (x, y) => [(x * 37 + y * 11) % 256, (x * y) % 256, (x ^ y) * 4]);
    const png = await sharp(raw, { raw: { width: 64, height: 64, channels: 3 } }).png().toBuffer();
    const cutPng = await writeFile('cut.png', png.subarray(0, Math.floor(png.length * 0.6)));
    await expectInputError(loadImageRgb(cutPng), cutPng, /could not be decoded; the PNG data is damaged or truncated/);
    const jpg = await sharp(raw, { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
    const cutJpg = await writeFile('cut.jpg', jpg.subarray(0, Math.floor(jpg.length * 0.6)));
    await expectInputError(loadImageRgb(cutJpg), cutJpg, /JPEG data is damaged or truncated/);
  });

  it('a text file named .png', async () => {
    const file = await writeFile('notes.png', Buffer.from('these are my notes, not a picture\n'));
    await expectInputError(loadImageRgb(file), file, /is not a readable image: its contents are not PNG, JPEG, WebP/);
  });

  it('an enormous declared size is refused before decoding', async () => {
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(200_000, 0);
    ihdr.writeUInt32BE(100_000, 4);
    ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
    const bomb = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      makePngChunk('IHDR', ihdr),
      makePngChunk('IDAT', zlib.deflateSync(Buffer.alloc(1024))),
      makePngChunk('IEND', Buffer.alloc(0)),
    ]);
    const file = await writeFile('bomb.png', bomb);
    await expectInputError(loadImageRgb(file), file, /is 200000x100000 \(20000\.0 megapixels\), larger than the limit of 100\.0 megapixels/);
    expect(DEFAULT_MAX_INPUT_PIXELS).toBe(100_000_000);
  });

  it('a custom pixel limit', async () => {
    const file = await writeFile('medium.png', sharp({ create: { width: 400, height: 300, channels: 3, background: '#808080' } }).png().toBuffer());
    await expectInputError(loadImageRgb(file, { maxPixels: 100_000 }), file, /400x300 \(0\.1 megapixels\), larger than the limit of 0\.1 megapixels/);
    expect((await loadImageRgb(file, { maxPixels: 120_000 })).width).toBe(400);
  });

  it('missing file, folder, empty file, unsupported format', async () => {
    const missing = path.join(dir, 'nope.png');
    await expectInputError(loadImageRgb(missing), missing, /file not found/);
    await expectInputError(loadImageRgb(dir), dir, /is a folder/);
    const empty = await writeFile('empty.jpg', Buffer.alloc(0));
    await expectInputError(loadImageRgb(empty), empty, /is empty \(0 bytes\)/);
    const svg = await writeFile('shape.svg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'));
    await expectInputError(loadImageRgb(svg), svg, /is a SVG file, which is not accepted as a reference image; use PNG, JPEG/);
  });

  it('decodeImageRgb labels in-memory bytes and validates options', async () => {
    await expectInputError(decodeImageRgb(Buffer.from('xyz'), 'clipboard'), 'clipboard', /not a readable image/);
    const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#000' } }).png().toBuffer();
    await expect(decodeImageRgb(png, 'x', { alpha: 'grey' as never })).rejects.toThrow(/alpha must be 'flatten-white' or 'drop'/);
    await expect(decodeImageRgb(png, 'x', { maxPixels: 0 })).rejects.toThrow(/maxPixels must be a positive number/);
  });
});
