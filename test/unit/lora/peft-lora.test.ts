// The UMO OmniGen2 LoRA (PEFT keys) merged through the bake cache, against the golden
// omnigen2/lora vectors: fused attention weights for alpha = r, alpha/r scaling, key-format
// variants, and clear errors for files that do not match the base.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Checkpoint, type TensorToWrite, writeSafetensorsFile } from '../../../electron/engine/runtime/safetensors.js';
import { BakeCache } from '../../../electron/engine/runtime/bake-cache.js';
import {
  PeftLoraFormatError, bakePeftLora, omnigen2LoraTargets, peftLoraMultiplier, readPeftLora,
} from '../../../electron/engine/lora/peft-lora.js';
import { GOLDEN_DIR } from '../../helpers/golden.js';
import { BASE_FILE as FLUX_BASE_FILE, LORA_FILE as UNO_LORA_FILE, rawTensors, tempDir } from './lora-fixtures.js';

const LORA_DIR = path.join(GOLDEN_DIR, 'omnigen2/lora');
const LORA_FILE = path.join(LORA_DIR, 'umo_style_lora_tiny_bf16.safetensors');
const config = JSON.parse(fs.readFileSync(path.join(LORA_DIR, 'config.json'), 'utf8')) as {
  LoraConfig: { r: number; lora_alpha: number; target_modules: string[] };
  alt_lora_alpha: number;
  n_keys: number;
  shapes: Record<string, number[]>;
};
// The base the golden was fused into: the tiny transformer of the omnigen2 group.
const BASE_DIR = path.join(GOLDEN_DIR, 'omnigen2/transformer/tiny');
const base = Checkpoint.open(BASE_DIR);
const fused = Checkpoint.open(path.join(LORA_DIR, 'fused_attn_weights_alpha_eq_r.safetensors'));

const dir = tempDir('peft-lora-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const cache = BakeCache.open({ dir: path.join(dir, 'cache'), maxBytes: 1e9 });

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A copy of the golden LoRA with its tensors edited (keys renamed, removed, replaced). */
function editedLora(name: string, edit: (t: Record<string, TensorToWrite>) => Record<string, TensorToWrite> | void): string {
  const t = rawTensors(LORA_FILE);
  const file = path.join(dir, name);
  writeSafetensorsFile(file, edit(t) ?? t);
  return file;
}

function renamed(rename: (k: string) => string): (t: Record<string, TensorToWrite>) => Record<string, TensorToWrite> {
  return (t) => Object.fromEntries(Object.entries(t).map(([k, v]) => [rename(k), v]));
}

function f32Tensor(shape: number[], fill = 0.01): TensorToWrite {
  return { dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill) };
}

function expectFormatError(fn: () => unknown, file: string, ...patterns: RegExp[]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(PeftLoraFormatError);
  const msg = (err as Error).message;
  expect(msg.startsWith(file)).toBe(true);
  for (const p of patterns) expect(msg).toMatch(p);
}

