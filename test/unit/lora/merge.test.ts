import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Checkpoint, f32ToBf16Bits, bf16ToF32 } from '../../../electron/engine/runtime/safetensors.js';
import { BakeCache } from '../../../electron/engine/runtime/bake-cache.js';
import { readUnoLora, type UnoLoraTarget } from '../../../electron/engine/lora/uno-lora.js';
import { type LoraScale, bakeUnoLora, mergeUnoLora, scaleInDtype } from '../../../electron/engine/lora/merge.js';
import { BASE_FILE, LORA_FILE, tempDir } from './lora-fixtures.js';

const dir = tempDir('uno-merge-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const base = Checkpoint.open(BASE_FILE);
const loraCk = Checkpoint.open(LORA_FILE);
const lora = readUnoLora(loraCk, base);

/** float64 reference: W + s · up · down on rows [rowStart, rowEnd), with the factors given. */
function reference(t: UnoLoraTarget, down: Float32Array, up: Float32Array, s: number): Float64Array {
  const w = Float64Array.from(base.readFloat32(t.baseKey));
  const [, inF] = t.baseShape;
  const r = lora.rank;
  for (let o = 0; o < t.rowEnd - t.rowStart; o++) {
    for (let i = 0; i < inF; i++) {
      let acc = 0;
      for (let k = 0; k < r; k++) acc += up[o * r + k] * down[k * inF + i];
      w[(t.rowStart + o) * inF + i] += s * acc;
    }
  }
  return w;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const bf16 = (v: number): number => bf16ToF32(Uint16Array.of(f32ToBf16Bits(v)))[0];

/** torch 1.13 CPU `bf16_tensor * weight`: the weight rounded to bf16, float32 product, rounded to bf16. */
function bf16Scaled(x: Float32Array, weight: number): Float32Array {
  const w = bf16(weight);
  return Float32Array.from(x, (v) => bf16(Math.fround(v * w)));
}

async function mergedAll(scale: LoraScale): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for await (const m of mergeUnoLora(lora, loraCk, base, scale)) {
    expect(m.shape).toEqual(base.shape(m.key));
    out.set(m.key, m.data.slice());
  }
  return out;
}

describe('mergeUnoLora', () => {
  it('scale mode equals W + s·up·down (float64 reference) for s = 1 and s = 0.37', async () => {
    for (const s of [1, 0.37]) {
      const merged = await mergedAll({ mode: 'scale', scale: s });
      expect([...merged.keys()]).toEqual(lora.targets.map((t) => t.baseKey));
      let worst = 0;
      let deltaMax = 0;
      for (const t of lora.targets) {
        const ref = reference(t, loraCk.readFloat32(t.downKey), loraCk.readFloat32(t.upKey), s);
        worst = Math.max(worst, maxAbsDiff(merged.get(t.baseKey)!, ref));
        deltaMax = Math.max(deltaMax, maxAbsDiff(ref, base.readFloat32(t.baseKey)));
      }
      console.log(`scale ${s}: max |merged - f64 ref| = ${worst.toExponential(2)}, max |delta| = ${deltaMax.toFixed(4)}`);
      expect(worst).toBeLessThanOrEqual(1e-6);
      expect(deltaMax).toBeGreaterThan(1e-2); // the LoRA really changes the weights
    }
  });

  it('leaves the MLP rows of single-block linear1 bit-identical', async () => {
    const merged = await mergedAll({ mode: 'scale', scale: 1 });
    const key = 'single_blocks.1.linear1.weight';
    const w = base.readFloat32(key);
    const [rows, inF] = base.shape(key);
    const m = merged.get(key)!;
    expect(Array.from(m.subarray(192 * inF, rows * inF))).toEqual(Array.from(w.subarray(192 * inF, rows * inF)));
    expect(maxAbsDiff(m.subarray(0, 192 * inF), w.subarray(0, 192 * inF))).toBeGreaterThan(1e-3);
  });

  it('update_model_with_lora multiplies both factors by the weight rounded to bf16 (weight²)', async () => {
    const weight = 0.7;
    const merged = await mergedAll({ mode: 'update_model_with_lora', weight });
    let worst = 0;
    let unroundedGap = 0;
    for (const t of lora.targets) {
      const down = loraCk.readFloat32(t.downKey);
      const up = loraCk.readFloat32(t.upKey);
      const ref = reference(t, bf16Scaled(down, weight), bf16Scaled(up, weight), 1);
      worst = Math.max(worst, maxAbsDiff(merged.get(t.baseKey)!, ref));
      unroundedGap = Math.max(unroundedGap, maxAbsDiff(merged.get(t.baseKey)!, reference(t, down, up, weight * weight)));
    }
    console.log(`update_model_with_lora 0.7: max |merged - f64 ref| = ${worst.toExponential(2)}; vs unrounded 0.49·up·down: ${unroundedGap.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-6);
    expect(unroundedGap).toBeGreaterThan(1e-5); // the rounding is visible, so the test can tell it is applied
  });

  it('scaleInDtype rounds like torch (float32 product, then the tensor dtype)', () => {
    // bf16(0.7) = 0.69921875; 0.40625 · 0.69921875 rounds to 0.283203125 (0.40625 · 0.7 would give 0.28515625).
    expect(Array.from(scaleInDtype(Float32Array.of(1, -3, 0.40625), 0.7, 'BF16'))).toEqual([0.69921875, -2.09375, 0.283203125]);
    expect(Array.from(scaleInDtype(Float32Array.of(1, 3), 0.7, 'F16'))).toEqual([0.7001953125, 2.1015625]);
    expect(Array.from(scaleInDtype(Float32Array.of(1), 0.7, 'F32'))).toEqual([Math.fround(0.7)]);
  });

  it('rejects a non-finite scale', async () => {
    await expect(mergedAll({ mode: 'scale', scale: NaN })).rejects.toThrow(/LoRA scale/);
  });
});

describe('bakeUnoLora', () => {
  it('bakes the merged tensors into the cache and overlays them on the base', async () => {
    const cache = BakeCache.open({ dir: path.join(dir, 'cache'), maxBytes: 1e9 });
    const merged = await mergedAll({ mode: 'scale', scale: 1 });
    const first = await bakeUnoLora({ base, loraFile: LORA_FILE, precision: 'fp32', cache });
    expect(first.entry.hit).toBe(false);
    for (const [k, v] of merged) {
      expect(first.weights.info(k).file).toBe(first.entry.path);
      expect(first.weights.info(k).dtype).toBe('F32');
      expect(maxAbsDiff(first.weights.readFloat32(k), v)).toBe(0);
    }
    // Everything else still comes from the base checkpoint.
    expect(first.weights.info('img_in.weight').file).toBe(base.info('img_in.weight').file);
    expect(first.weights.keys().sort()).toEqual(base.keys().sort());
    first.entry.release();

    const t0 = performance.now();
    const again = await bakeUnoLora({ base, loraFile: LORA_FILE, precision: 'fp32', cache });
    const hitCallMs = performance.now() - t0;
    expect(again.entry.hit).toBe(true);
    console.log(`tiny LoRA bake (fp32, ${first.entry.bytes} bytes): getOrBake ${first.entry.ms.toFixed(1)} ms; hit: getOrBake ${again.entry.ms.toFixed(2)} ms, whole bakeUnoLora ${hitCallMs.toFixed(1)} ms`);
    expect(again.entry.path).toBe(first.entry.path);
    again.entry.release();

    const bf16 = await bakeUnoLora({ base, loraFile: LORA_FILE, precision: 'bf16', cache });
    expect(bf16.entry.hit).toBe(false);
    expect(bf16.entry.key).not.toBe(first.entry.key);
    const k = 'double_blocks.0.img_attn.qkv.weight';
    expect(bf16.weights.info(k).dtype).toBe('BF16');
    expect(Array.from(bf16.weights.readFloat32(k))).toEqual(Array.from(bf16ToF32(Uint16Array.from(merged.get(k)!, (x) => f32ToBf16Bits(x)))));
    bf16.entry.release();

    const other = await bakeUnoLora({ base, loraFile: LORA_FILE, precision: 'fp32', cache, scale: { mode: 'update_model_with_lora', weight: 0.7 } });
    expect(other.entry.hit).toBe(false);
    other.entry.release();
    expect(cache.list()).toHaveLength(3);
  });
});
