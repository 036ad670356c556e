// torch CPU randn: stream semantics (scalar path with its cache, recomputed tail, draw order),
// seeds, the unoNoise API, and extra bit-exact checks against randn draws recorded in other golden
// groups. The get_noise.json / full-tensor parity lives in test/parity/uno-noise.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { Checkpoint } from '../../../electron/engine/runtime/safetensors.js';
import { TorchGenerator, torchSeedLow32 } from '../../../electron/engine/sampling/torch-generator.js';
import { torchRandn, unoNoise, unoNoiseShape } from '../../../electron/engine/sampling/torch-randn.js';
import { roundArrayToBf16 } from '../../../electron/engine/sampling/bf16.js';
import { GOLDEN_DIR } from '../../helpers/golden.js';

const gen = (seed: number | bigint) => new TorchGenerator(seed);
const mismatches = (a: Float32Array, b: Float32Array) => {
  if (a.length !== b.length) return Infinity;
  let bad = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) bad++;
  return bad;
};
const concat = (...parts: Float32Array[]) => {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};

describe('mt19937 as torch seeds it', () => {
  test('first outputs equal the reference MT19937 (seed 5489 gives 3499211612, 581869302, ...)', () => {
    const g = gen(5489);
    expect([g.random(), g.random(), g.random()]).toEqual([3499211612, 581869302, 3890346734]);
  });

  test('the 10000th output for seed 5489 is 4123659995 (C++ std::mt19937 conformance value)', () => {
    const g = gen(5489);
    g.skip(9999);
    expect(g.random()).toBe(4123659995);
  });

  test('torch keeps only the low 32 bits of a 64-bit seed', () => {
    expect(mismatches(torchRandn(gen(2 ** 32 + 7), [40], 'float32'), torchRandn(gen(7), [40], 'float32'))).toBe(0);
    expect(torchSeedLow32(2n ** 64n - 1n)).toBe(0xffffffff);
    expect(torchSeedLow32(Number.MAX_SAFE_INTEGER)).toBe(0xffffffff);
    expect(mismatches(torchRandn(gen(123n), [20], 'bfloat16'), torchRandn(gen(123), [20], 'bfloat16'))).toBe(0);
  });

  test('bad seeds are refused with a clear error', () => {
    expect(() => gen(-1)).toThrow(/seed must be a whole number from 0/);
    expect(() => gen(1.5)).toThrow(/seed must be a whole number/);
    expect(() => gen(2 ** 53)).toThrow(/pass a bigint/);
    expect(() => gen(Number.NaN)).toThrow(/seed must be/);
    expect(() => gen(2n ** 64n)).toThrow(/2\^64 - 1/);
    expect(() => gen(-1n)).toThrow(/seed must be/);
  });

  test('clone() copies the position and the normal cache', () => {
    const g = gen(11);
    torchRandn(g, [3], 'float32'); // leaves a cached sample
    const c = g.clone();
    expect(mismatches(torchRandn(c, [5], 'float32'), torchRandn(g, [5], 'float32'))).toBe(0);
    expect(c.random()).toBe(g.random());
  });
});

describe('scalar path (< 16 elements): at::normal_distribution<double> with its cached sample', () => {
  // Widely published torch outputs (printed to 4 decimals): manual_seed(0) / (42), then randn(n).
  const published: Array<[number, number[]]> = [
    [0, [1.541, -0.2934, -2.1788, 0.5684, -1.0845, -1.3986, 0.4033, 0.838]],
    [42, [0.3367, 0.1288, 0.2345, 0.2303, -1.1229, -0.1863, 2.2082, -0.638, 0.4617, 0.2674, 0.5349, 0.8094]],
  ];
  test.each(published)('seed %i matches the published values', (seed, values) => {
    const ours = torchRandn(gen(seed), [values.length], 'float32');
    values.forEach((v, i) => expect(Math.abs(ours[i] - v)).toBeLessThanOrEqual(5e-5));
  });

  test('odd sizes carry the cached sample into the next draw (randn(3), randn(3) == randn(6))', () => {
    const g = gen(42);
    const split = concat(torchRandn(g, [3], 'float32'), torchRandn(g, [3], 'float32'));
    expect(g.nextDoubleNormal).toBeNull();
    expect(mismatches(split, torchRandn(gen(42), [6], 'float32'))).toBe(0);
  });

  test('bf16 scalar values are the double samples rounded (via float) to bf16', () => {
    const f32 = torchRandn(gen(9), [15], 'float32');
    expect(mismatches(torchRandn(gen(9), [15], 'bfloat16'), roundArrayToBf16(f32))).toBe(0);
  });

  test('each pair of samples costs four 32-bit outputs', () => {
    const g = gen(5);
    torchRandn(g, [5], 'float32'); // 3 pairs -> 12 outputs, one sample left in the cache
    const ref = gen(5);
    ref.skip(12);
    expect(g.random()).toBe(ref.random());
    expect(g.nextDoubleNormal).not.toBeNull();
  });
});

