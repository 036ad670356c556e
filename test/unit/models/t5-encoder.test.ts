// T5 encoder: golden parity with HF T5EncoderModel (tiny v1.1 checkpoint), relative-position
// buckets, checkpoint variants (sharded, embed_tokens), clear errors, and a graph over a
// header-only checkpoint with the real T5-XXL encoder shapes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Checkpoint, writeSafetensorsFile } from '../../../electron/engine/runtime/safetensors.js';
import { f32, readAllTensors } from '../../../electron/engine/runtime/tensor.js';
import { probeExecutionProviders } from '../../../electron/engine/runtime/sessions.js';
import {
  T5Encoder, buildT5Encoder, readT5EncoderConfig, t5RelativePositionBuckets,
} from '../../../electron/engine/models/t5-encoder.js';
import { evalT5 } from '../../../electron/engine/eval/text-encoders.js';
import { T5_XXL_SIZES, t5EncoderSpec } from '../../../electron/engine/kit/checkpoint-shapes.js';
import { writeHeaderOnlyCheckpoint } from '../../../electron/engine/kit/write-checkpoint.js';
import { GOLDEN_DIR, caseFiles, checkpointCandidates, compareTensors } from '../../helpers/golden.js';
import { rawTensors, writeCheckpointFolder } from '../../helpers/checkpoint-files.js';

const GROUP = path.join(GOLDEN_DIR, 'uno/text_encoders');
const ATOL = 1e-4;
const RTOL = 1e-4;

/** `t5_case*.safetensors` files and the `t5_*` checkpoint folder serving them. */
function t5Golden(): { cases: string[]; checkpoint: string } {
  const cases = caseFiles(GROUP).filter((f) => f.startsWith('t5_')).map((f) => path.join(GROUP, f));
  const cks = checkpointCandidates(GROUP).filter((p) => path.basename(p).startsWith('t5_'));
  if (cks.length !== 1) throw new Error(`expected one t5_* checkpoint in ${GROUP}, found ${cks.join(', ') || 'none'}`);
  return { cases, checkpoint: cks[0] };
}

const golden = t5Golden();
let tmp: string;

beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'umo-t5-test-')));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const goldenConfig = () => JSON.parse(fs.readFileSync(path.join(golden.checkpoint, 'config.json'), 'utf8')) as Record<string, unknown>;

async function encodeWith(checkpoint: string, ids: BigInt64Array, batch: number, len: number): Promise<Float32Array> {
  const enc = await T5Encoder.create(Checkpoint.open(checkpoint), { ep: 'cpu' });
  try {
    return await enc.encode(ids, batch, len);
  } finally {
    await enc.release();
  }
}

describe('T5 encoder golden parity (CPU)', () => {
  it('finds the golden cases', () => {
    expect(golden.cases.length).toBeGreaterThan(0);
  });

  it.each(golden.cases.map((c) => [path.basename(c), c]))('%s matches HF last_hidden_state', async (_name, caseFile) => {
    const t = readAllTensors(Checkpoint.open(caseFile));
    const out = await evalT5(golden.checkpoint, t, { ep: 'cpu' });
    const c = compareTensors(out.get('last_hidden_state')!, t.get('last_hidden_state')!, ATOL, RTOL);
    console.log(`t5 ${path.basename(caseFile)} cpu max_err=${c.maxErr.toExponential(2)}`);
    expect(c.count).toBeGreaterThan(0);
    expect(c.ok, `max error ${c.maxErr}`).toBe(true);
  });
});

describe('relative position buckets', () => {
  // HF bidirectional rule, 32 buckets, max distance 128: 16 per direction, exact below 8,
  // 8 + floor(log(d/8)/log(16)*8) beyond, capped at 15; keys after the query add 16.
  const expected: Array<[number, number]> = [
    [0, 0], [-1, 1], [-7, 7], [-8, 8], [-12, 9], [-16, 10], [-31, 11], [-32, 12], [-63, 13], [-64, 14],
    [-90, 14], [-100, 15], [-127, 15], [-128, 15], [-500, 15],
    [1, 17], [7, 23], [8, 24], [16, 26], [64, 30], [128, 31], [500, 31],
  ];
  it.each(expected)('key - query = %i -> bucket %i', (rel, bucket) => {
    const len = Math.abs(rel) + 1;
    const table = t5RelativePositionBuckets(len, len, 32, 128);
    // rel > 0: query 0, key rel; rel < 0: query |rel|, key 0.
    const at = rel >= 0 ? rel : Math.abs(rel) * len;
    expect(Number(table[at])).toBe(bucket);
  });

  it('is a Toeplitz table of shape [q, k]', () => {
    const t = t5RelativePositionBuckets(5, 7, 32, 128);
    expect(t.length).toBe(35);
    expect(Number(t[2 * 7 + 4])).toBe(Number(t[0 * 7 + 2]));
  });
});

