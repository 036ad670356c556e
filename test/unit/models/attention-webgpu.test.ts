// Attention on WebGPU: ORT 1.30's WebGPU MultiHeadAttention is wrong from sequence length 32 on
// (lavapipe). The `attention` helper's default per EP must avoid it. Checked three ways:
// - the helper's graph (plain, T5-style bias, CLIP-style causal) against a float64 JS reference,
//   both forms on CPU and the default form on WebGPU, at S = 64 (and the fused form on WebGPU is
//   shown to be wrong there, so the comparison has teeth);
// - T5 and CLIP text encoders with seeded random weights at realistic lengths (T5 512 tokens,
//   CLIP 77), WebGPU with the default attention against CPU.
// Widths are tiny so lavapipe stays fast.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../electron/engine/runtime/graph.js';
import { Checkpoint } from '../../../electron/engine/runtime/safetensors.js';
import { type ExecutionProvider, createSession, probeExecutionProviders } from '../../../electron/engine/runtime/sessions.js';
import { type AttentionKind, type AttentionOptions, attention, defaultAttentionFor } from '../../../electron/engine/models/attention.js';
import { T5Encoder } from '../../../electron/engine/models/t5-encoder.js';
import { ClipTextEncoder } from '../../../electron/engine/models/clip-text.js';
import { clipTextSpec, t5EncoderSpec } from '../../../electron/engine/kit/checkpoint-shapes.js';
import { SeededRandom, writeRandomCheckpoint } from '../../../electron/engine/kit/write-checkpoint.js';

const ATOL = 1e-4;
const RTOL = 1e-4;

/** Largest |a - b| and whether every element is within atol + rtol·|b|. */
function compare(actual: Float32Array, expected: ArrayLike<number>): { maxErr: number; ok: boolean } {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let maxErr = 0;
  let ok = true;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= ATOL + RTOL * Math.abs(expected[i]))) ok = false;
    if (!(d <= maxErr)) maxErr = d;
  }
  return { maxErr, ok };
}

function randomArray(n: number, rng: SeededRandom, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => scale * rng.normal());
}

const webgpuWorks = (await probeExecutionProviders()).some((p) => p.ep === 'webgpu' && p.works);

describe('defaultAttentionFor', () => {
  it('is unfused on WebGPU and fused elsewhere', () => {
    expect(defaultAttentionFor('webgpu')).toBe('unfused');
    expect(defaultAttentionFor('cpu')).toBe('fused');
  });
});

// ---------------------------------------------------------------------------------------------
// The helper alone, against a float64 reference

const S = 64;
const HEADS = 2;
const HEAD_DIM = 8;
const MAX_LEN = 77; // causal mask table larger than S: exercises the slicing

type Variant = 'plain' | 'bias' | 'causal';
const VARIANTS: Variant[] = ['plain', 'bias', 'causal'];

interface Problem {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  /** [1, heads, S, S] */
  bias: Float32Array;
}

const problem: Problem = (() => {
  const rng = new SeededRandom(7);
  const n = S * HEADS * HEAD_DIM;
  return { q: randomArray(n, rng), k: randomArray(n, rng), v: randomArray(n, rng), bias: randomArray(HEADS * S * S, rng, 0.5) };
})();

function optionsFor(variant: Variant, kind: AttentionKind): AttentionOptions {
  if (variant === 'bias') return { kind, heads: HEADS, scale: 1, headDim: HEAD_DIM };
  if (variant === 'causal') return { kind, heads: HEADS, headDim: HEAD_DIM, causal: { maxLength: MAX_LEN } };
  return { kind, heads: HEADS, headDim: HEAD_DIM };
}

