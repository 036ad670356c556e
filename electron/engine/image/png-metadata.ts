// PNG text metadata: write UTF-8 `iTXt` chunks (sharp can read text chunks but not write them) and read
// `iTXt`, `tEXt` and `zTXt` back.
//
// Layout of a chunk: 4-byte big-endian data length, 4-byte type, data, CRC-32 over type + data.
// iTXt data: keyword (1–79 Latin-1 bytes) 0, compression flag (0/1), method 0, language tag "" 0,
// translated keyword "" 0, text in UTF-8 (zlib-deflated when the flag is 1).
// Written chunks go right before the first IDAT so that readers that stop at the image data see them.
import fs from 'node:fs/promises';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { writeFileAtomic } from './atomic-write.js';
import { assertRgbImage, type RgbImage } from './rgb-image.js';

export type PngTextEntries = Readonly<Record<string, string>>;

export class PngMetadataError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'PngMetadataError';
  }
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const TEXT_CHUNKS = new Set(['iTXt', 'tEXt', 'zTXt']);
/** Texts longer than this (UTF-8 bytes) are stored deflated. */
const COMPRESS_ABOVE_BYTES = 1024;
/** Refuse to inflate a single text chunk beyond this (guards against zip bombs in files we read). */
const MAX_TEXT_BYTES = 64 * 1024 * 1024;

interface Chunk {
  readonly type: string;
  /** Offset of the chunk's length field and total size in the file (12 + data length). */
  readonly start: number;
  readonly size: number;
  readonly data: Buffer;
}

function parseChunks(png: Buffer, label: string): Chunk[] {
  if (png.length < SIGNATURE.length || !png.subarray(0, 8).equals(SIGNATURE)) {
    throw new PngMetadataError(label, 'is not a PNG file (the 8-byte PNG signature is missing)');
  }
  const chunks: Chunk[] = [];
  let pos = 8;
  for (;;) {
    if (pos + 12 > png.length) throw new PngMetadataError(label, `PNG is truncated: chunk header at byte ${pos} runs past the end of the file (no IEND chunk)`);
    const length = png.readUInt32BE(pos);
    const type = png.toString('latin1', pos + 4, pos + 8);
    if (!/^[A-Za-z]{4}$/.test(type)) throw new PngMetadataError(label, `PNG is corrupt: invalid chunk type at byte ${pos}`);
    const end = pos + 12 + length;
    if (length > 0x7fffffff || end > png.length) {
      throw new PngMetadataError(label, `PNG is truncated: chunk ${type} at byte ${pos} declares ${length} bytes but the file ends at ${png.length}`);
    }
    const data = png.subarray(pos + 8, pos + 8 + length);
    const crc = png.readUInt32BE(pos + 8 + length);
    if (zlib.crc32(png.subarray(pos + 4, pos + 8 + length)) !== crc) {
      throw new PngMetadataError(label, `PNG is corrupt: CRC mismatch in chunk ${type} at byte ${pos}`);
    }
    chunks.push({ type, start: pos, size: 12 + length, data });
    pos = end;
    if (type === 'IEND') return chunks;
  }
}

/** One PNG chunk: length, type, data, CRC32 of type + data. */
export function makePngChunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(zlib.crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** PNG keyword rules: 1–79 printable Latin-1 characters, no leading/trailing/double spaces. */
function checkKeyword(keyword: string): void {
  const problem =
    keyword.length < 1 || keyword.length > 79 ? 'must be 1 to 79 characters long'
    : !/^[\x20-\x7e\xa1-\xff]+$/.test(keyword) ? 'may only contain printable Latin-1 characters (no control characters, no characters beyond U+00FF)'
    : /^ | $| {2}/.test(keyword) ? 'may not start or end with a space or contain two spaces in a row'
    : undefined;
  if (problem) throw new Error(`PNG text keyword ${JSON.stringify(keyword)} ${problem}`);
}

function checkText(keyword: string, text: string): void {
  if (typeof text !== 'string') throw new Error(`PNG text for keyword "${keyword}" must be a string, got ${typeof text}`);
  if (text.includes('\0')) throw new Error(`PNG text for keyword "${keyword}" contains a NUL character, which PNG text cannot store`);
  // A lone UTF-16 surrogate cannot be encoded as UTF-8 and would not read back identically.
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text)) {
    throw new Error(`PNG text for keyword "${keyword}" contains an unpaired UTF-16 surrogate (not valid Unicode)`);
  }
}

function encodeItxt(keyword: string, text: string): Buffer {
  const utf8 = Buffer.from(text, 'utf8');
  const compress = utf8.length > COMPRESS_ABOVE_BYTES;
  const body = compress ? zlib.deflateSync(utf8) : utf8;
  // keyword \0, flag, method, language "" \0, translated keyword "" \0
  const head = Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0, compress ? 1 : 0, 0, 0, 0])]);
  return makePngChunk('iTXt', Buffer.concat([head, body]));
}

