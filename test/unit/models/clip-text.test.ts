// CLIP text encoder: golden parity with HF CLIPTextModel (tiny checkpoint, legacy argmax pooling),
// a full CLIPModel checkpoint, the pooling rules, clear errors, and a graph over a header-only
// checkpoint with the real CLIP-L text shapes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Checkpoint, type TensorToWrite } from '../../../electron/engine/runtime/safetensors.js';
import { type HostTensor, readAllTensors } from '../../../electron/engine/runtime/tensor.js';
import { probeExecutionProviders } from '../../../electron/engine/runtime/sessions.js';
import {
  ClipTextEncoder, buildClipText, clipPoolPositions, readClipTextConfig,
} from '../../../electron/engine/models/clip-text.js';
import { evalClip } from '../../../electron/engine/eval/text-encoders.js';
import { CLIP_L_TEXT_SIZES, clipTextSpec } from '../../../electron/engine/kit/checkpoint-shapes.js';
import { writeHeaderOnlyCheckpoint } from '../../../electron/engine/kit/write-checkpoint.js';
import { GOLDEN_DIR, caseFiles, checkpointCandidates, compareTensors } from '../../helpers/golden.js';
import { rawTensors, writeCheckpointFolder } from '../../helpers/checkpoint-files.js';

const GROUP = path.join(GOLDEN_DIR, 'uno/text_encoders');
const ATOL = 1e-4;
const RTOL = 1e-4;
const OUTPUTS = ['pooler_output', 'last_hidden_state'];

/** `clip_case*.safetensors` files and the `clip_*` checkpoint folder serving them. */
function clipGolden(): { cases: string[]; checkpoint: string } {
  const cases = caseFiles(GROUP).filter((f) => f.startsWith('clip_')).map((f) => path.join(GROUP, f));
  const cks = checkpointCandidates(GROUP).filter((p) => path.basename(p).startsWith('clip_'));
  if (cks.length !== 1) throw new Error(`expected one clip_* checkpoint in ${GROUP}, found ${cks.join(', ') || 'none'}`);
  return { cases, checkpoint: cks[0] };
}

const golden = clipGolden();
let tmp: string;

beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'umo-clip-test-')));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const goldenConfig = () => JSON.parse(fs.readFileSync(path.join(golden.checkpoint, 'config.json'), 'utf8')) as Record<string, unknown>;

function expectClose(actual: HostTensor, expected: HostTensor, label: string): void {
  const c = compareTensors(actual, expected, ATOL, RTOL);
  console.log(`${label} max_err=${c.maxErr.toExponential(2)}`);
  expect(c.count).toBeGreaterThan(0);
  expect(c.ok, `${label}: max error ${c.maxErr}`).toBe(true);
}

describe('CLIP text golden parity (CPU)', () => {
  it('finds the golden cases', () => {
    expect(golden.cases.length).toBeGreaterThan(0);
  });

  it.each(golden.cases.map((c) => [path.basename(c), c]))('%s matches HF pooler_output and last_hidden_state', async (name, caseFile) => {
    const t = readAllTensors(Checkpoint.open(caseFile));
    const out = await evalClip(golden.checkpoint, t, { ep: 'cpu' });
    let compared = 0;
    for (const k of OUTPUTS) {
      if (!t.has(k)) continue;
      expectClose(out.get(k)!, t.get(k)!, `clip ${name} ${k} cpu`);
      compared++;
    }
    expect(compared).toBeGreaterThan(0);
  });
});