describe('PEFT LoRA on the OmniGen2 transformer (golden omnigen2/lora)', () => {
  it('finds every attention projection of every block in the base as a target', () => {
    const targets = omnigen2LoraTargets(base);
    expect(targets.length * 2).toBe(config.n_keys);
    const lora = readPeftLora(Checkpoint.open(LORA_FILE), base);
    expect(lora.rank).toBe(config.LoraConfig.r);
    expect(lora.format).toEqual({ prefix: '', adapter: 'default' });
    expect(lora.dtypes).toEqual(['BF16']);
    expect(lora.targets.map((t) => t.baseKey).sort()).toEqual(fused.keys().sort());
    for (const t of lora.targets) {
      expect(config.shapes[t.aKey]).toEqual([lora.rank, t.baseShape[1]]);
      expect(config.shapes[t.bKey]).toEqual([t.baseShape[0], lora.rank]);
    }
  });

  it('alpha = r (the file has no alpha): merged weights match fuse_lora + unload_lora', async () => {
    expect(config.LoraConfig.lora_alpha).toBe(config.LoraConfig.r);
    const bake = await bakePeftLora({ base, loraFile: LORA_FILE, precision: 'fp32', cache });
    try {
      let worst = 0;
      for (const key of fused.keys()) {
        expect(bake.weights.info(key).dtype).toBe('F32');
        const err = maxAbsDiff(bake.weights.readFloat32(key), fused.readFloat32(key));
        worst = Math.max(worst, err);
        expect(err, key).toBeLessThanOrEqual(1e-5);
        // The LoRA really changes the weight (the test can fail).
        expect(maxAbsDiff(base.readFloat32(key), fused.readFloat32(key))).toBeGreaterThan(1e-3);
      }
      console.log(`fused attention weights (${fused.keys().length} tensors): max |err| ${worst.toExponential(2)}`);
      // Everything else comes from the base unchanged.
      const other = base.keys().find((k) => !fused.keys().includes(k))!;
      expect(bake.weights.info(other).file).toBe(base.info(other).file);
      expect(bake.entry.hit).toBe(false);
    } finally {
      bake.entry.release();
    }
    const again = await bakePeftLora({ base, loraFile: LORA_FILE, alpha: config.LoraConfig.r, scale: 1, precision: 'fp32', cache });
    expect(again.entry.hit).toBe(true); // alpha = r given explicitly is the same bake
    again.entry.release();
  });

  it('alpha = 2r doubles the update (alpha/r scale)', async () => {
    expect(peftLoraMultiplier(4, { alpha: 8 })).toBe(2);
    expect(peftLoraMultiplier(4, { alpha: 8, scale: 0.5 })).toBe(1);
    const bake = await bakePeftLora({ base, loraFile: LORA_FILE, alpha: config.alt_lora_alpha, precision: 'fp32', cache });
    try {
      let worst = 0;
      for (const key of fused.keys()) {
        const w = base.readFloat32(key);
        const f = fused.readFloat32(key);
        const expected = Float32Array.from(w, (x, i) => x + 2 * (f[i] - x));
        worst = Math.max(worst, maxAbsDiff(bake.weights.readFloat32(key), expected));
      }
      console.log(`alpha = 2r: max |err| vs W + 2·(fused − W) ${worst.toExponential(2)}`);
      expect(worst).toBeLessThanOrEqual(1e-5);
    } finally {
      bake.entry.release();
    }
  });

  it('bf16 bakes hold the fp32 merge rounded to bf16', async () => {
    const bake = await bakePeftLora({ base, loraFile: LORA_FILE, precision: 'bf16', cache });
    try {
      const key = fused.keys()[0];
      expect(bake.weights.info(key).dtype).toBe('BF16');
      const got = bake.weights.readFloat32(key);
      const want = fused.readFloat32(key);
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(Math.abs(want[i]) * 2 ** -8 + 1e-6);
    } finally {
      bake.entry.release();
    }
  });

  it('key-format variants (no adapter name, ComfyUI diffusion_model. prefix, diffusers transformer. prefix) give identical merges', async () => {
    const variants = {
      'no-adapter.safetensors': (k: string) => k.replace('.default.', '.'),
      'comfyui.safetensors': (k: string) => `diffusion_model.${k.replace('.default.', '.')}`,
      'comfy-default.safetensors': (k: string) => `diffusion_model.${k}`,
      'diffusers.safetensors': (k: string) => `transformer.${k.replace('.default.', '.')}`,
    };
    const ref = await bakePeftLora({ base, loraFile: LORA_FILE, precision: 'fp32', cache });
    try {
      for (const [name, fn] of Object.entries(variants)) {
        const file = editedLora(name, renamed(fn));
        const bake = await bakePeftLora({ base, loraFile: file, precision: 'fp32', cache });
        try {
          expect(bake.lora.targets.length).toBe(ref.lora.targets.length);
          for (const key of fused.keys()) expect(maxAbsDiff(bake.weights.readFloat32(key), ref.weights.readFloat32(key)), `${name} ${key}`).toBe(0);
        } finally {
          bake.entry.release();
        }
      }
    } finally {
      ref.entry.release();
    }
  });
});

