// Decoder output -> 8-bit RGB (UNO truncation vs OmniGen2 rounding) -> PNG written atomically.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng, decodedToRgb8, tensorToRgb, tensorToRgbImages, writePngAtomic } from '../../../electron/engine/image/output-image.js';
import { rgbToSignedUnitTensor } from '../../../electron/engine/image/pixel-tensor.js';
import { readPngText, writePngWithText } from '../../../electron/engine/image/png-metadata.js';
import { f32 } from '../../../electron/engine/runtime/tensor.js';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'umo-output-image-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A [1,3,1,n] tensor with the same value in all three channels of each pixel. */
function row(values: number[]) {
  const n = values.length;
  return f32(Float32Array.from([...values, ...values, ...values]), [1, 3, 1, n]);
}

function reds(img: { data: Uint8Array }): number[] {
  return Array.from(img.data.filter((_, i) => i % 3 === 0));
}

describe('tensorToRgb', () => {
  it('UNO: clamp and truncate 127.5*(x+1); OmniGen2: clamp and round half to even', () => {
    const xs = [-3, -1, -0.999, 0, 0.5, 1, 7, 200.6 / 127.5 - 1];
    // UNO: -1 -> 0; -0.999 -> 0.1275 -> 0; 0 -> 127.5 -> 127; 0.5 -> 191.25 -> 191; 200.6 -> 200
    expect(reds(tensorToRgb(row(xs), 'uno'))).toEqual([0, 0, 0, 127, 191, 255, 255, 200]);
    // OmniGen2: 0 -> 127.5 -> 128 (half to even); 0.5 -> 191.25 -> 191; 200.6 -> 201
    expect(reds(tensorToRgb(row(xs), 'omnigen2'))).toEqual([0, 0, 0, 128, 191, 255, 255, 201]);
  });

  it('round half to even at exact ties (numpy round), not half up', () => {
    // float32 inputs where clamp(x/2+0.5)*255 is exactly 100.5, 127.5 and 201.5 in float32 arithmetic
    const ties = [-0.21176466345787048, 0, 0.580392062664032];
    for (const x of ties) {
      const c = Math.fround(Math.fround(Math.fround(x) / 2) + 0.5);
      expect([100.5, 127.5, 201.5]).toContain(Math.fround(c * 255));
    }
    expect(reds(tensorToRgb(row(ties), 'omnigen2'))).toEqual([100, 128, 202]);
  });

  it('planes become interleaved pixels; batch index selects the image', () => {
    // batch 2, 1x2 pixels: image 1 has R=1, G=-1, B=0 everywhere
    const data = new Float32Array(2 * 3 * 2);
    data.set([1, 1, -1, -1, 0, 0], 6);
    const t = f32(data, [2, 3, 1, 2]);
    expect(Array.from(tensorToRgb(t, 'uno', 1).data)).toEqual([255, 0, 127, 255, 0, 127]);
    expect(Array.from(tensorToRgb(t, 'omnigen2', 1).data)).toEqual([255, 0, 128, 255, 0, 128]);
    expect(Array.from(tensorToRgb(t, 'uno', 0).data)).toEqual([127, 127, 127, 127, 127, 127]);
    const all = tensorToRgbImages(t, 'uno');
    expect(all.map((i) => [i.width, i.height])).toEqual([[2, 1], [2, 1]]);
  });

  it('OmniGen2 rounding inverts the [-1,1] input transform for every byte; UNO truncation may lose one level', () => {
    const bytes = new Uint8Array(256 * 3).map((_, i) => Math.floor(i / 3));
    const t = rgbToSignedUnitTensor({ width: 256, height: 1, data: bytes });
    expect(Buffer.from(tensorToRgb(t, 'omnigen2').data).equals(Buffer.from(bytes))).toBe(true);
    const uno = tensorToRgb(t, 'uno').data;
    let lower = 0;
    for (let i = 0; i < bytes.length; i++) {
      expect(bytes[i] - uno[i]).toBeGreaterThanOrEqual(0);
      expect(bytes[i] - uno[i]).toBeLessThanOrEqual(1);
      if (uno[i] < bytes[i]) lower++;
    }
    console.log(`UNO truncation: ${lower / 3} of 256 byte values come back one level lower after the [-1,1] round trip`);
  });

  it('rejects wrong shapes, dtypes, batch indices and non-finite values', () => {
    expect(() => tensorToRgb(f32(new Float32Array(8), [1, 2, 2, 2]), 'uno')).toThrow(/shape \[1, 2, 2, 2\], expected \[B, 3, H, W\]/);
    expect(() => tensorToRgb({ dtype: 'int64', shape: [1, 3, 1, 1], data: new BigInt64Array(3) }, 'uno')).toThrow(/int64, expected float32/);
    expect(() => tensorToRgb(row([0]), 'uno', 1)).toThrow(/batch index 1 out of range for batch size 1/);
    expect(() => tensorToRgb(row([0, NaN, Infinity]), 'omnigen2')).toThrow(/6 non-finite values \(NaN\/Inf\) of 9/);
  });
});

