// Decode any user image into 8-bit sRGB RGB (`RgbImage`), the one form the reference preprocessors accept.
//
// What happens to the input:
//   * EXIF orientation is applied (a phone photo with orientation 6 comes out upright, width and height
//     swapped), as OmniGen2's inference.py does with `ImageOps.exif_transpose`.
//   * Colour: CMYK, grayscale, 16-bit and ICC-tagged images are converted to 8-bit sRGB by libvips (sharp)
//     (the references ignore ICC profiles; converting is what the user sees, and equal for untagged sRGB);
//     16-bit samples keep their high byte, as Pillow's 16-bit -> RGB conversion does.
//   * Animated GIF/WebP and multi-page TIFF: the first frame/page only.
//   * Alpha: see `AlphaPolicy` below.
//   * Size: images with more than `maxPixels` pixels (declared in the header, checked before decoding)
//     are refused with a clear error instead of exhausting memory.
// Every failure is an `ImageInputError` naming the file, what is wrong and what is accepted.
import fs from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import { ImageInputError, type RgbImage } from './rgb-image.js';

/**
 * How transparent pixels are turned into RGB.
 *
 * Decision: the default is `'flatten-white'`, compositing the image over an opaque white background.
 * The reference demos instead drop the alpha channel (`convert("RGB")`, also what Gradio's RGB image
 * input does), which keeps whatever colour the encoder left under fully transparent pixels: usually black,
 * sometimes garbage from an editor. Cut-out subjects on transparent backgrounds are a common input for
 * subject-driven generation, and with alpha dropped that hidden colour (typically a black backdrop)
 * becomes part of the reference and leaks into the generated image. White is what the user sees in most
 * viewers and matches the white-background product shots these models are trained and demoed with.
 * `'drop'` reproduces the reference exactly (hidden RGB kept) for parity checks.
 */
export type AlphaPolicy = 'flatten-white' | 'drop';

export interface LoadImageOptions {
  /** Largest accepted width*height (pixels, as declared in the file header). Default 100 MP. */
  readonly maxPixels?: number;
  /** Default `'flatten-white'` (see `AlphaPolicy`). */
  readonly alpha?: AlphaPolicy;
}

export const DEFAULT_MAX_INPUT_PIXELS = 100_000_000;

/** Decoder names (sharp `metadata().format`) we accept, and how we describe them to users. */
const ACCEPTED_FORMATS: ReadonlySet<string> = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif', 'avif', 'jxl', 'jp2']);
export const ACCEPTED_FORMATS_TEXT = 'PNG, JPEG, WebP, GIF, TIFF, AVIF/HEIC, JPEG XL or JPEG 2000';

/** Read `file` and decode it (see the module comment). */
export async function loadImageRgb(file: string, opts: LoadImageOptions = {}): Promise<RgbImage & { source: string }> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT' ? 'file not found'
      : code === 'EISDIR' ? 'is a folder, not an image file'
      : code === 'EACCES' || code === 'EPERM' ? 'cannot be read (permission denied)'
      : `cannot be read (${(e as Error).message})`;
    throw new ImageInputError(file, problem);
  }
  return decodeImageRgb(bytes, file, opts);
}

/** Decode image bytes; `label` (normally the file name) is used in errors and stored as `source`. */
export async function decodeImageRgb(
  bytes: Uint8Array,
  label: string,
  opts: LoadImageOptions = {},
): Promise<RgbImage & { source: string }> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const alpha = opts.alpha ?? 'flatten-white';
  if (!(Number.isFinite(maxPixels) && maxPixels > 0)) throw new Error(`decodeImageRgb: maxPixels must be a positive number, got ${maxPixels}`);
  if (alpha !== 'flatten-white' && alpha !== 'drop') throw new Error(`decodeImageRgb: alpha must be 'flatten-white' or 'drop', got ${String(alpha)}`);
  if (bytes.length === 0) throw new ImageInputError(label, `is empty (0 bytes); expected an image file (${ACCEPTED_FORMATS_TEXT})`);

  // Header only: format and declared size, before any pixel is decoded.
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false, failOn: 'none' }).metadata();
  } catch (e) {
    throw new ImageInputError(label, `is not a readable image: its contents are not ${ACCEPTED_FORMATS_TEXT} data (${decoderMessage(e)})`);
  }
  if (!ACCEPTED_FORMATS.has(meta.format)) {
    throw new ImageInputError(label, `is a ${meta.format.toUpperCase()} file, which is not accepted as a reference image; use ${ACCEPTED_FORMATS_TEXT}`);
  }
  const pixels = meta.width * meta.height;
  if (pixels > maxPixels) {
    throw new ImageInputError(
      label,
      `is ${meta.width}x${meta.height} (${(pixels / 1e6).toFixed(1)} megapixels), larger than the limit of ${(maxPixels / 1e6).toFixed(1)} megapixels; downscale it first`,
    );
  }

  try {
    let pipeline = sharp(bytes, {
      limitInputPixels: maxPixels,
      // Reject truncated/corrupt pixel data, tolerate harmless warnings (e.g. extra bytes after the JPEG end).
      failOn: 'truncated',
      pages: 1,
      page: 0,
    }).autoOrient();
    pipeline = alpha === 'flatten-white' ? pipeline.flatten({ background: { r: 255, g: 255, b: 255 } }) : pipeline.removeAlpha();
    const { data, info } = await pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const rgb = toThreeChannels(data, info.width, info.height, info.channels, label);
    return { width: info.width, height: info.height, data: rgb, source: label };
  } catch (e) {
    if (e instanceof ImageInputError) throw e;
    throw new ImageInputError(label, `could not be decoded; the ${meta.format.toUpperCase()} data is damaged or truncated (${decoderMessage(e)})`);
  }
}

function toThreeChannels(data: Buffer, width: number, height: number, channels: number, label: string): Uint8Array {
  const n = width * height;
  if (channels === 3) return new Uint8Array(data.buffer, data.byteOffset, data.length).slice();
  if (channels === 1) {
    const out = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = data[i];
    return out;
  }
  throw new ImageInputError(label, `decoded to ${channels} channels, expected RGB (3) after colour conversion`);
}

function decoderMessage(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s+/g, ' ').trim();
}