/** softmax(scale q kᵀ + bias [+ causal]) v in float64, [S, heads·head_dim]. */
function reference(p: Problem, variant: Variant): Float64Array {
  const W = HEADS * HEAD_DIM;
  const scale = variant === 'bias' ? 1 : 1 / Math.sqrt(HEAD_DIM);
  const out = new Float64Array(S * W);
  const row = new Float64Array(S);
  for (let h = 0; h < HEADS; h++) {
    for (let i = 0; i < S; i++) {
      let max = -Infinity;
      const keys = variant === 'causal' ? i + 1 : S;
      for (let j = 0; j < keys; j++) {
        let dot = 0;
        for (let d = 0; d < HEAD_DIM; d++) dot += p.q[i * W + h * HEAD_DIM + d] * p.k[j * W + h * HEAD_DIM + d];
        row[j] = scale * dot + (variant === 'bias' ? p.bias[(h * S + i) * S + j] : 0);
        max = Math.max(max, row[j]);
      }
      let sum = 0;
      for (let j = 0; j < keys; j++) {
        row[j] = Math.exp(row[j] - max);
        sum += row[j];
      }
      for (let j = 0; j < keys; j++) {
        for (let d = 0; d < HEAD_DIM; d++) out[i * W + h * HEAD_DIM + d] += (row[j] / sum) * p.v[j * W + h * HEAD_DIM + d];
      }
    }
  }
  return out;
}

async function runHelper(variant: Variant, kind: AttentionKind, ep: ExecutionProvider): Promise<Float32Array> {
  const b = new GraphBuilder(`attention_${variant}_${kind}`);
  const W = HEADS * HEAD_DIM;
  const q = b.input('q', 'float32', [1, 'seq', W]);
  const k = b.input('k', 'float32', [1, 'seq', W]);
  const v = b.input('v', 'float32', [1, 'seq', W]);
  const opts = optionsFor(variant, kind);
  if (variant === 'bias') opts.bias = b.input('bias', 'float32', [1, HEADS, 'seq', 'seq']);
  b.output(attention(b, q, k, v, opts), 'out', 'float32', [1, 'seq', W]);
  const session = await createSession(b.build(), { ep });
  try {
    const T = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
    const feeds: Record<string, ort.Tensor> = { q: T(problem.q, [1, S, W]), k: T(problem.k, [1, S, W]), v: T(problem.v, [1, S, W]) };
    if (variant === 'bias') feeds.bias = T(problem.bias, [1, HEADS, S, S]);
    return (await session.run(feeds, ['out'])).out.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe(`attention helper at S = ${S} against a float64 reference (CPU)`, () => {
  for (const variant of VARIANTS) {
    for (const kind of ['fused', 'unfused'] as const) {
      it(`${variant}, ${kind}`, async () => {
        const c = compare(await runHelper(variant, kind, 'cpu'), reference(problem, variant));
        console.log(`attention ${variant} ${kind} cpu max_err=${c.maxErr.toExponential(2)}`);
        expect(c.ok, `max error ${c.maxErr}`).toBe(true);
      });
    }
  }

  it('a causal graph refuses a sequence longer than its mask table', async () => {
    const b = new GraphBuilder('attention_causal_too_long');
    const q = b.input('q', 'float32', [1, 'seq', HEAD_DIM]);
    b.output(attention(b, q, q, q, { kind: 'unfused', heads: 1, headDim: HEAD_DIM, causal: { maxLength: 4 } }), 'out', 'float32', [1, 'seq', HEAD_DIM]);
    const session = await createSession(b.build(), { ep: 'cpu' });
    try {
      const x = new ort.Tensor('float32', new Float32Array(5 * HEAD_DIM), [1, 5, HEAD_DIM]);
      await expect(session.run({ q: x }, ['out'])).rejects.toThrow(/run failed/);
    } finally {
      await session.release();
    }
  });

  it('options are checked', () => {
    const b = new GraphBuilder('attention_bad_options');
    const q = b.input('q', 'float32', [1, 'seq', HEAD_DIM]);
    expect(() => attention(b, q, q, q, { kind: 'unfused', heads: 0, headDim: HEAD_DIM })).toThrow('heads must be a positive integer, got 0');
    expect(() => attention(b, q, q, q, { kind: 'unfused', heads: 1 })).toThrow('needs headDim (or an explicit scale)');
    expect(() => attention(b, q, q, q, { kind: 'unfused', heads: 1, headDim: 8, causal: { maxLength: 0 } })).toThrow('causal.maxLength');
    expect(() => attention(b, q, q, q, { kind: 'flash' as AttentionKind, heads: 1, headDim: 8 })).toThrow('unknown kind "flash"');
  });
});

describe.skipIf(!webgpuWorks)(`attention helper at S = ${S} on WebGPU (CPU fallback disabled)`, () => {
  for (const variant of VARIANTS) {
    it(`${variant}, default kind (${defaultAttentionFor('webgpu')}) matches the reference`, async () => {
      const c = compare(await runHelper(variant, defaultAttentionFor('webgpu'), 'webgpu'), reference(problem, variant));
      console.log(`attention ${variant} default webgpu max_err=${c.maxErr.toExponential(2)}`);
      expect(c.ok, `max error ${c.maxErr}`).toBe(true);
    });
  }

  // The reason for the default: if this starts failing, ORT's WebGPU MultiHeadAttention has become
  // correct at this length and `defaultAttentionFor('webgpu')` can be revisited.
  it('fused MultiHeadAttention is wrong there (the bug the default avoids)', async () => {
    const c = compare(await runHelper('plain', 'fused', 'webgpu'), reference(problem, 'plain'));
    console.log(`attention plain fused webgpu max_err=${c.maxErr.toExponential(2)}`);
    expect(c.maxErr).toBeGreaterThan(1e-2);
  });
});

// ---------------------------------------------------------------------------------------------
// Text encoders at realistic lengths, random weights

let tmp: string;
beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'umo-attention-test-')));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function randomIds(n: number, vocab: number, seed: number): BigInt64Array {
  const rng = new SeededRandom(seed);
  return BigInt64Array.from({ length: n }, () => BigInt(Math.floor(rng.uniform() * vocab)));
}