describe('checkpoint variants', () => {
  it('a batch of two equals each sequence encoded alone (bias broadcast over the batch)', async () => {
    const enc = await T5Encoder.create(Checkpoint.open(golden.checkpoint), { ep: 'cpu' });
    try {
      const a = BigInt64Array.from([5n, 17n, 3n, 99n, 1n, 0n, 0n]);
      const b = BigInt64Array.from([42n, 8n, 8n, 1n, 0n, 0n, 0n]);
      const both = await enc.encode(BigInt64Array.from([...a, ...b]), 2, a.length);
      const ya = await enc.encode(a, 1, a.length);
      const yb = await enc.encode(b, 1, b.length);
      const n = ya.length;
      expect(Math.max(...both.subarray(0, n).map((v, i) => Math.abs(v - ya[i])))).toBeLessThan(1e-5);
      expect(Math.max(...both.subarray(n).map((v, i) => Math.abs(v - yb[i])))).toBeLessThan(1e-5);
    } finally {
      await enc.release();
    }
  });

  it('a sharded checkpoint (index + 2 shards) gives the same output as the single file', async () => {
    const t = readAllTensors(Checkpoint.open(golden.cases[0]));
    const ids = t.get('input_ids')!;
    const [batch, len] = ids.shape;
    const all = rawTensors(Checkpoint.open(golden.checkpoint));
    const dir = path.join(tmp, 'sharded');
    fs.mkdirSync(dir);
    const keys = Object.keys(all).sort();
    const shards = [keys.slice(0, 9), keys.slice(9)];
    const weightMap: Record<string, string> = {};
    shards.forEach((ks, i) => {
      const name = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensorsFile(path.join(dir, name), Object.fromEntries(ks.map((k) => [k, all[k]])));
      for (const k of ks) weightMap[k] = name;
    });
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(goldenConfig()));
    const single = await encodeWith(golden.checkpoint, ids.data as BigInt64Array, batch, len);
    const sharded = await encodeWith(dir, ids.data as BigInt64Array, batch, len);
    expect(Array.from(sharded)).toEqual(Array.from(single));
    const c = compareTensors(f32(sharded, [...t.get('last_hidden_state')!.shape]), t.get('last_hidden_state')!, ATOL, RTOL);
    expect(c.ok).toBe(true);
  });

  it('accepts encoder.embed_tokens.weight when shared.weight is absent', async () => {
    const t = readAllTensors(Checkpoint.open(golden.cases[0]));
    const ids = t.get('input_ids')!;
    const all = rawTensors(Checkpoint.open(golden.checkpoint));
    all['encoder.embed_tokens.weight'] = all['shared.weight'];
    delete all['shared.weight'];
    const dir = writeCheckpointFolder(tmp, 'embed-tokens', all, goldenConfig());
    expect(readT5EncoderConfig(Checkpoint.open(dir)).embeddingKey).toBe('encoder.embed_tokens.weight');
    const y = await encodeWith(dir, ids.data as BigInt64Array, ids.shape[0], ids.shape[1]);
    const c = compareTensors(f32(y, [...t.get('last_hidden_state')!.shape]), t.get('last_hidden_state')!, ATOL, RTOL);
    expect(c.ok, `max error ${c.maxErr}`).toBe(true);
  });

  it('reads sizes from shapes and settings from config.json', () => {
    const cfg = readT5EncoderConfig(Checkpoint.open(golden.checkpoint));
    const json = goldenConfig();
    expect(cfg).toMatchObject({
      dModel: json.d_model, heads: json.num_heads, dKv: json.d_kv, dFf: json.d_ff, layers: json.num_layers,
      vocab: json.vocab_size, numBuckets: json.relative_attention_num_buckets, maxDistance: json.relative_attention_max_distance,
      eps: json.layer_norm_epsilon, gated: true, activation: 'gelu_new',
    });
  });
});