describe('PNG output', () => {
  const img = {
    width: 5,
    height: 3,
    data: new Uint8Array(5 * 3 * 3).map((_, i) => (i * 29) % 256),
  };

  it('encodePng gives an 8-bit RGB PNG with the exact pixels', async () => {
    const png = await encodePng(img);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([5, 3, 3]);
    expect(Buffer.from(data).equals(Buffer.from(img.data))).toBe(true);
    expect(await sharp(png).metadata()).toMatchObject({ format: 'png', depth: 'uchar', hasAlpha: false });
  });

  it('writePngAtomic writes pixels and metadata, replaces an existing file and leaves no temp files', async () => {
    const file = path.join(dir, 'out.png');
    fs.writeFileSync(file, 'old contents');
    const text = { prompt: 'Ein Bild von 猫 🐱 „quoted“\nline 2', model: 'UNO' };
    await writePngAtomic(file, img, text);
    expect(fs.readdirSync(dir)).toEqual(['out.png']);
    const { data } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    expect(Buffer.from(data).equals(Buffer.from(img.data))).toBe(true);
    expect(await readPngText(file)).toEqual(text);
  });

  it('writePngAtomic into a missing folder fails clearly', async () => {
    const file = path.join(dir, 'no-such-folder', 'x.png');
    await expect(writePngAtomic(file, img)).rejects.toThrow(/Cannot write .*x\.png: the folder does not exist/);
  });

  it('a failed rename removes the temp file and names the destination', async () => {
    const sub = path.join(dir, 'busy');
    const target = path.join(sub, 'taken.png');
    fs.mkdirSync(target, { recursive: true });
    fs.writeFileSync(path.join(target, 'inside'), 'x'); // a non-empty folder cannot be replaced by a file
    await expect(writePngAtomic(target, img)).rejects.toThrow(/Cannot write .*taken\.png/);
    expect(fs.readdirSync(sub)).toEqual(['taken.png']);
  });

  it('decodedToRgb8 + writePngWithText (the pipeline entry points)', async () => {
    const planes = new Float32Array([1, -1, 0, 0.5, -0.5, 1]); // 1x2 image: R=[1,-1], G=[0,0.5], B=[-0.5,1]
    expect(Array.from(decodedToRgb8(planes, 1, 2, 'uno'))).toEqual([255, 127, 63, 0, 191, 255]);
    expect(() => decodedToRgb8(planes, 2, 2, 'uno')).toThrow(/6 values, expected 3\*2\*2 = 12/);
    const file = path.join(dir, 'pipeline.png');
    await writePngWithText(file, decodedToRgb8(planes, 1, 2, 'omnigen2'), 2, 1, { seed: '42' });
    const { data } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    expect(Array.from(data)).toEqual([255, 128, 64, 0, 191, 255]);
    expect(await readPngText(file)).toEqual({ seed: '42' });
  });

  it('encodePng rejects inconsistent images', async () => {
    await expect(encodePng({ width: 2, height: 2, data: new Uint8Array(5) })).rejects.toThrow(/5 bytes, expected 2\*2\*3 = 12/);
  });
});
