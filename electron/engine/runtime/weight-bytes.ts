// Resident bytes of a network's weights at a chosen precision, from its checkpoint's tensor shapes
// only (nothing is read beyond the safetensors headers). Every tensor gets a role (a quantizable
// Linear weight, modulation, embedder, token-embedding table, convolution, or a small vector) and
// each role is priced for the precision and the device:
//
// - CPU EP: no bf16/fp16 kernels; a Cast(bf16|fp16 -> fp32) on an initializer is constant-folded at
//   session creation, so float weights cost fp32 bytes whatever the file holds (platform-notes
//   "Types and precision on the CPU EP"). Only MatMulNBits (int8/int4) saves memory.
// - GPU EPs: the graphs compute in float32 on every EP; an fp16 plan only changes the Linear layers
//   (nn.linear: fp16 weights, x cast to fp16 for the MatMul and back). So at fp16 the Linear weights
//   (roles matmul, modulation, embedder) are 2 bytes on the device and every other float weight
//   (convolutions, norms, biases) is the fp32 its Cast folds to; quantized bakes run their float
//   Linears in float32 (quantized-bake.ts), so int8/int4 plans keep those at 4 bytes.
// - int8 / int4: com.microsoft.MatMulNBits per Linear: codes [N, ceil(K/bs), bs·bits/8] (the last
//   block of a row padded to whole blocks), one float32 scale per block (the scales share A's
//   dtype, and MatMulNBits runs with float32 A on every device: quantized-bake.ts writes F32), and for
//   int4 packed uint8 zero points [N · ceil(kBlocks·bits/8)] (asymmetric 4-bit; 8-bit is symmetric
//   with the default zero point). Norms, biases, embedders and (unless asked) modulation keep
//   float precision; convolutions are never quantized (MatMulNBits is a MatMul).
// - Token-embedding tables are gathered in their stored dtype (only the looked-up rows are cast): on
//   CPU only the touched rows of the mapped file become resident; a GPU EP uploads the whole table
//   as stored.
import type { PRECISION_NAMES } from '../../../shared/memory-options.js';
import type { DType, TensorInfo, Weights } from './safetensors.js';
import { DTYPE_BYTES, elementCount } from './safetensors.js';

export type Precision = (typeof PRECISION_NAMES)[number];
export type DeviceKind = 'cpu' | 'gpu';

/** What a tensor is for, which decides how it may be stored. */
export type TensorRole =
  | 'matmul' // Linear weight inside the repeated blocks: follows the component precision
  | 'modulation' // adaLN / RMSNormZero projections of the conditioning vector: float unless quantizeModulation
  | 'embedder' // input/output projections and timestep/vector embedders: always float
  | 'embedding-table' // token / position tables read with Gather
  | 'conv' // convolution kernels (VAE): float only
  | 'small' // norms, biases, scalars: float
  | 'unused'; // not read by the networks the planner runs (vision towers, lm_head, other halves)

export interface PrecisionChoice {
  precision: Precision;
  /** Also quantize the modulation projections to int8 (a further give-up for big DiTs). */
  quantizeModulation?: boolean;
}

export interface WeightPricing {
  device: DeviceKind;
  /** Tokens looked up in embedding tables (CPU: rows that become resident). */
  lookedUpTokens?: number;
}

/**
 * Bytes of one MatMulNBits scale as baked (quantized-bake.ts): float32, because the quantized
 * Linears take float32 activations on every EP (an fp16 GPU graph would cast them at no weight cost).
 */
export const QUANT_SCALE_BYTES = 4;

/** Bits of a weight-only quantized precision, or null for float precisions. */
export function quantBits(p: Precision): 4 | 8 | null {
  return p === 'int4' ? 4 : p === 'int8' ? 8 : null;
}

/**
 * Bytes per element of a float weight at precision `p` on `device`: 2 only for Linear weights of an
 * fp16, int8 or int4 plan on a GPU (nn.linear's fp16 MatMul for the Linears not quantized);
 * everything else is fp32 after its folded Cast (CPU: every float weight; GPU: convolutions, norms,
 * biases).
 */
export function floatElementBytes(p: Precision, device: DeviceKind, linear = true): number {
  return device === 'gpu' && linear && (p === 'fp16' || p === 'int8' || p === 'int4') ? 2 : 4;
}

/**
 * Element size of activations: 4 on every device. The graphs compute in float32 everywhere (fp16
 * plans only narrow the Linear weights and the MatMul inputs, nn.ts); an fp16 MatMul's output is
 * cast back to float32 at once.
 */
export function activationElementBytes(_device: DeviceKind): number {
  return 4;
}