/**
 * Return a copy of `png` with one iTXt chunk per entry, inserted before the first IDAT. Existing text
 * chunks with the same keywords are removed, so reading back gives exactly `entries`' values.
 */
export function addPngText(png: Uint8Array, entries: PngTextEntries, label = '<PNG in memory>'): Buffer {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.length);
  const keys = Object.keys(entries);
  for (const k of keys) {
    checkKeyword(k);
    checkText(k, entries[k]);
  }
  const chunks = parseChunks(buf, label);
  const replaced = new Set(keys);
  const firstIdat = chunks.findIndex((c) => c.type === 'IDAT');
  if (firstIdat < 0) throw new PngMetadataError(label, 'PNG has no IDAT (image data) chunk');
  const parts: Buffer[] = [SIGNATURE];
  chunks.forEach((c, i) => {
    if (i === firstIdat) for (const k of keys) parts.push(encodeItxt(k, entries[k]));
    if (TEXT_CHUNKS.has(c.type) && replaced.has(textKeyword(c))) return;
    parts.push(buf.subarray(c.start, c.start + c.size));
  });
  return Buffer.concat(parts);
}

function textKeyword(c: Chunk): string {
  const nul = c.data.indexOf(0);
  return c.data.toString('latin1', 0, nul < 0 ? c.data.length : nul);
}

function inflateText(data: Buffer, label: string, type: string, keyword: string): Buffer {
  try {
    return zlib.inflateSync(data, { maxOutputLength: MAX_TEXT_BYTES });
  } catch (e) {
    throw new PngMetadataError(label, `compressed ${type} chunk "${keyword}" cannot be inflated (${(e as Error).message})`);
  }
}

function decodeTextChunk(c: Chunk, label: string): [string, string] {
  const d = c.data;
  const nul = d.indexOf(0);
  if (nul < 1) throw new PngMetadataError(label, `${c.type} chunk at byte ${c.start} has no keyword`);
  const keyword = d.toString('latin1', 0, nul);
  if (c.type === 'tEXt') return [keyword, d.toString('latin1', nul + 1)];
  if (c.type === 'zTXt') {
    if (d[nul + 1] !== 0) throw new PngMetadataError(label, `zTXt chunk "${keyword}" uses unknown compression method ${d[nul + 1]}`);
    return [keyword, inflateText(d.subarray(nul + 2), label, c.type, keyword).toString('latin1')];
  }
  // iTXt
  const flag = d[nul + 1];
  const method = d[nul + 2];
  const langEnd = d.indexOf(0, nul + 3);
  const transEnd = langEnd < 0 ? -1 : d.indexOf(0, langEnd + 1);
  if (flag === undefined || method === undefined || transEnd < 0) {
    throw new PngMetadataError(label, `iTXt chunk "${keyword}" at byte ${c.start} is malformed (missing language or translated-keyword field)`);
  }
  const body = d.subarray(transEnd + 1);
  if (flag === 0) return [keyword, body.toString('utf8')];
  if (flag === 1 && method === 0) return [keyword, inflateText(body, label, c.type, keyword).toString('utf8')];
  throw new PngMetadataError(label, `iTXt chunk "${keyword}" has unknown compression flag ${flag} / method ${method}`);
}

/** All text entries (iTXt, tEXt, zTXt) of a PNG held in memory; a later chunk wins on duplicate keywords. */
export function readPngTextFromBuffer(png: Uint8Array, label = '<PNG in memory>'): Record<string, string> {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.length);
  const found = new Map<string, string>();
  for (const c of parseChunks(buf, label)) {
    if (TEXT_CHUNKS.has(c.type)) found.set(...decodeTextChunk(c, label));
  }
  // fromEntries defines own properties, so even a keyword like "__proto__" is returned as data.
  return Object.fromEntries(found);
}

/** All text entries of a PNG file. */
export async function readPngText(file: string): Promise<Record<string, string>> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PngMetadataError(file, code === 'ENOENT' ? 'file not found' : `cannot be read (${(e as Error).message})`);
  }
  return readPngTextFromBuffer(bytes, file);
}

/** Encode 8-bit RGB as PNG (libvips/libpng via sharp), then add the text entries as iTXt chunks. */
export async function encodeRgbPng(img: RgbImage, text: PngTextEntries = {}): Promise<Buffer> {
  assertRgbImage(img, 'encodeRgbPng');
  const png = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .png({ compressionLevel: 6, adaptiveFiltering: true })
    .toBuffer();
  return Object.keys(text).length > 0 ? addPngText(png, text) : png;
}

/**
 * Write interleaved 8-bit RGB (`width * height * 3` bytes) as a PNG with text metadata, atomically
 * (temp file in the same folder, fsync, rename).
 */
export async function writePngWithText(file: string, rgb: Uint8Array, width: number, height: number, text: PngTextEntries = {}): Promise<void> {
  await writeFileAtomic(file, await encodeRgbPng({ width, height, data: rgb, source: file }, text));
}
