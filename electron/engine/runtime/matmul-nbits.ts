// Weight-only quantization of torch Linear weights into com.microsoft.MatMulNBits tensors, and the
// exact dequantizer the tests compare ORT against. Layout (platform-notes, "Ops worth emitting"):
//
// - B (`qweight`): uint8 [N, kBlocks, blockSize·bits/8]; codes of one row run along K, packed low
//   bits first (4-bit: element 2j in the low nibble of byte j, 2j+1 in the high nibble). K is
//   padded with zero weights up to kBlocks·blockSize (e.g. OmniGen2's K = 2520 with block 32).
// - scales: float32 [N·kBlocks] (the dtype of the activations: the graphs compute in float32).
// - int4: asymmetric; zero points packed uint8 [N · ceil(kBlocks·4/8)], two per byte low nibble
//   first, each row padded to whole bytes. int8: symmetric, no zero-point tensor (ORT's default
//   zero point 2^(bits-1) = 128).
// - Dequantized value: (code − zeroPoint) · scale, computed in float32.
//
// The byte counts match weight-bytes.ts `matMulNBitsBytes` (the memory planner's formula).
// Written by hand: no maintained npm package produces MatMulNBits tensors (the reference quantizer
// is onnxruntime's Python `matmul_nbits_quantizer`).
import { type MatMulNBitsLayout, matMulNBitsBytes } from './weight-bytes.js';

export type QuantBits = 4 | 8;

/** One quantized Linear weight [N out, K in]. */
export interface QuantizedLinear {
  readonly layout: MatMulNBitsLayout;
  /** uint8 [N, kBlocks, blockSize·bits/8]. */
  readonly qweight: Uint8Array;
  /** float32 [N·kBlocks]. */
  readonly scales: Float32Array;
  /** int4 only: packed uint8 [N · ceil(kBlocks/2)]; null for int8 (default zero point 128). */
  readonly zeroPoints: Uint8Array | null;
}

/** Tensor names of a quantized `<module>.weight` in a bake. */
export function quantizedTensorKeys(weightKey: string): { qweight: string; scales: string; zeroPoints: string } {
  return { qweight: `${weightKey}.qweight`, scales: `${weightKey}.scales`, zeroPoints: `${weightKey}.zero_points` };
}

/** Shapes of the stored tensors for a layout (as written into the bake). */
export function quantizedTensorShapes(l: MatMulNBitsLayout): { qweight: number[]; scales: number[]; zeroPoints: number[] | null } {
  return {
    qweight: [l.n, l.kBlocks, (l.blockSize * l.bits) / 8],
    scales: [l.n * l.kBlocks],
    zeroPoints: l.bits === 4 ? [l.n * Math.ceil((l.kBlocks * l.bits) / 8)] : null,
  };
}

function checkBlock(k: number, bits: number, blockSize: number): void {
  if (bits !== 4 && bits !== 8) throw new RangeError(`MatMulNBits: bits must be 4 or 8, got ${bits}`);
  if (!Number.isInteger(blockSize) || blockSize < 16 || blockSize > 256 || (blockSize & (blockSize - 1)) !== 0) {
    throw new RangeError(`MatMulNBits: block size must be a power of two in [16, 256], got ${blockSize}`);
  }
  if (!Number.isSafeInteger(k) || k < 1) throw new RangeError(`MatMulNBits: K must be a positive integer, got ${k}`);
}

/**
 * Quantize `w` (float32 row-major [n, k], the torch Linear layout) block by block along K.
 * int8: scale = max|w| / 127, code = round(w / scale) + 128 (codes 1..255).
 * int4: the block range widened to include 0, scale = (max − min) / 15, zero point
 * round(−min / scale) in 0..15, code = clamp(round(w / scale) + zp, 0, 15).
 * All-zero blocks get scale 0 (every code then dequantizes to 0). Non-finite weights are refused.
 */