describe('errors name the problem', () => {
  it('a missing tensor is named', () => {
    const all = rawTensors(Checkpoint.open(golden.checkpoint));
    delete all['encoder.block.1.layer.1.DenseReluDense.wo.weight'];
    const dir = writeCheckpointFolder(tmp, 'missing-key', all);
    expect(() => buildT5Encoder(Checkpoint.open(dir))).toThrow(/missing tensor "encoder\.block\.1\.layer\.1\.DenseReluDense\.wo\.weight"/);
  });

  it('a wrong shape is named with the expected shape', () => {
    const all = rawTensors(Checkpoint.open(golden.checkpoint));
    const key = 'encoder.block.1.layer.0.SelfAttention.o.weight';
    const [out, inp] = all[key].shape;
    all[key] = { dtype: 'F32', shape: [out, inp - 8], data: new Float32Array(out * (inp - 8)) };
    const dir = writeCheckpointFolder(tmp, 'wrong-shape', all);
    expect(() => buildT5Encoder(Checkpoint.open(dir))).toThrow(
      new RegExp(`"${key.replace(/\./g, '\\.')}" has shape \\[${out}, ${inp - 8}\\], expected \\[${out}, ${inp}\\]`));
  });

  it('a checkpoint without an embedding is refused', () => {
    const all = rawTensors(Checkpoint.open(golden.checkpoint));
    delete all['shared.weight'];
    const dir = writeCheckpointFolder(tmp, 'no-embedding', all);
    expect(() => readT5EncoderConfig(Checkpoint.open(dir))).toThrow(/neither "shared\.weight" nor "encoder\.embed_tokens\.weight"/);
  });

  it('a config.json that disagrees with the weights names the field', () => {
    const all = rawTensors(Checkpoint.open(golden.checkpoint));
    const dir = writeCheckpointFolder(tmp, 'bad-config', all, { ...goldenConfig(), num_heads: 8 });
    expect(() => readT5EncoderConfig(Checkpoint.open(dir))).toThrow(/config\.json: "num_heads" is 8 but .*relative_attention_bias.* gives 4/);
  });

  it('token ids outside the vocabulary are refused before running', async () => {
    const enc = await T5Encoder.create(Checkpoint.open(golden.checkpoint), { ep: 'cpu' });
    try {
      const vocab = enc.config.vocab;
      await expect(enc.encode(BigInt64Array.from([1n, BigInt(vocab)]), 1, 2)).rejects.toThrow(`token id ${vocab} at position 1 is outside the vocabulary [0, ${vocab})`);
      await expect(enc.encode(BigInt64Array.from([1n, 2n, 3n]), 1, 2)).rejects.toThrow(/3 token ids, expected batch 1 × length 2/);
    } finally {
      await enc.release();
    }
  });
});

describe('real T5-XXL encoder shapes (header-only sparse checkpoint)', () => {
  it('reads the sizes and builds the graph without reading weight data', () => {
    const file = path.join(tmp, 't5xxl-header-only.safetensors');
    const size = writeHeaderOnlyCheckpoint(file, t5EncoderSpec(T5_XXL_SIZES));
    expect(size).toBeGreaterThan(9e9);
    const ck = Checkpoint.open(file);
    const cfg = readT5EncoderConfig(ck);
    expect(cfg).toMatchObject({
      vocab: 32128, dModel: 4096, heads: 64, dKv: 64, dFf: 10240, layers: 24, numBuckets: 32,
      maxDistance: 128, eps: 1e-6, gated: true, activation: 'gelu_new',
    });
    const built = buildT5Encoder(ck, { config: cfg });
    // Every tensor of the checkpoint is used once, as external bf16 data.
    expect(built.externalBytes).toBe(2 * ck.parameterCount());
    expect(ck.parameterCount()).toBeGreaterThan(4.7e9);
    expect(built.inputNames).toEqual(['input_ids', 'position_buckets']);
    expect(built.outputNames).toEqual(['last_hidden_state']);
    // Every weight is external data: the model bytes stay small.
    expect(built.bytes.length).toBeLessThan(2_000_000);
  });
});

const webgpuWorks = (await probeExecutionProviders()).some((p) => p.ep === 'webgpu' && p.works);

describe.skipIf(!webgpuWorks)('WebGPU (CPU fallback disabled)', () => {
  it('runs the golden case', async () => {
    const t = readAllTensors(Checkpoint.open(golden.cases[0]));
    const out = await evalT5(golden.checkpoint, t, { ep: 'webgpu' });
    const c = compareTensors(out.get('last_hidden_state')!, t.get('last_hidden_state')!, ATOL, RTOL);
    console.log(`t5 webgpu max_err=${c.maxErr.toExponential(2)}`);
    expect(c.ok, `max error ${c.maxErr}`).toBe(true);
  });
});
