// Decoder output -> 8-bit RGB -> PNG (with text metadata), written atomically.
//
// The two backbones quantise differently, and we keep each one's rule (float32 arithmetic throughout):
//   * 'uno' (bytedance/UNO pipeline.py, spec §2.3): clamp(x, -1, 1), then byte(127.5 * (x + 1)) —
//     truncation toward zero, not rounding.
//   * 'omnigen2' (diffusers VaeImageProcessor.postprocess, spec §4.4): clamp(x / 2 + 0.5, 0, 1) * 255, then
//     numpy round (round half to even).
import { f32, type HostTensor } from '../runtime/tensor.js';
import { writeFileAtomic } from './atomic-write.js';
import { encodeRgbPng, type PngTextEntries } from './png-metadata.js';
import type { RgbImage } from './rgb-image.js';

export type OutputQuantization = 'uno' | 'omnigen2';

function roundHalfEven(v: number): number {
  const r = Math.round(v); // rounds .5 up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function quantizeUno(x: number): number {
  const c = x < -1 ? -1 : x > 1 ? 1 : x;
  return Math.trunc(Math.fround(127.5 * Math.fround(c + 1)));
}

function quantizeOmniGen2(x: number): number {
  const y = Math.fround(Math.fround(x / 2) + 0.5);
  const c = y < 0 ? 0 : y > 1 ? 1 : y;
  return roundHalfEven(Math.fround(c * 255));
}

/**
 * Convert image `batchIndex` of a decoder output `[B, 3, H, W]` (float32, nominally [-1, 1]) to 8-bit RGB.
 * Non-finite values mean the run failed numerically; they are reported, not silently turned into pixels.
 */
export function tensorToRgb(t: HostTensor, mode: OutputQuantization, batchIndex = 0, source?: string): RgbImage {
  if (t.dtype !== 'float32') throw new Error(`tensorToRgb: decoder output is ${t.dtype}, expected float32`);
  if (t.shape.length !== 4 || t.shape[1] !== 3 || t.shape[0] < 1 || t.shape[2] < 1 || t.shape[3] < 1) {
    throw new Error(`tensorToRgb: decoder output has shape [${t.shape.join(', ')}], expected [B, 3, H, W]`);
  }
  const [batch, , height, width] = t.shape;
  if (!Number.isInteger(batchIndex) || batchIndex < 0 || batchIndex >= batch) {
    throw new Error(`tensorToRgb: batch index ${batchIndex} out of range for batch size ${batch}`);
  }
  if (mode !== 'uno' && mode !== 'omnigen2') throw new Error(`tensorToRgb: unknown quantization mode ${String(mode)}`);
  const quantize = mode === 'uno' ? quantizeUno : quantizeOmniGen2;
  const src = t.data as Float32Array;
  const plane = width * height;
  const base = batchIndex * 3 * plane;
  const out = new Uint8Array(plane * 3);
  let bad = 0;
  for (let c = 0; c < 3; c++) {
    const p = base + c * plane;
    for (let i = 0; i < plane; i++) {
      const x = src[p + i];
      if (!Number.isFinite(x)) {
        bad++;
        continue;
      }
      out[3 * i + c] = quantize(x);
    }
  }
  if (bad > 0) {
    throw new Error(`tensorToRgb: decoder output (image ${batchIndex}) has ${bad} non-finite values (NaN/Inf) of ${3 * plane}; the generation failed numerically`);
  }
  return { width, height, data: out, source };
}

/** Every image of a decoder output batch. */
export function tensorToRgbImages(t: HostTensor, mode: OutputQuantization): RgbImage[] {
  const batch = t.shape[0] ?? 0;
  return Array.from({ length: batch }, (_, i) => tensorToRgb(t, mode, i));
}

/**
 * Decoded pixels of one image, float32 planes `[3, H, W]` (or `[1, 3, H, W]`), to interleaved 8-bit RGB
 * bytes. Same rules as `tensorToRgb`.
 */
export function decodedToRgb8(pixels: Float32Array, height: number, width: number, mode: OutputQuantization): Uint8Array {
  if (pixels.length !== 3 * height * width) {
    throw new Error(`decodedToRgb8: ${pixels.length} values, expected 3*${height}*${width} = ${3 * height * width} (decoded RGB planes)`);
  }
  return tensorToRgb(f32(pixels, [1, 3, height, width]), mode).data;
}

/** Encode as an 8-bit RGB PNG, optionally with UTF-8 text entries (iTXt). */
export async function encodePng(img: RgbImage, text: PngTextEntries = {}): Promise<Buffer> {
  return encodeRgbPng(img, text);
}

/** Encode and write a PNG atomically (temp file in the same folder, fsync, rename). */
export async function writePngAtomic(file: string, img: RgbImage, text: PngTextEntries = {}): Promise<void> {
  await writeFileAtomic(file, await encodePng(img, text));
}
