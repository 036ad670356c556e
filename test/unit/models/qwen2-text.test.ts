// Qwen2.5-VL language model (text only): golden parity with HF Qwen2_5_VLForConditionalGeneration
// hidden states (tiny checkpoint, CPU and WebGPU), text-only M-RoPE positions, padding masks,
// checkpoint/config variants, clear errors, and a graph over a header-only checkpoint with the
// real Qwen2.5-VL-3B shapes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Checkpoint, type TensorToWrite } from '../../../electron/engine/runtime/safetensors.js';
import { type HostTensor, type TensorMap, f32, readAllTensors } from '../../../electron/engine/runtime/tensor.js';
import { probeExecutionProviders } from '../../../electron/engine/runtime/sessions.js';
import {
  Qwen2TextModel, buildQwen2Text, qwen2AttentionBias, qwen2RopeCache, qwen2TextPositions, readQwen2TextConfig,
} from '../../../electron/engine/models/qwen2-text.js';
import { evalQwen2Text } from '../../../electron/engine/eval/qwen2-text.js';
import { QWEN25VL_3B_SIZES, qwen25VlConfigJson, qwen25VlSpec } from '../../../electron/engine/kit/qwen25vl-shapes.js';
import { writeHeaderOnlyCheckpoint } from '../../../electron/engine/kit/write-checkpoint.js';
import { elementCount } from '../../../electron/engine/runtime/safetensors.js';
import { GOLDEN_DIR, compareTensors } from '../../helpers/golden.js';
import { rawTensors, writeCheckpointFolder } from '../../helpers/checkpoint-files.js';

const GROUP = path.join(GOLDEN_DIR, 'omnigen2/qwen25vl');
const CHECKPOINT = path.join(GROUP, 'tiny');
const CASE = path.join(GROUP, 'case_text_only.safetensors');
const ATOL = 1e-4;
const RTOL = 1e-4;

const golden: TensorMap = readAllTensors(Checkpoint.open(CASE));
const goldenMask = golden.get('attention_mask')!.data as BigInt64Array;
const goldenIds = golden.get('input_ids')!;
const [B, L] = goldenIds.shape;
const goldenConfig = () => JSON.parse(fs.readFileSync(path.join(CHECKPOINT, 'config.json'), 'utf8')) as Record<string, unknown>;

let tmp: string;
beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'umo-qwen2-test-')));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The [B, L, D] rows of `t` where `mask` is 1, as one [n, D] tensor. */
function validRows(t: HostTensor, mask: ArrayLike<bigint | number>): HostTensor {
  const d = t.shape[2];
  const rows: number[] = [];
  for (let i = 0; i < mask.length; i++) if (Number(mask[i]) === 1) rows.push(i);
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, k) => out.set((t.data as Float32Array).subarray(r * d, (r + 1) * d), k * d));
  return f32(out, [rows.length, d]);
}

