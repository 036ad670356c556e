// Query-chunked unfused attention (`queryChunks`) against the one-pass unfused graph: same
// numbers (≤ 1e-6) for 2, 3 and S chunks, for lengths not divisible by the chunk count and
// shorter than it, with a T5-style bias, a causal mask and a key padding mask; once on WebGPU.
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../electron/engine/runtime/graph.js';
import { type ExecutionProvider, createSession, probeExecutionProviders } from '../../../electron/engine/runtime/sessions.js';
import { type AttentionOptions, attention } from '../../../electron/engine/models/attention.js';
import { SeededRandom } from '../../../electron/engine/kit/write-checkpoint.js';

const HEADS = 2;
const HEAD_DIM = 8;
const W = HEADS * HEAD_DIM;
const MAX_LEN = 77;

type Variant = 'plain' | 'bias' | 'causal' | 'key-padding';

interface Case { variant: Variant; batch: number; seq: number }

function feedsFor(c: Case, seed: number): Record<string, ort.Tensor> {
  const rng = new SeededRandom(seed);
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const n = c.batch * c.seq * W;
  const T = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
  const feeds: Record<string, ort.Tensor> = {
    q: T(rand(n), [c.batch, c.seq, W]), k: T(rand(n), [c.batch, c.seq, W]), v: T(rand(n), [c.batch, c.seq, W]),
  };
  if (c.variant === 'bias') feeds.bias = T(rand(HEADS * c.seq * c.seq), [1, HEADS, c.seq, c.seq]);
  if (c.variant === 'key-padding') {
    // Batch row r keeps its first seq − r keys.
    const keep = Int32Array.from({ length: c.batch * c.seq }, (_, i) => (i % c.seq < c.seq - Math.floor(i / c.seq) ? 1 : 0));
    feeds.keep = new ort.Tensor('int32', keep, [c.batch, c.seq]);
  }
  return feeds;
}

async function run(c: Case, chunks: number | undefined, ep: ExecutionProvider, feeds: Record<string, ort.Tensor>): Promise<{ out: Float32Array; nodes: string }> {
  const b = new GraphBuilder(`attention_${c.variant}_${chunks ?? 'whole'}`);
  const q = b.input('q', 'float32', ['batch', 'seq', W]);
  const k = b.input('k', 'float32', ['batch', 'seq', W]);
  const v = b.input('v', 'float32', ['batch', 'seq', W]);
  const opts: AttentionOptions = { kind: 'unfused', heads: HEADS, headDim: HEAD_DIM, queryChunks: chunks };
  if (c.variant === 'bias') opts.bias = b.input('bias', 'float32', [1, HEADS, 'seq', 'seq']);
  if (c.variant === 'causal') opts.causal = { maxLength: MAX_LEN };
  if (c.variant === 'key-padding') opts.keyPaddingMask = b.input('keep', 'int32', ['batch', 'seq']);
  b.output(attention(b, q, k, v, opts), 'out', 'float32', ['batch', 'seq', W]);
  const model = b.build();
  const session = await createSession(model, { ep });
  try {
    const r = await session.run(feeds, ['out']);
    expect(r.out.dims).toEqual([c.batch, c.seq, W]);
    return { out: r.out.data as Float32Array, nodes: Buffer.from(model.bytes).toString('latin1') };
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const CASES: Case[] = [
  { variant: 'plain', batch: 2, seq: 7 },
  { variant: 'bias', batch: 1, seq: 7 },
  { variant: 'causal', batch: 2, seq: 7 },
  { variant: 'key-padding', batch: 3, seq: 7 },
];

describe('query-chunked unfused attention equals the one-pass graph (CPU)', () => {
  for (const c of CASES) {
    for (const chunks of [2, 3, c.seq, 11]) {
      it(`${c.variant}, batch ${c.batch}, S = ${c.seq}, ${chunks} chunks`, async () => {
        const feeds = feedsFor(c, 100 + chunks);
        const whole = await run(c, undefined, 'cpu', feeds);
        const chunked = await run(c, chunks, 'cpu', feeds);
        const d = maxAbsDiff(chunked.out, whole.out);
        console.log(`attention chunks ${c.variant} S=${c.seq} N=${chunks} cpu max_diff=${d.toExponential(2)}`);
        expect(d).toBeLessThanOrEqual(1e-6);
        // The chunked graph really has one scores MatMul per chunk.
        expect(chunked.nodes).toContain(`MatMul_qk_chunk${chunks - 1}`);
        expect(chunked.nodes).not.toContain(`MatMul_qk_chunk${chunks}`);
        expect(whole.nodes).not.toContain('_chunk');
      });
    }
  }

  it('one chunk builds the unchunked graph exactly', () => {
    const build = (chunks: number | undefined) => {
      const b = new GraphBuilder('same');
      const q = b.input('q', 'float32', [1, 'seq', W]);
      b.output(attention(b, q, q, q, { kind: 'unfused', heads: HEADS, headDim: HEAD_DIM, queryChunks: chunks }), 'out', 'float32', [1, 'seq', W]);
      return Buffer.from(b.build().bytes);
    };
    expect(build(1).equals(build(undefined))).toBe(true);
  });

  it('options are checked', () => {
    const b = new GraphBuilder('bad');
    const q = b.input('q', 'float32', [1, 'seq', W]);
    expect(() => attention(b, q, q, q, { kind: 'unfused', heads: HEADS, headDim: HEAD_DIM, queryChunks: 0 })).toThrow('queryChunks must be a positive integer, got 0');
    expect(() => attention(b, q, q, q, { kind: 'unfused', heads: HEADS, headDim: HEAD_DIM, queryChunks: 2.5 })).toThrow('queryChunks must be a positive integer');
    expect(() => attention(b, q, q, q, { kind: 'unfused', heads: HEADS, scale: 1, queryChunks: 2 })).toThrow('query chunks need headDim');
  });
});

const webgpuWorks = (await probeExecutionProviders()).some((p) => p.ep === 'webgpu' && p.works);

describe.skipIf(!webgpuWorks)('query-chunked unfused attention on WebGPU (CPU fallback disabled)', () => {
  for (const variant of ['bias', 'causal'] as const) {
    it(`${variant}, S = 37, 3 chunks, matches the one-pass graph on CPU`, async () => {
      const c: Case = { variant, batch: 1, seq: 37 };
      const feeds = feedsFor(c, 5);
      const cpu = await run(c, undefined, 'cpu', feeds);
      const gpu = await run(c, 3, 'webgpu', feeds);
      const d = maxAbsDiff(gpu.out, cpu.out);
      console.log(`attention chunks ${variant} S=37 N=3 webgpu vs cpu max_diff=${d.toExponential(2)}`);
      expect(d).toBeLessThanOrEqual(1e-5);
    });
  }
});