/**
 * MatMulNBits block size for a reduction width K: the largest preferred block that divides K,
 * otherwise the candidate that pads the last block least (ties: the larger block). 4-bit prefers
 * 64/32 (quality), 8-bit 128/64/32. E.g. K = 2520 (OmniGen2) has no power-of-two divisor ≥ 16:
 * block 32 pads each row by 8 columns (79 blocks), block 64 by 40.
 */
export function chooseBlockSize(k: number, bits: 4 | 8): number {
  const candidates = bits === 4 ? [64, 32] : [128, 64, 32];
  const exact = candidates.find((bs) => k % bs === 0);
  if (exact !== undefined) return exact;
  let best = candidates[0];
  let bestPad = Infinity;
  for (const bs of candidates) {
    const pad = Math.ceil(k / bs) * bs - k;
    if (pad < bestPad || (pad === bestPad && bs > best)) {
      best = bs;
      bestPad = pad;
    }
  }
  return best;
}

export interface MatMulNBitsLayout {
  n: number;
  k: number;
  bits: 4 | 8;
  blockSize: number;
  kBlocks: number;
  codeBytes: number;
  scaleBytes: number;
  zeroPointBytes: number;
  total: number;
}

/** Bytes of one Linear [N out, K in] as MatMulNBits (see the file comment for the layout). */
export function matMulNBitsBytes(n: number, k: number, bits: 4 | 8, scaleElementBytes: number, blockSize = chooseBlockSize(k, bits)): MatMulNBitsLayout {
  const kBlocks = Math.ceil(k / blockSize);
  const codeBytes = n * kBlocks * (blockSize * bits) / 8;
  const scaleBytes = n * kBlocks * scaleElementBytes;
  const zeroPointBytes = bits === 4 ? n * Math.ceil((kBlocks * bits) / 8) : 0;
  return { n, k, bits, blockSize, kBlocks, codeBytes, scaleBytes, zeroPointBytes, total: codeBytes + scaleBytes + zeroPointBytes };
}

/** Resident bytes of one tensor with `role` under `choice` on the device. */
export function tensorBytes(t: Pick<TensorInfo, 'shape' | 'dtype'>, role: TensorRole, choice: PrecisionChoice, pricing: WeightPricing): number {
  const n = elementCount(t.shape);
  const { device } = pricing;
  const bits = quantBits(choice.precision);
  // Float Linears (modulation, embedders) follow the plan's precision: fp16 on a GPU for fp16, int8
  // and int4 plans (quantized-bake.ts), float32 on the CPU.
  const linearFloat = floatElementBytes(choice.precision, device);
  const scaleBytes = QUANT_SCALE_BYTES;
  switch (role) {
    case 'unused':
      return 0;
    case 'matmul':
      if (bits !== null && t.shape.length === 2) return matMulNBitsBytes(t.shape[0], t.shape[1], bits, scaleBytes).total;
      return n * floatElementBytes(choice.precision, device);
    case 'modulation':
      if (choice.quantizeModulation && t.shape.length === 2) return matMulNBitsBytes(t.shape[0], t.shape[1], 8, scaleBytes).total;
      return n * linearFloat;
    case 'embedding-table': {
      if (device === 'cpu') {
        const rows = Math.min(t.shape[0] ?? 0, pricing.lookedUpTokens ?? 0);
        return rows * (n / Math.max(1, t.shape[0] ?? 1)) * storedBytes(t.dtype);
      }
      return n * storedBytes(t.dtype);
    }
    case 'embedder':
      return n * (t.shape.length === 2 ? linearFloat : floatElementBytes(choice.precision, device, false));
    case 'conv':
    case 'small':
      return n * floatElementBytes(choice.precision, device, false);
  }
}

function storedBytes(d: DType): number {
  return DTYPE_BYTES[d];
}

export interface ComponentWeightBytes {
  total: number;
  byRole: Record<TensorRole, number>;
  /** Parameters the networks read (unused tensors excluded). */
  parameters: number;
}

/** Resident weight bytes of the tensors of `w` accepted by `include`, with roles from `roleOf`. */
export function componentWeightBytes(w: Weights, roleOf: (key: string, t: TensorInfo) => TensorRole, choice: PrecisionChoice,
  pricing: WeightPricing, include: (key: string) => boolean = () => true): ComponentWeightBytes {
  const byRole: Record<TensorRole, number> = { matmul: 0, modulation: 0, embedder: 0, 'embedding-table': 0, conv: 0, small: 0, unused: 0 };
  let parameters = 0;
  for (const key of w.keys()) {
    if (!include(key)) continue;
    const t = w.info(key);
    const role = roleOf(key, t);
    if (role !== 'unused') parameters += elementCount(t.shape);
    byRole[role] += tensorBytes(t, role, choice, pricing);
  }
  const total = Object.values(byRole).reduce((a, b) => a + b, 0);
  return { total, byRole, parameters };
}