export function quantizeLinear(w: Float32Array, n: number, k: number, bits: QuantBits, blockSize: number, what = 'weight'): QuantizedLinear {
  checkBlock(k, bits, blockSize);
  if (w.length !== n * k) throw new Error(`quantizeLinear ${what}: ${w.length} values for [${n}, ${k}]`);
  const layout = matMulNBitsBytes(n, k, bits, 4, blockSize);
  const { kBlocks } = layout;
  const blockBytes = (blockSize * bits) / 8;
  const qweight = new Uint8Array(layout.codeBytes);
  const scales = new Float32Array(n * kBlocks);
  const zpRowBytes = Math.ceil((kBlocks * bits) / 8);
  const zeroPoints = bits === 4 ? new Uint8Array(n * zpRowBytes) : null;
  const maxCode = (1 << bits) - 1;
  for (let row = 0; row < n; row++) {
    const rowOff = row * k;
    for (let blk = 0; blk < kBlocks; blk++) {
      const k0 = blk * blockSize;
      const k1 = Math.min(k, k0 + blockSize);
      let lo = 0;
      let hi = 0;
      for (let i = rowOff + k0; i < rowOff + k1; i++) {
        const v = w[i];
        if (!Number.isFinite(v)) throw new Error(`quantizeLinear ${what}: non-finite value ${v} at row ${row}, column ${i - rowOff}`);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      let scale: number;
      let zp: number;
      if (bits === 8) {
        scale = Math.fround(Math.max(hi, -lo) / 127);
        zp = 128;
      } else {
        scale = Math.fround((hi - lo) / maxCode);
        zp = scale === 0 ? 8 : Math.min(maxCode, Math.max(0, Math.round(-lo / scale)));
      }
      scales[row * kBlocks + blk] = scale;
      if (zeroPoints) {
        const zi = row * zpRowBytes + (blk >> 1);
        zeroPoints[zi] |= (blk & 1) ? zp << 4 : zp;
      }
      const inv = scale === 0 ? 0 : 1 / scale;
      const base = (row * kBlocks + blk) * blockBytes;
      for (let j = 0; j < blockSize; j++) {
        const kk = k0 + j;
        // Padding columns (kk >= k) hold weight 0, i.e. the zero point.
        const code = kk < k ? Math.min(maxCode, Math.max(0, Math.round(w[rowOff + kk] * inv) + zp)) : zp;
        if (bits === 8) qweight[base + j] = code;
        else qweight[base + (j >> 1)] |= (j & 1) ? code << 4 : code;
      }
    }
  }
  return { layout, qweight, scales, zeroPoints };
}

/** Code of element j (0-based along the padded K) of block `blk` in `row`. */
function codeAt(q: QuantizedLinear, row: number, blk: number, j: number): number {
  const { bits, kBlocks, blockSize } = q.layout;
  const base = (row * kBlocks + blk) * ((blockSize * bits) / 8);
  if (bits === 8) return q.qweight[base + j];
  const byte = q.qweight[base + (j >> 1)];
  return (j & 1) ? byte >> 4 : byte & 0x0f;
}

function zeroPointAt(q: QuantizedLinear, row: number, blk: number): number {
  if (!q.zeroPoints) return 1 << (q.layout.bits - 1);
  const zpRowBytes = Math.ceil((q.layout.kBlocks * q.layout.bits) / 8);
  const byte = q.zeroPoints[row * zpRowBytes + (blk >> 1)];
  return (blk & 1) ? byte >> 4 : byte & 0x0f;
}

/** The float32 weight [n, k] the quantized tensors stand for: (code − zp) · scale, as MatMulNBits dequantizes. */
export function dequantizeLinear(q: QuantizedLinear): Float32Array {
  const { n, k, kBlocks, blockSize } = q.layout;
  const out = new Float32Array(n * k);
  for (let row = 0; row < n; row++) {
    for (let blk = 0; blk < kBlocks; blk++) {
      const scale = q.scales[row * kBlocks + blk];
      const zp = zeroPointAt(q, row, blk);
      const k0 = blk * blockSize;
      const k1 = Math.min(k, k0 + blockSize);
      for (let kk = k0; kk < k1; kk++) out[row * k + kk] = Math.fround((codeAt(q, row, blk, kk - k0) - zp) * scale);
    }
  }
  return out;
}

/**
 * The largest error quantization introduces on one element of a block: half a step, 0.5·scale
 * (int4: the range [min, max] spans exactly 15 steps from the rounded zero point's side, so the
 * clamped ends are also within half a step), plus float32 rounding of the division.
 */
export function maxElementError(scale: number): number {
  return 0.5 * scale * (1 + 1e-6);
}

/**
 * `accuracy_level` for MatMulNBits nodes. 0 (the default) keeps A in float32, so the result is the
 * float32 product with the dequantized weight (what the golden tolerances are derived from).
 * Platform notes measured 8-bit at level 0 24x slower than at small M because the CPU EP has no
 * fp32-A kernel for 8-bit weights (it dequantizes the whole weight every run); level 4 selects
 * MLAS's int8-A kernel, which quantizes A per block to int8 — an extra relative error of about
 * 1/254 of each block's max|a| on the products. So: 4-bit -> 0 (fp32 A; its fp32 kernel is as
 * fast as fp32 MatMul at large M), 8-bit -> 4 (speed; the network tests bound the extra error).
 */
export function accuracyLevelFor(bits: QuantBits): 0 | 4 {
  return bits === 8 ? 4 : 0;
}

/** How one `<module>.weight` is stored in a quantized bake (what `linear` needs to emit MatMulNBits). */
export interface QuantizedLinearInfo {
  readonly n: number;
  readonly k: number;
  readonly bits: QuantBits;
  readonly blockSize: number;
  readonly qweightKey: string;
  readonly scalesKey: string;
  /** int4 only. */
  readonly zeroPointsKey: string | null;
}

/** Weights that know which Linear weights are quantized and how the other Linears compute. */
export interface LinearStorage {
  quantizedLinear(weightKey: string): QuantizedLinearInfo | null;
  /** Element type of plain (not quantized) Linear MatMuls: float16 only for GPU graphs. */
  readonly linearCompute: 'float32' | 'float16';
}

function isLinearStorage(w: object): w is LinearStorage {
  return typeof (w as Partial<LinearStorage>).quantizedLinear === 'function';
}

/** The quantized storage of `weightKey` when `w` is a quantized bake overlay, else null. */
export function quantizedLinearOf(w: object, weightKey: string): QuantizedLinearInfo | null {
  return isLinearStorage(w) ? w.quantizedLinear(weightKey) : null;
}

/** Element type the plain Linear MatMuls of `w` compute in. */
export function linearComputeOf(w: object): 'float32' | 'float16' {
  return isLinearStorage(w) ? w.linearCompute : 'float32';
}