describe('PEFT LoRA validation errors (modified copies of the golden LoRA)', () => {
  const A = 'layers.1.attn.to_v.lora_A.default.weight';
  const B = 'layers.1.attn.to_v.lora_B.default.weight';

  it('missing pair member', () => {
    const file = editedLora('missing.safetensors', (t) => { delete t[B]; });
    expectFormatError(() => readPeftLora(Checkpoint.open(file), base), file, /missing key "layers\.1\.attn\.to_v\.lora_B\.default\.weight" \(expected shape \[32, 4\]/);
  });
  it('a whole block missing', () => {
    const file = editedLora('missing-block.safetensors', (t) => {
      for (const k of Object.keys(t)) if (k.startsWith('noise_refiner.0.')) delete t[k];
    });
    expectFormatError(() => readPeftLora(Checkpoint.open(file), base), file, /8 problems/, /missing key "noise_refiner\.0\.attn\.to_k\.lora_A\.default\.weight"/);
  });
  it('unexpected keys: a block the base does not have, a module that is not a target, a foreign key', () => {
    const file = editedLora('unexpected.safetensors', (t) => {
      t['layers.7.attn.to_q.lora_A.default.weight'] = f32Tensor([4, 64]);
      t['layers.0.feed_forward.linear_1.lora_A.default.weight'] = f32Tensor([4, 64]);
      t['layers.0.attn.to_q.alpha'] = f32Tensor([]);
    });
    expectFormatError(() => readPeftLora(Checkpoint.open(file), base), file,
      /unexpected key "layers\.7\.attn\.to_q\.lora_A\.default\.weight": block "layers\.7" does not exist in the base/,
      /unexpected key "layers\.0\.feed_forward\.linear_1\.lora_A\.default\.weight"/,
      /unexpected key "layers\.0\.attn\.to_q\.alpha": per-module alpha/);
  });
  it('rank mismatch', () => {
    const file = editedLora('rank.safetensors', (t) => {
      t[A] = f32Tensor([3, 64]);
      t[B] = f32Tensor([32, 3]);
    });
    expectFormatError(() => readPeftLora(Checkpoint.open(file), base), file,
      /"layers\.1\.attn\.to_v\.lora_A\.default\.weight" has rank 3 \(shape \[3, 64\]\), but the other pairs have rank 4/,
      /"layers\.1\.attn\.to_v\.lora_B\.default\.weight" has rank 3/);
  });
  it('shape mismatch against the base', () => {
    const file = editedLora('shape.safetensors', (t) => { t[A] = f32Tensor([4, 48]); });
    expectFormatError(() => readPeftLora(Checkpoint.open(file), base), file,
      /"layers\.1\.attn\.to_v\.lora_A\.default\.weight" has shape \[4, 48\], expected \[4, 64\] \(base "layers\.1\.attn\.to_v\.weight" is \[32, 64\]\)/);
  });
  it('wrong dtype', () => {
    const file = editedLora('dtype.safetensors', (t) => { t[A] = { dtype: 'I32', shape: [4, 64], data: new Int32Array(256) }; });
    expectFormatError(() => readPeftLora(Checkpoint.open(file), base), file, /"layers\.1\.attn\.to_v\.lora_A\.default\.weight" has dtype I32/);
  });
  it('mixed key formats', () => {
    const file = editedLora('mixed.safetensors', (t) => {
      const v = t[A];
      delete t[A];
      t[`diffusion_model.${A.replace('.default.', '.')}`] = v;
    });
    expectFormatError(() => readPeftLora(Checkpoint.open(file), base), file, /keys mix formats: 1 key\(s\) like "diffusion_model\.layers\.1\.attn\.to_v\.lora_A\.weight"/, /missing key "layers\.1\.attn\.to_v\.lora_A\.default\.weight"/);
  });
  it('an unknown prefix is named', () => {
    const file = editedLora('prefix.safetensors', renamed((k) => `base_model.model.${k}`));
    expectFormatError(() => readPeftLora(Checkpoint.open(file), base), file, /unknown key prefix "base_model\.model\." before "/);
  });
  it('a UNO processor LoRA is not taken for a PEFT LoRA', () => {
    expectFormatError(() => readPeftLora(Checkpoint.open(UNO_LORA_FILE), base), UNO_LORA_FILE, /a UNO processor LoRA key/, /none of its \d+ keys is a PEFT LoRA factor/);
  });
  it('a base that is not an OmniGen2 transformer', () => {
    expect(() => readPeftLora(Checkpoint.open(LORA_FILE), Checkpoint.open(FLUX_BASE_FILE))).toThrow(/not an OmniGen2 transformer with diffusers key names/);
  });
  it('bad alpha / scale and non-finite factors', async () => {
    expect(() => peftLoraMultiplier(4, { alpha: 0 })).toThrow(/alpha must be a positive finite number/);
    expect(() => peftLoraMultiplier(4, { scale: Infinity })).toThrow(/scale must be a finite number/);
    const file = editedLora('nan.safetensors', (t) => { t[A] = f32Tensor([4, 64], NaN); });
    await expect(bakePeftLora({ base, loraFile: file, precision: 'fp32', cache })).rejects.toThrow(/"layers\.1\.attn\.to_v\.lora_A\.default\.weight" holds a non-finite value/);
    expect(cache.list().every((e) => fs.existsSync(e.path))).toBe(true);
  });
});