async function withModel<T>(checkpoint: string, fn: (m: Qwen2TextModel) => Promise<T>): Promise<T> {
  const m = await Qwen2TextModel.create(Checkpoint.open(checkpoint), { ep: 'cpu' });
  try {
    return await fn(m);
  } finally {
    await m.release();
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('golden parity (CPU)', () => {
  it('hidden_states_last matches HF at valid positions; hidden_states_first is the exact embedding', async () => {
    const out = await evalQwen2Text(CHECKPOINT, golden, { ep: 'cpu' });
    const last = out.get('hidden_states_last')!;
    expect(last.shape).toEqual([B, L, 64]);
    const c = compareTensors(validRows(last, goldenMask), validRows(golden.get('hidden_states_last')!, goldenMask), ATOL, RTOL);
    // Padded positions are deterministic too; with HF's positions (1) and masks they also match.
    const all = compareTensors(last, golden.get('hidden_states_last')!, ATOL, RTOL);
    console.log(`qwen25vl text cpu max_err valid=${c.maxErr.toExponential(2)} all=${all.maxErr.toExponential(2)}`);
    expect(c.count).toBe(11 * 64);
    expect(c.ok, `max error ${c.maxErr}`).toBe(true);
    expect(all.ok, `max error incl. padding ${all.maxErr}`).toBe(true);
    const first = compareTensors(out.get('hidden_states_first')!, golden.get('hidden_states_first')!, 0, 0);
    expect(first.ok, `embedding max error ${first.maxErr}`).toBe(true);
  });

  it('attention_mask defaults to all ones (row 0 of the golden case has no padding)', async () => {
    const row0 = new Map([['input_ids', { ...goldenIds, data: (goldenIds.data as BigInt64Array).slice(0, L), shape: [1, L] }]]);
    const out = await evalQwen2Text(CHECKPOINT, row0, { ep: 'cpu' });
    const exp = (golden.get('hidden_states_last')!.data as Float32Array).subarray(0, L * 64);
    const c = compareTensors(out.get('hidden_states_last')!, f32(exp.slice(), [1, L, 64]), ATOL, RTOL);
    expect(c.ok, `max error ${c.maxErr}`).toBe(true);
  });
});

describe('text-only M-RoPE positions and masks', () => {
  it('positions and rope deltas equal HF get_rope_index (all three components)', () => {
    const { positionIds, ropeDeltas, maxPosition } = qwen2TextPositions(goldenMask, B, L);
    const g = golden.get('position_ids')!;
    expect(g.shape).toEqual([3, B, L]);
    const gp = Array.from(g.data as BigInt64Array, Number);
    for (let c = 0; c < 3; c++) expect(gp.slice(c * B * L, (c + 1) * B * L)).toEqual(Array.from(positionIds, Number));
    expect(Array.from(ropeDeltas, Number)).toEqual(Array.from(golden.get('rope_deltas')!.data as BigInt64Array, Number));
    expect(maxPosition).toBe(L - 1);
  });

  it('left padding: valid tokens count from 0 and a row with no visible key attends to all', () => {
    const { positionIds, ropeDeltas } = qwen2TextPositions([0, 0, 1, 1], 1, 4);
    expect(Array.from(positionIds, Number)).toEqual([1, 1, 0, 1]);
    expect(Number(ropeDeltas[0])).toBe(-2);
    const bias = qwen2AttentionBias([0, 0, 1, 1], 1, 4);
    const lo = -3.4028234663852886e38;
    expect(Array.from(bias)).toEqual([0, 0, 0, 0, /* row 1 sees nothing either */ 0, 0, 0, 0, lo, lo, 0, lo, lo, lo, 0, 0]);
  });

  it('the RoPE cache holds cos/sin of pos / θ^(2k/d) (float32 angles)', () => {
    const { cos, sin, rows } = qwen2RopeCache(1001, 128, 1e6);
    expect(rows).toBe(1001);
    expect(cos[0]).toBe(1);
    expect(sin[5]).toBe(0);
    for (const [p, k] of [[1, 0], [7, 3], [1000, 10], [999, 63]]) {
      const angle = p / 1e6 ** ((2 * k) / 128);
      expect(Math.abs(cos[p * 64 + k] - Math.cos(angle))).toBeLessThan(2e-4);
      expect(Math.abs(sin[p * 64 + k] - Math.sin(angle))).toBeLessThan(2e-4);
    }
  });

  it('a padded batch equals each sequence alone at its valid positions (right and left padding)', async () => {
    await withModel(CHECKPOINT, async (m) => {
      const a = [10n, 11n, 12n, 13n, 14n, 15n, 16n];
      const s = [20n, 21n, 22n, 23n];
      const alone = await m.encode(BigInt64Array.from(s), [1, 1, 1, 1], 1, 4);
      const aAlone = await m.encode(BigInt64Array.from(a), new Array(7).fill(1), 1, 7);
      const right = await m.encode(BigInt64Array.from([...a, ...s, 157n, 157n, 157n]), [...new Array(7).fill(1), 1, 1, 1, 1, 0, 0, 0], 2, 7);
      const left = await m.encode(BigInt64Array.from([157n, 157n, 157n, ...s]), [0, 0, 0, 1, 1, 1, 1], 1, 7);
      const d = 64;
      expect(maxAbsDiff(right.subarray(0, 7 * d), aAlone)).toBeLessThan(1e-5);
      expect(maxAbsDiff(right.subarray(7 * d, 11 * d), alone)).toBeLessThan(1e-5);
      expect(maxAbsDiff(left.subarray(3 * d), alone)).toBeLessThan(1e-5);
      // Without the padding mask the padded row would differ: the mask is doing something.
      const unmasked = await m.encode(BigInt64Array.from([157n, 157n, 157n, ...s]), new Array(7).fill(1), 1, 7);
      expect(maxAbsDiff(unmasked.subarray(3 * d), alone)).toBeGreaterThan(1e-2);
    });
  });

  it('a longer sequence (40 tokens) is causal: a prefix gives the same states', async () => {
    await withModel(CHECKPOINT, async (m) => {
      const ids = BigInt64Array.from({ length: 40 }, (_, i) => BigInt((i * 37 + 5) % 150));
      const full = await m.encode(ids, new Array(40).fill(1), 1, 40);
      const prefix = await m.encode(ids.slice(0, 25), new Array(25).fill(1), 1, 25);
      expect(maxAbsDiff(full.subarray(0, 25 * 64), prefix)).toBeLessThan(1e-5);
    });
  });
});

describe('checkpoint and config variants', () => {
  it('reads sizes from shapes and settings from config.json', () => {
    const cfg = readQwen2TextConfig(Checkpoint.open(CHECKPOINT));
    expect(cfg).toMatchObject({
      vocab: 160, hidden: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 16, intermediate: 128,
      eps: 1e-6, ropeTheta: 1e6, activation: 'silu', prefix: 'model.',
    });
  });

  it('newer layout: model.language_model.* keys and a nested text_config give the same output', async () => {
    const all = rawTensors(Checkpoint.open(path.join(CHECKPOINT, 'model.safetensors')));
    const renamed: Record<string, TensorToWrite> = {};
    for (const [k, v] of Object.entries(all)) {
      const nk = k.startsWith('model.') ? `model.language_model.${k.slice(6)}` : k.startsWith('visual.') ? `model.${k}` : k;
      renamed[nk] = v;
    }
    const json = goldenConfig();
    const textKeys = ['hidden_size', 'intermediate_size', 'num_attention_heads', 'num_hidden_layers', 'num_key_value_heads',
      'rms_norm_eps', 'rope_theta', 'rope_scaling', 'vocab_size', 'hidden_act'];
    const nested: Record<string, unknown> = { ...json, text_config: Object.fromEntries(textKeys.map((k) => [k, json[k]])) };
    for (const k of textKeys) delete nested[k];
    const dir = writeCheckpointFolder(tmp, 'new-layout', renamed, nested);
    const cfg = readQwen2TextConfig(Checkpoint.open(dir));
    expect(cfg).toMatchObject({ prefix: 'model.language_model.', heads: 4, kvHeads: 2, ropeTheta: 1e6 });
    const out = await evalQwen2Text(dir, golden, { ep: 'cpu' });
    const c = compareTensors(validRows(out.get('hidden_states_last')!, goldenMask), validRows(golden.get('hidden_states_last')!, goldenMask), ATOL, RTOL);
    expect(c.ok, `max error ${c.maxErr}`).toBe(true);
  });

  it('a text_config value takes precedence over the top level', () => {
    const all = rawTensors(Checkpoint.open(path.join(CHECKPOINT, 'model.safetensors')));
    const dir = writeCheckpointFolder(tmp, 'nested-eps', all, { ...goldenConfig(), text_config: { rms_norm_eps: 1e-5, rope_theta: 10000 } });
    expect(readQwen2TextConfig(Checkpoint.open(dir))).toMatchObject({ eps: 1e-5, ropeTheta: 10000 });
  });
});

describe('errors name the problem', () => {
  const base = () => rawTensors(Checkpoint.open(path.join(CHECKPOINT, 'model.safetensors')));

  it('a missing tensor is named', () => {
    const all = base();
    delete all['model.layers.1.mlp.up_proj.weight'];
    const dir = writeCheckpointFolder(tmp, 'missing-key', all, goldenConfig());
    expect(() => buildQwen2Text(Checkpoint.open(dir))).toThrow(/missing tensor "model\.layers\.1\.mlp\.up_proj\.weight"/);
  });

  it('a missing q/k/v bias is named', () => {
    const all = base();
    delete all['model.layers.0.self_attn.k_proj.bias'];
    const dir = writeCheckpointFolder(tmp, 'missing-bias', all, goldenConfig());
    expect(() => buildQwen2Text(Checkpoint.open(dir))).toThrow(/missing tensor "model\.layers\.0\.self_attn\.k_proj\.bias"/);
  });

  it('a wrong shape is named with the expected shape', () => {
    const all = base();
    const key = 'model.layers.1.self_attn.o_proj.weight';
    all[key] = { dtype: 'F32', shape: [64, 48], data: new Float32Array(64 * 48) };
    const dir = writeCheckpointFolder(tmp, 'wrong-shape', all, goldenConfig());
    expect(() => buildQwen2Text(Checkpoint.open(dir))).toThrow(/"model\.layers\.1\.self_attn\.o_proj\.weight" has shape \[64, 48\], expected \[64, 64\]/);
  });

  it('a checkpoint without the embedding is refused', () => {
    const all = base();
    delete all['model.embed_tokens.weight'];
    const dir = writeCheckpointFolder(tmp, 'no-embedding', all, goldenConfig());
    expect(() => readQwen2TextConfig(Checkpoint.open(dir))).toThrow(/neither "model\.embed_tokens\.weight" nor "model\.language_model\.embed_tokens\.weight"/);
  });

  it('no config.json: the head counts cannot be known', () => {
    const dir = writeCheckpointFolder(tmp, 'no-config', base());
    expect(() => readQwen2TextConfig(Checkpoint.open(dir))).toThrow(/no config\.json beside the checkpoint; .*num_attention_heads/);
  });

  it('config head counts that disagree with the weights are named', () => {
    const d1 = writeCheckpointFolder(tmp, 'bad-kv', base(), { ...goldenConfig(), num_key_value_heads: 4 });
    expect(() => readQwen2TextConfig(Checkpoint.open(d1))).toThrow(/"num_key_value_heads" is 4 but "model\.layers\.0\.self_attn\.k_proj\.weight" has 32 rows = 2 heads of 16/);
    const d2 = writeCheckpointFolder(tmp, 'bad-layers', base(), { ...goldenConfig(), num_hidden_layers: 3 });
    expect(() => readQwen2TextConfig(Checkpoint.open(d2))).toThrow(/"num_hidden_layers" is 3 but .* gives 2/);
    const d3 = writeCheckpointFolder(tmp, 'bad-heads', base(), { ...goldenConfig(), num_attention_heads: 5 });
    expect(() => readQwen2TextConfig(Checkpoint.open(d3))).toThrow(/"num_attention_heads" is 5, which does not divide the 64 output rows/);
  });

  it('unsupported RoPE scaling and sliding windows are refused', () => {
    const d1 = writeCheckpointFolder(tmp, 'yarn', base(), { ...goldenConfig(), rope_scaling: { rope_type: 'yarn', factor: 4 } });
    expect(() => readQwen2TextConfig(Checkpoint.open(d1))).toThrow(/"rope_scaling" type "yarn" is not supported/);
    const d2 = writeCheckpointFolder(tmp, 'bad-mrope', base(), { ...goldenConfig(), rope_scaling: { type: 'default', mrope_section: [2, 3, 4] } });
    expect(() => readQwen2TextConfig(Checkpoint.open(d2))).toThrow(/mrope_section.*summing to head_dim\/2 = 8/);
    const d3 = writeCheckpointFolder(tmp, 'sliding', base(), { ...goldenConfig(), use_sliding_window: true });
    expect(() => readQwen2TextConfig(Checkpoint.open(d3))).toThrow(/"use_sliding_window" is true/);
  });

  it('bad ids and masks are refused before running', async () => {
    await withModel(CHECKPOINT, async (m) => {
      await expect(m.encode(BigInt64Array.from([1n, 160n]), [1, 1], 1, 2)).rejects.toThrow('token id 160 at position 1 is outside the vocabulary [0, 160)');
      await expect(m.encode(BigInt64Array.from([1n, 2n]), [1, 2], 1, 2)).rejects.toThrow(/mask value 2 at position 1 is not 0 or 1/);
      await expect(m.encode(BigInt64Array.from([1n, 2n]), [1], 1, 2)).rejects.toThrow(/attention mask has 1 values, expected batch 1 × length 2/);
    });
  });

  it('the eval adapter refuses the image+text case instead of silently ignoring the image', async () => {
    const withImage = readAllTensors(Checkpoint.open(path.join(GROUP, 'case_image_text.safetensors')));
    await expect(evalQwen2Text(CHECKPOINT, withImage, { ep: 'cpu' })).rejects.toThrow(/input "pixel_values" given, but only the text-only path is implemented/);
  });

  it('the eval adapter checks the mask shape', async () => {
    const bad = new Map(golden);
    bad.set('attention_mask', { dtype: 'int64', shape: [B, L - 1], data: new BigInt64Array(B * (L - 1)) });
    await expect(evalQwen2Text(CHECKPOINT, bad, { ep: 'cpu' })).rejects.toThrow(/"attention_mask" has shape \[2, 6\], expected \[2, 7\]/);
  });
});

describe('real Qwen2.5-VL-3B shapes (header-only sparse checkpoint)', () => {
  it('reads the sizes and builds the text graph without reading weight data, ignoring visual.*', () => {
    const dir = path.join(tmp, 'mllm');
    fs.mkdirSync(dir);
    const spec = qwen25VlSpec(QWEN25VL_3B_SIZES);
    const size = writeHeaderOnlyCheckpoint(path.join(dir, 'model.safetensors'), spec);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(qwen25VlConfigJson(QWEN25VL_3B_SIZES)));
    expect(size).toBeGreaterThan(7e9);
    const ck = Checkpoint.open(dir);
    const cfg = readQwen2TextConfig(ck);
    expect(cfg).toMatchObject({
      vocab: 151936, hidden: 2048, layers: 36, heads: 16, kvHeads: 2, headDim: 128, intermediate: 11008,
      eps: 1e-6, ropeTheta: 1e6, activation: 'silu', prefix: 'model.',
    });
    const built = buildQwen2Text(ck, { config: cfg });
    const textParams = Object.entries(spec).filter(([k]) => k.startsWith('model.')).reduce((n, [, s]) => n + elementCount(s.shape), 0);
    expect(textParams).toBeGreaterThan(3.0e9);
    // Every language-model tensor is used once, as external bf16 data; the vision tower is not.
    expect(built.externalBytes).toBe(2 * textParams);
    expect(built.inputNames).toEqual(['input_ids', 'position_ids', 'rope_cos', 'rope_sin', 'attention_bias']);
    expect(built.outputNames).toEqual(['inputs_embeds', 'last_hidden_state']);
    expect(built.bytes.length).toBeLessThan(2_000_000);
    // The same sizes through a nested text_config.
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(qwen25VlConfigJson(QWEN25VL_3B_SIZES, { nestedTextConfig: true })));
    expect(readQwen2TextConfig(Checkpoint.open(dir))).toMatchObject({ heads: 16, kvHeads: 2, layers: 36, ropeTheta: 1e6 });
  });
});