describe('vectorised paths (>= 16 elements)', () => {
  for (const dtype of ['float32', 'bfloat16'] as const) {
    test(`${dtype}: consecutive draws continue the stream (randn(32), randn(32) == randn(64))`, () => {
      const g = gen(3407);
      const split = concat(torchRandn(g, [32], dtype), torchRandn(g, [2, 16], dtype));
      expect(mismatches(split, torchRandn(gen(3407), [1, 64], dtype))).toBe(0);
    });

    test(`${dtype}: a size not a multiple of 16 recomputes its last 16 values from 16 fresh uniforms`, () => {
      const ours = torchRandn(gen(77), [20], dtype);
      expect(mismatches(ours.subarray(0, 4), torchRandn(gen(77), [32], dtype).subarray(0, 4))).toBe(0);
      const tail = gen(77);
      tail.skip(20);
      expect(mismatches(ours.subarray(4), torchRandn(tail, [16], dtype))).toBe(0);
    });

    test(`${dtype}: consumes size (+16 if size % 16) outputs and leaves the normal cache alone`, () => {
      const g = gen(8);
      torchRandn(g, [1], 'float32'); // caches one sample (4 outputs)
      const cached = g.nextDoubleNormal;
      torchRandn(g, [1, 16, 3, 5], dtype); // 240 elements
      torchRandn(g, [37], dtype); // 37 + 16
      expect(g.nextDoubleNormal).toBe(cached);
      const ref = gen(8);
      ref.skip(4 + 240 + 53);
      expect(g.random()).toBe(ref.random());
    });
  }

  test('bf16 is not float32 rounded to bf16 (torch computes the bf16 path in bf16)', () => {
    const bf = torchRandn(gen(0), [64], 'bfloat16');
    expect(mismatches(bf, roundArrayToBf16(torchRandn(gen(0), [64], 'float32')))).toBeGreaterThan(32);
    expect(mismatches(bf, roundArrayToBf16(bf))).toBe(0);
  });

  test('empty and invalid shapes', () => {
    expect(torchRandn(gen(0), [0, 16], 'float32').length).toBe(0);
    expect(() => torchRandn(gen(0), [2, -1], 'float32')).toThrow(/non-negative whole numbers/);
    expect(() => torchRandn(gen(0), [2.5], 'float32')).toThrow(/non-negative whole numbers/);
    expect(() => torchRandn(gen(0), [4], 'float16' as 'float32')).toThrow(/dtype must be/);
  });
});

const noiseDir = path.join(GOLDEN_DIR, 'uno/sampling');
type NoiseEntry = { shape: number[]; first: number[]; last: number[] };
const noiseEntries = (fs.existsSync(path.join(noiseDir, 'get_noise.json'))
  ? JSON.parse(fs.readFileSync(path.join(noiseDir, 'get_noise.json'), 'utf8'))
  : []) as Array<{ seed: number; width: number; height: number; bfloat16: NoiseEntry }>;

describe.runIf(noiseEntries.length > 0)('unoNoise vs golden get_noise.json (bf16, bit-exact)', () => {
  test.each(noiseEntries.map((e) => [`seed ${e.seed} ${e.width}x${e.height}`, e] as const))('%s', (_n, e) => {
    const noise = unoNoise(e.seed, e.width, e.height);
    expect(noise.shape).toEqual(e.bfloat16.shape);
    const n = e.bfloat16.first.length;
    expect(mismatches(noise.bf16.subarray(0, n), Float32Array.from(e.bfloat16.first))).toBe(0);
    expect(mismatches(noise.bf16.subarray(noise.bf16.length - n), Float32Array.from(e.bfloat16.last))).toBe(0);
    // The returned generator continues the same stream.
    const again = gen(e.seed);
    torchRandn(again, noise.shape, 'bfloat16');
    expect(noise.generator.random()).toBe(again.random());
  });

  test('noise shape rounds each side up to 16 pixels; bad sizes are refused', () => {
    expect(unoNoiseShape(500, 333)).toEqual([1, 16, 42, 64]);
    expect(() => unoNoiseShape(0, 64)).toThrow(/width must be a positive whole number/);
    expect(() => unoNoiseShape(64, 10.5)).toThrow(/height must be a positive whole number/);
  });
});

// randn draws recorded in other golden groups, each the first draw after seeding (float32,
// >= 16 elements). Seeds: uno/vae uses torch.manual_seed(7) (golden README); the OmniGen2 pipeline
// loop records its seed in pipeline_loop.json; the OmniGen2 VAE case's seed (5000) is not written
// down and was identified by searching seeds against its first values.
const extraDraws: Array<{ file: string; key: string; seed: () => number }> = [
  { file: 'uno/vae/vae_case.safetensors', key: 'randn_eps', seed: () => 7 },
  {
    file: 'omnigen2/scheduler/pipeline_loop_euler.safetensors', key: 'latents_init',
    seed: () => (JSON.parse(fs.readFileSync(path.join(GOLDEN_DIR, 'omnigen2/scheduler/pipeline_loop.json'), 'utf8')) as { config: { seed: number } }).config.seed,
  },
  { file: 'omnigen2/vae_diffusers/vae_case.safetensors', key: 'randn_eps', seed: () => 5000 },
].filter((d) => fs.existsSync(path.join(GOLDEN_DIR, d.file)));

describe.runIf(extraDraws.length > 0)('float32 randn draws recorded in other golden groups (bit-exact)', () => {
  test.each(extraDraws.map((d) => [`${d.file} ${d.key}`, d] as const))('%s', (_n, d) => {
    const ck = Checkpoint.open(path.join(GOLDEN_DIR, d.file));
    expect(mismatches(torchRandn(gen(d.seed()), ck.shape(d.key), 'float32'), ck.readFloat32(d.key))).toBe(0);
  });
});
