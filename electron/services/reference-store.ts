// Reference images the user brought in (dropped, pasted, browsed, or a previous result): each is
// validated and decoded with sharp, turned upright (EXIF orientation), converted to 8-bit sRGB and
// stored as a PNG named by its content hash under `<dataDir>/references/`, so the same image
// imported twice is stored once and generation requests carry a path the app controls.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp, { type Metadata } from 'sharp';
import type { ReferenceImage } from '../../shared/umo-api.js';
import { writeFileAtomic } from '../engine/image/atomic-write.js';
import { ACCEPTED_FORMATS_TEXT, DEFAULT_MAX_INPUT_PIXELS } from '../engine/image/load-image.js';
import { UserInputError } from './service-errors.js';

/** sharp `metadata().format` values accepted as references. */
const ACCEPTED_FORMATS: ReadonlySet<string> = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif', 'avif', 'jxl', 'jp2']);

export const DEFAULT_MAX_REFERENCE_BYTES = 64 * 2 ** 20;

export interface ReferenceStoreOptions {
  dir: string;
  /** The URL the renderer shows for a stored file name. */
  urlFor(fileName: string): string;
  maxBytes?: number;
  maxPixels?: number;
}

const STORED_NAME = /^[0-9a-f]{64}\.png$/;

export class ReferenceStore {
  readonly dir: string;
  private readonly maxBytes: number;
  private readonly maxPixels: number;

  constructor(private readonly opts: ReferenceStoreOptions) {
    this.dir = path.resolve(opts.dir);
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_REFERENCE_BYTES;
    this.maxPixels = opts.maxPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  }

  /** Import image bytes (an upload, a pasted image); `name` is the user's file name, used in messages. */
  async importBytes(name: string, bytes: Uint8Array): Promise<ReferenceImage> {
    const label = displayName(name);
    if (bytes.length > this.maxBytes) {
      throw new UserInputError(`${label}: the file is ${formatBytes(bytes.length)}, larger than the ${formatBytes(this.maxBytes)} limit for reference images`);
    }
    const { png, width, height } = await this.normalise(label, bytes);
    const sha = crypto.createHash('sha256').update(png).digest('hex');
    const fileName = `${sha}.png`;
    const file = path.join(this.dir, fileName);
    if (!fs.existsSync(file)) {
      fs.mkdirSync(this.dir, { recursive: true });
      await writeFileAtomic(file, png);
    }
    return { id: sha, url: this.opts.urlFor(fileName), path: file, name: label, width, height };
  }

  /** Import an image file from disk (desktop drag-and-drop or file dialog, a previous result). */
  async importFile(file: string, name = path.basename(file)): Promise<ReferenceImage> {
    const label = displayName(name);
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UserInputError(`${label}: ${code === 'ENOENT' ? 'file not found' : `cannot be read (${code ?? (e as Error).message})`} (${file})`);
    }
    if (st.isDirectory()) throw new UserInputError(`${label}: is a folder, not an image file`);
    if (!st.isFile()) throw new UserInputError(`${label}: is not a regular file`);
    if (st.size > this.maxBytes) {
      throw new UserInputError(`${label}: the file is ${formatBytes(st.size)}, larger than the ${formatBytes(this.maxBytes)} limit for reference images`);
    }
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (e) {
      throw new UserInputError(`${label}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return this.importBytes(label, bytes);
  }

  /** True when `p` is a file this store holds (what generation requests may reference). */
  holds(p: string): boolean {
    const abs = path.resolve(p);
    if (path.dirname(abs) !== this.dir || !STORED_NAME.test(path.basename(abs))) return false;
    try {
      return fs.statSync(abs).isFile();
    } catch {
      return false;
    }
  }

  /** Decode, orient and re-encode as PNG; every failure is a UserInputError naming the file. */
  private async normalise(label: string, bytes: Uint8Array): Promise<{ png: Buffer; width: number; height: number }> {
    if (bytes.length === 0) throw new UserInputError(`${label}: the file is empty (0 bytes); expected an image (${ACCEPTED_FORMATS_TEXT})`);
    let meta: Metadata;
    try {
      meta = await sharp(bytes, { limitInputPixels: false, failOn: 'none' }).metadata();
    } catch (e) {
      throw new UserInputError(`${label}: unsupported image format — the contents are not ${ACCEPTED_FORMATS_TEXT} data that this app can decode (${decoderMessage(e)})`);
    }
    if (!ACCEPTED_FORMATS.has(meta.format)) {
      throw new UserInputError(`${label}: unsupported image format ${String(meta.format).toUpperCase()}; use ${ACCEPTED_FORMATS_TEXT}`);
    }
    const pixels = (meta.width ?? 0) * (meta.height ?? 0);
    if (pixels > this.maxPixels) {
      throw new UserInputError(`${label}: the image is ${meta.width}x${meta.height} (${(pixels / 1e6).toFixed(1)} megapixels), larger than the limit of ${(this.maxPixels / 1e6).toFixed(1)} megapixels; downscale it first`);
    }
    try {
      const { data, info } = await sharp(bytes, { limitInputPixels: this.maxPixels, failOn: 'truncated', pages: 1, page: 0 })
        .autoOrient()
        .toColourspace('srgb')
        .png({ compressionLevel: 6 })
        .toBuffer({ resolveWithObject: true });
      return { png: data, width: info.width, height: info.height };
    } catch (e) {
      throw new UserInputError(`${label}: the ${String(meta.format).toUpperCase()} data is damaged or truncated and could not be decoded (${decoderMessage(e)})`);
    }
  }
}

/** The file name part of a user-supplied name, without control characters. */
export function displayName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 255);
  return clean || 'image';
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} bytes`;
}

function decoderMessage(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
}
