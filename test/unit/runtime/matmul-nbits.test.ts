// MatMulNBits packing: the quantizer's codes against an independent unpacking, the dequantized
// weight against the float weight (error within half a quantization step), the byte counts
// against the planner's formula, and one ORT com.microsoft.MatMulNBits node against the float32
// matmul with the JS-dequantized weight, for 4 and 8 bits, incl. a K that is not a multiple of
// the block (padded).
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../electron/engine/runtime/graph.js';
import { createSession } from '../../../electron/engine/runtime/sessions.js';
import {
  type QuantBits, accuracyLevelFor, dequantizeLinear, maxElementError, quantizeLinear, quantizedTensorShapes,
} from '../../../electron/engine/runtime/matmul-nbits.js';
import { chooseBlockSize, matMulNBitsBytes } from '../../../electron/engine/runtime/weight-bytes.js';
import { SeededRandom } from '../../../electron/engine/kit/write-checkpoint.js';

function randomWeight(n: number, k: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  // Rows with different ranges, a few outliers and an all-zero block row.
  const w = Float32Array.from({ length: n * k }, (_, i) => rng.normal() * (1 + (Math.floor(i / k) % 3)) * 0.05);
  w[3] = 0.9;
  w[k + 5] = -1.3;
  if (n > 2) w.fill(0, 2 * k, 2 * k + Math.min(k, 16));
  return w;
}

/** float64 reference of x [m, k] @ w^T [k, n]. */
function matmulT(x: Float32Array, w: Float32Array, m: number, k: number, n: number): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += x[i * k + t] * w[j * k + t];
      y[i * n + j] = s;
    }
  }
  return y;
}

const CASES: Array<{ bits: QuantBits; n: number; k: number }> = [
  { bits: 4, n: 24, k: 128 },
  { bits: 8, n: 24, k: 256 },
  { bits: 4, n: 20, k: 2520 }, // OmniGen2's width: block 32 pads each row by 8 columns
  { bits: 8, n: 20, k: 2520 },
  { bits: 4, n: 8, k: 40 }, // K smaller than one preferred block, padded
];

describe('quantizeLinear / dequantizeLinear', () => {
  it.each(CASES)('int$bits [$n, $k]: codes unpack to the dequantized weight, error <= half a step', ({ bits, n, k }) => {
    const bs = chooseBlockSize(k, bits);
    const w = randomWeight(n, k, 7 + k);
    const q = quantizeLinear(w, n, k, bits, bs);
    // Sizes equal the memory planner's formula.
    const l = matMulNBitsBytes(n, k, bits, 4, bs);
    expect(q.qweight.length).toBe(l.codeBytes);
    expect(q.scales.byteLength).toBe(l.scaleBytes);
    expect(q.zeroPoints?.length ?? 0).toBe(l.zeroPointBytes);
    const shapes = quantizedTensorShapes(q.layout);
    expect(shapes.qweight.reduce((a, b) => a * b)).toBe(q.qweight.length);
    // Independent unpacking from the documented layout.
    const kBlocks = Math.ceil(k / bs);
    const zpRow = Math.ceil((kBlocks * bits) / 8);
    const deq = dequantizeLinear(q);
    let maxErrOverStep = 0;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < kBlocks * bs; c++) {
        const blk = Math.floor(c / bs);
        const byteIdx = r * kBlocks * (bs * bits) / 8 + (bits === 8 ? c : c >> 1);
        const code = bits === 8 ? q.qweight[byteIdx] : (c & 1 ? q.qweight[byteIdx] >> 4 : q.qweight[byteIdx] & 15);
        const zp = bits === 8 ? 128 : (blk & 1 ? q.zeroPoints![r * zpRow + (blk >> 1)] >> 4 : q.zeroPoints![r * zpRow + (blk >> 1)] & 15);
        const scale = q.scales[r * kBlocks + blk];
        if (c >= k) {
          // padding holds exactly the zero point
          expect(code).toBe(zp);
          continue;
        }
        expect(deq[r * k + c]).toBe(Math.fround((code - zp) * scale));
        const err = Math.abs(deq[r * k + c] - w[r * k + c]);
        expect(err).toBeLessThanOrEqual(maxElementError(scale));
        if (scale > 0) maxErrOverStep = Math.max(maxErrOverStep, err / scale);
      }
    }
    // The bound is tight: rounding does reach close to half a step somewhere.
    expect(maxErrOverStep).toBeGreaterThan(0.4);
    // The zero-filled block of row 2 dequantizes to exact zeros.
    for (let c = 0; c < Math.min(k, 16); c++) expect(deq[2 * k + c]).toBe(0);
  });

  it('refuses non-finite weights and bad block sizes with a clear message', () => {
    const w = new Float32Array(64);
    w[10] = NaN;
    expect(() => quantizeLinear(w, 1, 64, 4, 32, 'x.weight')).toThrow(/x\.weight: non-finite value NaN at row 0, column 10/);
    expect(() => quantizeLinear(new Float32Array(64), 1, 64, 4, 24)).toThrow(/power of two/);
  });
});

