// UNO and OmniGen2 reference preprocessing against the Pillow goldens (exact sizes; pixel error reported).
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { loadImageRgb } from '../../../electron/engine/image/load-image.js';
import {
  omnigen2ReferenceSize,
  omnigen2ReferenceTensor,
  OMNIGEN2_PIPELINE_LIMITS,
} from '../../../electron/engine/image/omnigen2-reference.js';
import { resizeLanczosPillow } from '../../../electron/engine/image/pillow-lanczos.js';
import {
  loadUnoReference,
  preprocessUnoReference,
  unoReferenceGeometry,
  unoReferenceLongSide,
  unoReferenceTensor,
} from '../../../electron/engine/image/uno-reference.js';
import { ImageInputError } from '../../../electron/engine/image/rgb-image.js';
import { Checkpoint } from '../../../electron/engine/runtime/safetensors.js';
import { GOLDEN_DIR } from '../../helpers/golden.js';

const UNO_DIR = path.join(GOLDEN_DIR, 'uno/preprocess_ref');
const OG2_DIR = path.join(GOLDEN_DIR, 'omnigen2/image_processor');

async function rawRgb(file: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  const { data, info } = await sharp(file).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

function byteErrors(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > max) max = d;
    sum += d;
  }
  return { max, mean: sum / a.length };
}

describe('UNO reference preprocessing (golden: Pillow 9.4 LANCZOS)', () => {
  const cases = JSON.parse(fs.readFileSync(path.join(UNO_DIR, 'preprocess_ref.json'), 'utf8')) as {
    long_size: number;
    input_wh: [number, number];
    output_wh: [number, number];
    file: string;
  }[];

  it.each(cases)('long side $long_size -> $output_wh', async (c) => {
    const input = await loadImageRgb(path.join(UNO_DIR, 'input.png'));
    expect([input.width, input.height]).toEqual(c.input_wh);
    const out = preprocessUnoReference(input, c.long_size);
    expect([out.width, out.height]).toEqual(c.output_wh);
    const golden = await rawRgb(path.join(UNO_DIR, c.file));
    const err = byteErrors(out.data, golden.data);
    console.log(`UNO preprocess_ref long ${c.long_size}: max |diff| ${err.max}, mean ${err.mean.toFixed(6)} (8-bit levels)`);
    expect(err.max).toBe(0); // Pillow's fixed-point LANCZOS reproduced byte for byte

    const t = unoReferenceTensor(input, c.long_size);
    expect(t.shape).toEqual([1, 3, c.output_wh[1], c.output_wh[0]]);
    // Channel planes hold to_tensor*2-1 of the golden bytes (spot-check first pixel of each plane).
    const plane = c.output_wh[0] * c.output_wh[1];
    for (let ch = 0; ch < 3; ch++) {
      expect(t.data[ch * plane]).toBe(Math.fround(Math.fround(golden.data[ch] / 255) * 2 - 1));
    }
  });

  it('sharp lanczos3 is not close enough to Pillow (why we resample ourselves)', async () => {
    const golden = await rawRgb(path.join(UNO_DIR, 'preprocess_ref_long512.png'));
    const { data } = await sharp(path.join(UNO_DIR, 'input.png'))
      .removeAlpha()
      .resize(512, 341, { fit: 'fill', kernel: 'lanczos3' })
      .extract({ left: 0, top: 2, width: 512, height: 336 })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const err = byteErrors(new Uint8Array(data), golden.data);
    console.log(`sharp lanczos3 vs Pillow LANCZOS (long 512): max ${err.max}, mean ${err.mean.toFixed(4)}`);
    expect(err.max).toBeGreaterThan(2);
  });

  it('loadUnoReference = load + preprocess + tensor', async () => {
    const file = path.join(UNO_DIR, 'input.png');
    const ref = await loadUnoReference(file, 320);
    expect([ref.width, ref.height]).toEqual([320, 208]);
    expect(ref.shape).toEqual([1, 3, 208, 320]);
    const direct = unoReferenceTensor(await loadImageRgb(file), 320).data;
    expect(Buffer.from(ref.data.buffer).equals(Buffer.from(direct.buffer))).toBe(true);
    await expect(loadUnoReference(path.join(UNO_DIR, 'missing.png'), 512)).rejects.toThrow(/missing\.png: file not found/);
  });

  it('long side rule and geometry', () => {
    expect(unoReferenceLongSide(0)).toBe(512);
    expect(unoReferenceLongSide(1)).toBe(512);
    expect(unoReferenceLongSide(2)).toBe(320);
    expect(unoReferenceLongSide(4)).toBe(320);
    expect(() => unoReferenceLongSide(-1)).toThrow(/non-negative integer/);
    // 640x427 -> 512x341 (341.6 truncated), crop 512x336 at top (341-336)//2 = 2
    expect(unoReferenceGeometry(640, 427, 512)).toEqual({ resizedWidth: 512, resizedHeight: 341, left: 0, top: 2, width: 512, height: 336 });
    // portrait, odd remainder: 427x640 at 320 -> 213x320 (213.4), crop 208 wide at left (213-208)//2 = 2
    expect(unoReferenceGeometry(427, 640, 320)).toEqual({ resizedWidth: 213, resizedHeight: 320, left: 2, top: 0, width: 208, height: 320 });
    // small images are upscaled to the long side
    expect(unoReferenceGeometry(100, 50, 512)).toMatchObject({ resizedWidth: 512, resizedHeight: 256, width: 512, height: 256 });
    expect(() => unoReferenceGeometry(5000, 100, 512, 'strip.png')).toThrow(ImageInputError);
    expect(() => unoReferenceGeometry(5000, 100, 512, 'strip.png')).toThrow(/strip\.png.*too elongated.*512x10/);
  });
});