describe('checkpoint variants', () => {
  it('a batch of two equals each sequence encoded alone, each pooled at its own position', async () => {
    const enc = await ClipTextEncoder.create(Checkpoint.open(golden.checkpoint), { ep: 'cpu' });
    try {
      const a = BigInt64Array.from([62n, 5n, 17n, 63n, 63n]);
      const b = BigInt64Array.from([62n, 40n, 8n, 9n, 63n]);
      const both = await enc.encode(BigInt64Array.from([...a, ...b]), 2, a.length);
      const ya = await enc.encode(a, 1, a.length);
      const yb = await enc.encode(b, 1, b.length);
      const d = enc.config.hidden;
      const maxDiff = (x: Float32Array, y: Float32Array) => Math.max(...x.map((v, i) => Math.abs(v - y[i])));
      expect(maxDiff(both.pooled.subarray(0, d), ya.pooled)).toBeLessThan(1e-5);
      expect(maxDiff(both.pooled.subarray(d), yb.pooled)).toBeLessThan(1e-5);
      expect(maxDiff(both.hidden.subarray(ya.hidden.length), yb.hidden)).toBeLessThan(1e-5);
      // Causal: the first token's state does not depend on what follows it.
      expect(maxDiff(ya.hidden.subarray(0, d), yb.hidden.subarray(0, d))).toBeLessThan(1e-5);
      expect(maxDiff(ya.hidden.subarray(d, 2 * d), yb.hidden.subarray(d, 2 * d))).toBeGreaterThan(1e-3);
    } finally {
      await enc.release();
    }
  });

  it('a full CLIPModel checkpoint (vision tower, projections, nested text_config) gives the same outputs', async () => {
    const all = rawTensors(Checkpoint.open(golden.checkpoint));
    const zeros = (shape: number[]): TensorToWrite => ({ dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
    all['vision_model.embeddings.patch_embedding.weight'] = zeros([24, 3, 4, 4]);
    all['vision_model.embeddings.class_embedding'] = zeros([24]);
    all['vision_model.encoder.layers.0.self_attn.q_proj.weight'] = zeros([24, 24]);
    all['vision_model.post_layernorm.weight'] = zeros([24]);
    all['visual_projection.weight'] = zeros([16, 24]);
    all['text_projection.weight'] = zeros([16, 32]);
    all['logit_scale'] = zeros([]);
    const textConfig = goldenConfig();
    const dir = writeCheckpointFolder(tmp, 'full-clip', all, {
      architectures: ['CLIPModel'], model_type: 'clip', projection_dim: 16,
      text_config: textConfig,
      vision_config: { hidden_size: 24, num_attention_heads: 2, num_hidden_layers: 1, patch_size: 4, image_size: 8 },
    });
    const cfg = readClipTextConfig(Checkpoint.open(dir));
    expect(cfg.heads).toBe(textConfig.num_attention_heads);
    expect(cfg.source).toContain('text_config');
    for (const caseFile of golden.cases) {
      const t = readAllTensors(Checkpoint.open(caseFile));
      const ref = await evalClip(golden.checkpoint, t, { ep: 'cpu' });
      const full = await evalClip(dir, t, { ep: 'cpu' });
      for (const k of OUTPUTS) expect(Array.from(full.get(k)!.data as Float32Array)).toEqual(Array.from(ref.get(k)!.data as Float32Array));
    }
  });

  it('reads sizes from shapes and settings from config.json', () => {
    const cfg = readClipTextConfig(Checkpoint.open(golden.checkpoint));
    const json = goldenConfig();
    expect(cfg).toMatchObject({
      hidden: json.hidden_size, heads: json.num_attention_heads, intermediate: json.intermediate_size,
      layers: json.num_hidden_layers, vocab: json.vocab_size, maxPositions: json.max_position_embeddings,
      eps: json.layer_norm_eps, activation: json.hidden_act, eosTokenId: json.eos_token_id,
    });
  });

  it('a non-legacy eos_token_id pools at the first position of that id', async () => {
    const all = rawTensors(Checkpoint.open(golden.checkpoint));
    const eos = 7;
    const dir = writeCheckpointFolder(tmp, 'eos-config', all, { ...goldenConfig(), eos_token_id: eos });
    const enc = await ClipTextEncoder.create(Checkpoint.open(dir), { ep: 'cpu' });
    try {
      expect(enc.config.eosTokenId).toBe(eos);
      const d = enc.config.hidden;
      // Largest id (40) at 1, the eos id at 3 and 5: HF pools at 3, argmax would pick 1.
      const ids = BigInt64Array.from([5n, 40n, 9n, 7n, 11n, 7n]);
      const { pooled, hidden } = await enc.encode(ids, 1, ids.length);
      expect(Array.from(pooled)).toEqual(Array.from(hidden.subarray(3 * d, 4 * d)));
      expect(Array.from(pooled)).not.toEqual(Array.from(hidden.subarray(1 * d, 2 * d)));
    } finally {
      await enc.release();
    }
  });
});

describe('pooling positions (HF rules)', () => {
  it('legacy eos_token_id 2: first position of the largest id, per sequence', () => {
    const ids = BigInt64Array.from([3n, 9n, 1n, 9n, /* second row */ 4n, 2n, 8n, 0n]);
    expect(clipPoolPositions(ids, 2, 4, 2)).toEqual([1, 2]);
  });

  it('other eos ids: first occurrence, or 0 when the id is absent', () => {
    const ids = BigInt64Array.from([3n, 49407n, 49407n, 1n, /* second row */ 4n, 5n, 6n, 7n]);
    expect(clipPoolPositions(ids, 2, 4, 49407)).toEqual([1, 0]);
  });
});

describe('errors name the problem', () => {
  it('a missing tensor is named', () => {
    const all = rawTensors(Checkpoint.open(golden.checkpoint));
    delete all['text_model.encoder.layers.1.mlp.fc2.bias'];
    const dir = writeCheckpointFolder(tmp, 'missing-key', all, goldenConfig());
    expect(() => buildClipText(Checkpoint.open(dir))).toThrow(/missing tensor "text_model\.encoder\.layers\.1\.mlp\.fc2\.bias"/);
  });

  it('a wrong shape is named with the expected shape', () => {
    const all = rawTensors(Checkpoint.open(golden.checkpoint));
    const key = 'text_model.encoder.layers.0.self_attn.k_proj.weight';
    const [out, inp] = all[key].shape;
    all[key] = { dtype: 'F32', shape: [out + 4, inp], data: new Float32Array((out + 4) * inp) };
    const dir = writeCheckpointFolder(tmp, 'wrong-shape', all, goldenConfig());
    expect(() => buildClipText(Checkpoint.open(dir))).toThrow(
      new RegExp(`"${key.replace(/\./g, '\\.')}" has shape \\[${out + 4}, ${inp}\\], expected \\[${out}, ${inp}\\]`));
  });

  it('a checkpoint without the text tower is refused', () => {
    const dir = writeCheckpointFolder(tmp, 'vision-only', { 'vision_model.post_layernorm.weight': { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
    expect(() => readClipTextConfig(Checkpoint.open(dir))).toThrow(/missing tensor "text_model\.embeddings\.token_embedding\.weight"; not a CLIP text checkpoint/);
  });

  it('without config.json heads come from head_dim 64, and a width that does not split is refused', () => {
    expect(() => readClipTextConfig(Checkpoint.open(golden.checkpoint), { configFile: null })).toThrow(/hidden size 32 cannot be split into 0\.5 attention heads/);
  });

  it('sequences longer than the position table and ids outside the vocabulary are refused', async () => {
    const enc = await ClipTextEncoder.create(Checkpoint.open(golden.checkpoint), { ep: 'cpu' });
    try {
      const n = enc.config.maxPositions + 1;
      await expect(enc.encode(new BigInt64Array(n), 1, n)).rejects.toThrow(`sequence length ${n} exceeds the ${n - 1} positions`);
      await expect(enc.encode(BigInt64Array.from([-1n]), 1, 1)).rejects.toThrow(/token id -1 at position 0 is outside the vocabulary/);
    } finally {
      await enc.release();
    }
  });
});

describe('real CLIP-L text shapes (header-only sparse checkpoint, no config.json)', () => {
  it('reads the sizes and builds the graph', () => {
    const file = path.join(tmp, 'clip-l-header-only.safetensors');
    writeHeaderOnlyCheckpoint(file, clipTextSpec(CLIP_L_TEXT_SIZES, 'F16'));
    const ck = Checkpoint.open(file);
    const cfg = readClipTextConfig(ck);
    expect(cfg).toMatchObject({
      vocab: 49408, maxPositions: 77, hidden: 768, heads: 12, intermediate: 3072, layers: 12,
      eps: 1e-5, activation: 'quick_gelu', eosTokenId: 2,
    });
    const built = buildClipText(ck, { config: cfg });
    expect(built.externalBytes).toBe(2 * ck.parameterCount());
    expect(built.inputNames).toEqual(['input_ids', 'position_ids']);
    expect(built.outputNames).toEqual(['last_hidden_state']);
  });
});

const webgpuWorks = (await probeExecutionProviders()).some((p) => p.ep === 'webgpu' && p.works);

describe.skipIf(!webgpuWorks)('WebGPU (CPU fallback disabled)', () => {
  it('runs the golden case', async () => {
    const t = readAllTensors(Checkpoint.open(golden.cases[0]));
    const out = await evalClip(golden.checkpoint, t, { ep: 'webgpu' });
    for (const k of OUTPUTS) if (t.has(k)) expectClose(out.get(k)!, t.get(k)!, `clip ${k} webgpu`);
  });
});