async function runMatMulNBits(q: ReturnType<typeof quantizeLinear>, x: Float32Array, m: number, accuracyLevel: number, ep: 'cpu' | 'webgpu' = 'cpu'): Promise<Float32Array> {
  const { n, k, bits, blockSize } = q.layout;
  const b = new GraphBuilder('matmul_nbits');
  const a = b.input('a', 'float32', [m, k]);
  const shapes = quantizedTensorShapes(q.layout);
  const inputs = [a, b.constant(q.qweight, shapes.qweight, 'uint8'), b.constant(q.scales, shapes.scales, 'float32')];
  if (q.zeroPoints) inputs.push(b.constant(q.zeroPoints, shapes.zeroPoints!, 'uint8'));
  const y = b.op('MatMulNBits', inputs, { K: k, N: n, bits, block_size: blockSize, accuracy_level: accuracyLevel }, { domain: 'com.microsoft' });
  b.output(y, 'y', 'float32', [m, n]);
  const s = await createSession(b.build(), { ep });
  try {
    const r = await s.run({ a: new ort.Tensor('float32', x, [m, k]) });
    return r.y.data as Float32Array;
  } finally {
    await s.release();
  }
}

describe('ORT MatMulNBits vs the JS dequantized matmul', () => {
  it.each(CASES)('int$bits [$n, $k], accuracy_level 0: equal to the float32 product within 1e-6 relative', async ({ bits, n, k }) => {
    const bs = chooseBlockSize(k, bits);
    const q = quantizeLinear(randomWeight(n, k, 11 + k), n, k, bits, bs);
    const m = 5;
    const rng = new SeededRandom(3);
    const x = Float32Array.from({ length: m * k }, () => rng.normal());
    const ref = matmulT(x, dequantizeLinear(q), m, k, n);
    const y = await runMatMulNBits(q, x, m, 0);
    const wq = dequantizeLinear(q);
    let maxRel = 0;
    for (let i = 0; i < y.length; i++) {
      // Only the float32 summation order differs: |err| <= 1e-6 · sum |x·w| (a few ulps of k terms).
      let mag = 0;
      const row = Math.floor(i / n);
      const col = i % n;
      for (let t = 0; t < k; t++) mag += Math.abs(x[row * k + t] * wq[col * k + t]);
      const err = Math.abs(y[i] - ref[i]);
      expect(err).toBeLessThanOrEqual(1e-6 * mag);
      maxRel = Math.max(maxRel, err / mag);
    }
    console.log(`MatMulNBits int${bits} [${n}, ${k}] block ${bs} level 0: max |err| / sum|x·w| = ${maxRel.toExponential(2)}`);
  });

  it.each([4, 8] as const)('int%i with the chosen accuracy level stays within the activation-quantization bound', async (bits) => {
    const n = 16;
    const k = 2520;
    const bs = chooseBlockSize(k, bits);
    const q = quantizeLinear(randomWeight(n, k, 5), n, k, bits, bs);
    const m = 3;
    const rng = new SeededRandom(9);
    const x = Float32Array.from({ length: m * k }, () => rng.normal());
    const wq = dequantizeLinear(q);
    const ref = matmulT(x, wq, m, k, n);
    const level = accuracyLevelFor(bits);
    const y = await runMatMulNBits(q, x, m, level);
    let worst = 0;
    for (let i = 0; i < y.length; i++) {
      const row = Math.floor(i / n);
      const col = i % n;
      // Level 4 rounds A to int8 per block: |Δa| <= max|a_block| / 254 per element.
      let bound = 0;
      for (let blk = 0; blk * bs < k; blk++) {
        let amax = 0;
        for (let t = blk * bs; t < Math.min(k, (blk + 1) * bs); t++) amax = Math.max(amax, Math.abs(x[row * k + t]));
        for (let t = blk * bs; t < Math.min(k, (blk + 1) * bs); t++) bound += (level === 4 ? amax / 254 : 0) * Math.abs(wq[col * k + t]);
      }
      let mag = 0;
      for (let t = 0; t < k; t++) mag += Math.abs(x[row * k + t] * wq[col * k + t]);
      bound += 1e-6 * mag;
      const err = Math.abs(y[i] - ref[i]);
      expect(err).toBeLessThanOrEqual(bound);
      worst = Math.max(worst, err / bound);
    }
    console.log(`MatMulNBits int${bits} K=${k} accuracy_level ${level}: worst |err| / bound = ${worst.toFixed(3)}`);
  });
});
