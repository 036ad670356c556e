// iTXt writing and reading: exact round trips (non-ASCII, long/compressed, empty), readable by libpng (sharp),
// replacement of existing keywords, tEXt/zTXt reading and clear errors.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addPngText, PngMetadataError, readPngText, readPngTextFromBuffer, makePngChunk } from '../../../electron/engine/image/png-metadata.js';

let dir: string;
let basePng: Buffer;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'umo-png-meta-'));
  basePng = await sharp({ create: { width: 7, height: 5, channels: 3, background: { r: 10, g: 200, b: 90 } } }).png().toBuffer();
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Insert raw chunks right after IHDR (8-byte signature + 25-byte IHDR chunk). */
function withChunks(png: Buffer, ...chunks: Buffer[]): Buffer {
  return Buffer.concat([png.subarray(0, 33), ...chunks, png.subarray(33)]);
}

function chunkTypes(png: Buffer): string[] {
  const types: string[] = [];
  for (let pos = 8; pos < png.length; pos += 12 + png.readUInt32BE(pos)) types.push(png.toString('latin1', pos + 4, pos + 8));
  return types;
}

describe('PNG iTXt metadata', () => {
  const entries = {
    prompt: '一只戴着红色围巾的柴犬坐在雪地里 — «portrait», émoji 🐕‍🦺, tab\tand\r\nnewlines',
    negative: '',
    parameters: JSON.stringify({ steps: 25, guidance: 4, seed: 3407, note: 'x'.repeat(3000) }), // > 1 KB: deflated
    'Model name': 'UMO-UNO',
    'Größe': '512×512',
  };

  it('round-trips exactly through a file, chunks placed before IDAT, pixels unchanged', async () => {
    const png = addPngText(basePng, entries);
    const types = chunkTypes(png);
    expect(types.filter((t) => t === 'iTXt')).toHaveLength(5);
    expect(types.indexOf('iTXt')).toBeLessThan(types.indexOf('IDAT'));
    expect(types.at(-1)).toBe('IEND');
    const file = path.join(dir, 'meta.png');
    fs.writeFileSync(file, png);
    expect(await readPngText(file)).toEqual(entries);
    const a = await sharp(basePng).raw().toBuffer();
    const b = await sharp(file).raw().toBuffer();
    expect(b.equals(a)).toBe(true);
    // the long entry really is compressed: the file is smaller than the text
    expect(png.length).toBeLessThan(basePng.length + 3000);
  });

  it('libpng (through sharp) reads the chunks, including the compressed one', async () => {
    const meta = await sharp(addPngText(basePng, entries)).metadata();
    const comments = Object.fromEntries((meta.comments ?? []).map((c) => [c.keyword, c.text]));
    expect(comments.prompt).toBe(entries.prompt);
    expect(comments.parameters).toBe(entries.parameters);
    expect(comments['Model name']).toBe('UMO-UNO');
  });

  it('replaces existing text chunks with the same keyword, keeps the others', () => {
    const withOld = withChunks(basePng, makePngChunk('tEXt', Buffer.from('prompt\0old prompt', 'latin1')), makePngChunk('tEXt', Buffer.from('Software\0other tool', 'latin1')));
    expect(readPngTextFromBuffer(withOld)).toEqual({ prompt: 'old prompt', Software: 'other tool' });
    const updated = addPngText(withOld, { prompt: 'new 提示' });
    expect(readPngTextFromBuffer(updated)).toEqual({ prompt: 'new 提示', Software: 'other tool' });
    expect(chunkTypes(updated).filter((t) => t === 'tEXt' || t === 'iTXt')).toHaveLength(2);
  });

  it('reads tEXt (Latin-1) and zTXt written by other tools', () => {
    const png = withChunks(
      basePng,
      makePngChunk('tEXt', Buffer.from('Comment\0caf\xe9', 'latin1')),
      makePngChunk('zTXt', Buffer.concat([Buffer.from('Description\0\0', 'latin1'), zlib.deflateSync(Buffer.from('long description', 'latin1'))])),
    );
    expect(readPngTextFromBuffer(png)).toEqual({ Comment: 'café', Description: 'long description' });
  });

  it('a keyword named __proto__ is returned as plain data', () => {
    const out = readPngTextFromBuffer(addPngText(basePng, { ['__proto__']: 'p' }));
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toBe('p');
  });

  it('rejects keywords and texts PNG cannot store faithfully', () => {
    expect(() => addPngText(basePng, { '': 'x' })).toThrow(/keyword "" must be 1 to 79 characters/);
    expect(() => addPngText(basePng, { ['k'.repeat(80)]: 'x' })).toThrow(/must be 1 to 79 characters/);
    expect(() => addPngText(basePng, { '提示': 'x' })).toThrow(/printable Latin-1/);
    expect(() => addPngText(basePng, { ' lead': 'x' })).toThrow(/may not start or end with a space/);
    expect(() => addPngText(basePng, { a: 'x\0y' })).toThrow(/NUL character/);
    expect(() => addPngText(basePng, { a: 'bad \ud800 surrogate' })).toThrow(/unpaired UTF-16 surrogate/);
  });

  it('clear errors for files that are not PNGs or are damaged', async () => {
    expect(() => readPngTextFromBuffer(Buffer.from('hello'), 'note.png')).toThrow(/^note\.png: is not a PNG file/);
    const png = addPngText(basePng, { prompt: 'x' });
    const corrupt = Buffer.from(png);
    corrupt[png.indexOf('iTXt') + 6] ^= 0xff;
    expect(() => readPngTextFromBuffer(corrupt, 'bad.png')).toThrow(PngMetadataError);
    expect(() => readPngTextFromBuffer(corrupt, 'bad.png')).toThrow(/bad\.png: PNG is corrupt: CRC mismatch in chunk iTXt/);
    expect(() => readPngTextFromBuffer(png.subarray(0, png.length - 20), 'cut.png')).toThrow(/cut\.png: PNG is truncated/);
    await expect(readPngText(path.join(dir, 'missing.png'))).rejects.toThrow(/missing\.png: file not found/);
  });
});