describe.skipIf(!webgpuWorks)('text encoders on WebGPU (default attention) match CPU at realistic lengths', () => {
  it('T5 encoder, 512 tokens (relative-position bias)', async () => {
    const dir = path.join(tmp, 't5');
    fs.mkdirSync(dir);
    const vocab = 100;
    writeRandomCheckpoint(path.join(dir, 'model.safetensors'),
      t5EncoderSpec({ vocab, dModel: 32, heads: 4, dKv: 8, dFf: 64, layers: 2, buckets: 32 }, 'F32'), 11);
    const len = 512;
    const ids = randomIds(len, vocab, 12);
    const run = async (ep: ExecutionProvider) => {
      const enc = await T5Encoder.create(Checkpoint.open(dir), { ep });
      try {
        return await enc.encode(ids, 1, len);
      } finally {
        await enc.release();
      }
    };
    const cpu = await run('cpu');
    const gpu = await run('webgpu');
    const c = compare(gpu, cpu);
    console.log(`t5 ${len} tokens webgpu vs cpu max_err=${c.maxErr.toExponential(2)}`);
    expect(c.ok, `max error ${c.maxErr}`).toBe(true);
  });

  it('CLIP text encoder, 77 tokens, batch 2 (causal)', async () => {
    const dir = path.join(tmp, 'clip');
    fs.mkdirSync(dir);
    const vocab = 120;
    writeRandomCheckpoint(path.join(dir, 'model.safetensors'),
      clipTextSpec({ vocab, positions: 77, hidden: 32, intermediate: 64, layers: 2 }, 'F32'), 21);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ num_attention_heads: 4, hidden_act: 'quick_gelu', eos_token_id: 2 }));
    const len = 77;
    const ids = randomIds(2 * len, vocab, 22);
    const run = async (ep: ExecutionProvider) => {
      const enc = await ClipTextEncoder.create(Checkpoint.open(dir), { ep });
      try {
        return await enc.encode(ids, 2, len);
      } finally {
        await enc.release();
      }
    };
    const cpu = await run('cpu');
    const gpu = await run('webgpu');
    for (const k of ['hidden', 'pooled'] as const) {
      const c = compare(gpu[k], cpu[k]);
      console.log(`clip ${len} tokens ${k} webgpu vs cpu max_err=${c.maxErr.toExponential(2)}`);
      expect(c.ok, `${k}: max error ${c.maxErr}`).toBe(true);
    }
  });
});