const webgpuWorks = (await probeExecutionProviders()).some((p) => p.ep === 'webgpu' && p.works);

describe.skipIf(!webgpuWorks)('WebGPU (CPU fallback disabled)', () => {
  it('matches the golden case at valid positions', async () => {
    const out = await evalQwen2Text(CHECKPOINT, golden, { ep: 'webgpu' });
    const c = compareTensors(validRows(out.get('hidden_states_last')!, goldenMask), validRows(golden.get('hidden_states_last')!, goldenMask), ATOL, RTOL);
    console.log(`qwen25vl text webgpu max_err=${c.maxErr.toExponential(2)}`);
    expect(c.ok, `max error ${c.maxErr}`).toBe(true);
    expect(compareTensors(out.get('hidden_states_first')!, golden.get('hidden_states_first')!, 0, 0).ok).toBe(true);
  });

  it('agrees with CPU on a 40-token padded batch (unfused attention, GQA expansion)', async () => {
    const ids = BigInt64Array.from({ length: 80 }, (_, i) => BigInt((i * 53 + 3) % 157));
    const mask = Array.from({ length: 80 }, (_, i) => (i < 40 + 29 ? 1 : 0)); // row 0 full, row 1 has 29 tokens
    const m = await Qwen2TextModel.create(Checkpoint.open(CHECKPOINT), { ep: 'webgpu' });
    let gpu: Float32Array;
    try {
      gpu = await m.encode(ids, mask, 2, 40);
    } finally {
      await m.release();
    }
    const cpu = await withModel(CHECKPOINT, (c) => c.encode(ids, mask, 2, 40));
    const c = compareTensors(validRows(f32(gpu, [2, 40, 64]), mask), validRows(f32(cpu, [2, 40, 64]), mask), ATOL, RTOL);
    console.log(`qwen25vl text webgpu vs cpu (2x40) max_err=${c.maxErr.toExponential(2)}`);
    expect(c.ok, `max error ${c.maxErr}`).toBe(true);
  });
});