describe('OmniGen2 reference preprocessing (golden: OmniGen2ImageProcessor.preprocess)', () => {
  const spec = JSON.parse(fs.readFileSync(path.join(OG2_DIR, 'preprocess.json'), 'utf8')) as {
    input_wh: [number, number];
    cases: { case: number; max_pixels: number; max_side_length: number; output_shape: number[] }[];
  };
  const ck = Checkpoint.open(path.join(OG2_DIR, 'preprocess.safetensors'));

  it.each(spec.cases)('case $case: max_pixels $max_pixels, max_side $max_side_length', async (c) => {
    const input = await loadImageRgb(path.join(OG2_DIR, 'input.png'));
    expect([input.width, input.height]).toEqual(spec.input_wh);
    const limits = { maxPixels: c.max_pixels, maxSideLength: c.max_side_length };
    const t = omnigen2ReferenceTensor(input, limits);
    expect(t.shape).toEqual(c.output_shape);
    expect(ck.info(`case${c.case}`).shape).toEqual(c.output_shape);
    const expected = ck.readFloat32(`case${c.case}`);
    let max = 0;
    let sum = 0;
    for (let i = 0; i < expected.length; i++) {
      const d = Math.abs(t.data[i] - expected[i]);
      if (d > max) max = d;
      sum += d;
    }
    console.log(`OmniGen2 preprocess case${c.case} ${c.output_shape.join('x')}: max |diff| ${max}, mean ${(sum / expected.length).toExponential(3)} ([-1,1] units)`);
    expect(max).toBeLessThanOrEqual((2 / 255) * 2);
    expect(max).toBe(0); // same bytes as Pillow and the same float32 arithmetic
  });

  it('size rule', () => {
    // 4000x3000 with (1048576, 2048): ratio sqrt(1048576/12e6) = 0.2956 -> 1182x886 -> 1168x880 (spec §4.3 example)
    expect(omnigen2ReferenceSize(4000, 3000, { maxPixels: 1048576, maxSideLength: 2048 })).toEqual({ width: 1168, height: 880 });
    // never upscales; only rounds down to 16
    expect(omnigen2ReferenceSize(333, 250, OMNIGEN2_PIPELINE_LIMITS)).toEqual({ width: 320, height: 240 });
    // side limit dominates
    expect(omnigen2ReferenceSize(3000, 500, { maxPixels: 4e6, maxSideLength: 1024 })).toEqual({ width: 1024, height: 160 });
    // no side limit
    expect(omnigen2ReferenceSize(3000, 500, { maxPixels: 4e6 })).toEqual({ width: 2992, height: 496 });
    expect(() => omnigen2ReferenceSize(2000, 20, OMNIGEN2_PIPELINE_LIMITS, 'line.png')).toThrow(/line\.png.*too small or too elongated.*1024x0/);
  });
});

describe('Pillow LANCZOS resampler', () => {
  it('is the identity at the same size and keeps flat colours flat when up- or downscaling', () => {
    const w = 7;
    const h = 5;
    const src = new Uint8Array(w * h * 3).map((_, i) => (i * 37) % 256);
    expect(resizeLanczosPillow(src, w, h, 3, w, h)).toEqual(src);
    const flat = new Uint8Array(w * h * 3).fill(200);
    for (const [ow, oh] of [[3, 2], [20, 11], [7, 13], [1, 1]]) {
      const out = resizeLanczosPillow(flat, w, h, 3, ow, oh);
      expect(out.length).toBe(ow * oh * 3);
      expect(out.every((v) => v === 200)).toBe(true);
    }
  });

  it('rejects inconsistent buffers', () => {
    expect(() => resizeLanczosPillow(new Uint8Array(10), 2, 2, 3, 1, 1)).toThrow(/10 bytes for 2x2x3/);
    expect(() => resizeLanczosPillow(new Uint8Array(12), 2, 2, 3, 0, 1)).toThrow(/outWidth must be a positive integer/);
  });
});
