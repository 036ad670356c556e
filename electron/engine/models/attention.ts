// Multi-head scaled-dot-product attention for the model graphs, in one of two forms:
//
// - 'fused': com.microsoft.MultiHeadAttention (tiled on CPU, never materialises S×S scores).
// - 'unfused': MatMul → Softmax → MatMul per head, float32 throughout (S×S scores per head in
//   memory).
//
// ORT 1.30's WebGPU MultiHeadAttention returns wrong values once the sequence length reaches 32
// (measured on Mesa lavapipe: errors ≈ 0.1–0.2 against CPU, at any head size; below 32 it
// matched), so WebGPU sessions use the unfused form (`defaultAttentionFor`).
import { type GraphBuilder, type Value, float } from '../runtime/graph.js';
import type { ExecutionProvider } from '../runtime/sessions.js';
import { TensorDataType } from '../runtime/onnx-proto.js';

export type AttentionKind = 'fused' | 'unfused';

/** The attention form a session on `ep` should use unless told otherwise (see the file comment). */
export function defaultAttentionFor(ep: ExecutionProvider): AttentionKind {
  return ep === 'webgpu' ? 'unfused' : 'fused';
}

/** Added to masked scores: float32's lowest finite value (as HF's causal masks use). */
const MASKED_SCORE = -3.4028234663852886e38;

export interface AttentionOptions {
  kind: AttentionKind;
  heads: number;
  /** Multiplies q·kᵀ before bias and softmax. Default 1/√head_dim. */
  scale?: number;
  /** Additive score bias broadcastable to [B, heads, S_q, S_kv] (e.g. T5's relative-position bias). */
  bias?: Value;
  /**
   * Causal self-attention: query i sees keys 0..i. The unfused form slices a constant
   * [maxLength, maxLength] mask to the sequence, so `maxLength` (the longest sequence the graph
   * accepts) is required with it.
   */
  causal?: { maxLength: number };
  /** Head size: required for the unfused form's default scale when `scale` is not given. */
  headDim?: number;
  /**
   * int32 [B, S_kv], 1 = the key may be attended, 0 = padding (MultiHeadAttention's
   * `key_padding_mask`). The unfused form turns it into an additive [B, 1, 1, S_kv] bias.
   * Every query must see at least one key.
   */
  keyPaddingMask?: Value;
  /**
   * Unfused form only: compute the scores in this many query chunks, so one chunk's
   * [B, heads, ⌈S_q/N⌉, S_kv] scores are alive at a time instead of all S_q rows (default 1 = one
   * pass, exactly the unchunked graph). Ignored by the fused form, which never holds the scores.
   * With chunks, `headDim` is required and `bias` must carry its S_q rows (not broadcast over them).
   * See `queryChunkRows` for how the rows are split with a dynamic length.
   */
  queryChunks?: number;
}

/**
 * softmax(scale · q kᵀ + bias [+ causal mask]) v with q [B, S_q, heads·head_dim] and k, v
 * [B, S_kv, heads·head_dim]; returns [B, S_q, heads·head_dim]. Inputs are float32.
 */
export function attention(b: GraphBuilder, q: Value, k: Value, v: Value, opts: AttentionOptions): Value {
  if (!Number.isInteger(opts.heads) || opts.heads <= 0) throw new Error(`attention: heads must be a positive integer, got ${opts.heads}`);
  if (opts.causal && !(Number.isInteger(opts.causal.maxLength) && opts.causal.maxLength > 0)) {
    throw new Error(`attention: causal.maxLength must be a positive integer, got ${opts.causal.maxLength}`);
  }
  if (opts.queryChunks !== undefined && !(Number.isInteger(opts.queryChunks) && opts.queryChunks >= 1)) {
    throw new Error(`attention: queryChunks must be a positive integer, got ${opts.queryChunks}`);
  }
  if (opts.kind === 'fused') return fusedAttention(b, q, k, v, opts);
  if (opts.kind === 'unfused') return unfusedAttention(b, q, k, v, opts);
  throw new Error(`attention: unknown kind "${String(opts.kind)}" (expected 'fused' or 'unfused')`);
}

function fusedAttention(b: GraphBuilder, q: Value, k: Value, v: Value, opts: AttentionOptions): Value {
  // Inputs: query, key, value, bias (packed qkv bias), key_padding_mask, attention_bias.
  const inputs: Array<Value | null> = [q, k, v];
  if (opts.keyPaddingMask || opts.bias) inputs.push(null, opts.keyPaddingMask ?? null);
  if (opts.bias) inputs.push(opts.bias);
  return b.op('MultiHeadAttention', inputs, {
    num_heads: opts.heads,
    scale: opts.scale === undefined ? undefined : float(opts.scale),
    unidirectional: opts.causal ? 1 : undefined,
  }, { domain: 'com.microsoft' });
}

function unfusedAttention(b: GraphBuilder, q: Value, k: Value, v: Value, opts: AttentionOptions): Value {
  let scale = opts.scale;
  if (scale === undefined) {
    if (!opts.headDim) throw new Error('attention: the unfused form needs headDim (or an explicit scale)');
    scale = 1 / Math.sqrt(opts.headDim);
  }
  const headsShape = b.ints([0, 0, opts.heads, -1]);
  const toHeads = (x: Value, perm: number[], name: string) =>
    b.op('Transpose', [b.op('Reshape', [x, headsShape], {}, { name: `Reshape_${name}` })], { perm }, { name: `Transpose_${name}` });
  const qh = toHeads(q, [0, 2, 1, 3], 'q');
  const kt = toHeads(k, [0, 2, 3, 1], 'k');
  const vh = toHeads(v, [0, 2, 1, 3], 'v');
  const padding = opts.keyPaddingMask ? keyPaddingBias(b, opts.keyPaddingMask) : undefined;
  const mask = opts.causal ? causalMask(b, q, k, opts.causal.maxLength) : undefined;
  const chunks = opts.queryChunks ?? 1;
  if (chunks === 1) {
    const o = scoresTimesValues(b, qh, kt, vh, { scale, bias: opts.bias, padding, mask }, '');
    const merged = b.op('Transpose', [o], { perm: [0, 2, 1, 3] }, { name: 'Transpose_out' });
    return b.op('Reshape', [merged, b.ints([0, 0, -1])], {}, { name: 'Reshape_out' });
  }
  if (!opts.headDim) throw new Error('attention: query chunks need headDim (the width the chunks are stitched back to)');
  const qParts = queryChunkRows(b, qh, 2, chunks, 'q');
  const biasParts = opts.bias ? queryChunkRows(b, opts.bias, -2, chunks, 'bias') : undefined;
  const maskParts = mask ? queryChunkRows(b, mask, 0, chunks, 'causal_mask') : undefined;
  // Each chunk [B, heads, L, head_dim] -> [B, L, 1, heads, head_dim]; concatenated on axis 2 the
  // rows come back in order (row j·N + i of the padded queries is row j of chunk i).
  const parts = qParts.map((qc, i) => {
    const o = scoresTimesValues(b, qc, kt, vh, { scale, bias: biasParts?.[i], padding, mask: maskParts?.[i] }, `_chunk${i}`);
    const rows = b.op('Transpose', [o], { perm: [0, 2, 1, 3] }, { name: `Transpose_out_chunk${i}` });
    return b.op('Unsqueeze', [rows, b.ints([2])], {}, { name: `Unsqueeze_out_chunk${i}` });
  });
  const stacked = b.op('Concat', parts, { axis: 2 }, { name: 'Concat_chunks' });
  const merged = b.op('Reshape', [stacked, b.ints([0, -1, opts.heads * opts.headDim])], {}, { name: 'Reshape_out' });
  const length = b.op('Shape', [q], { start: 1, end: 2 }, { name: 'Shape_q_rows' });
  return b.op('Slice', [merged, b.ints([0]), length, b.ints([1])], {}, { name: 'Slice_out_rows' });
}

interface ScoreTerms {
  scale: number;
  /** Additive bias rows of this chunk. */
  bias?: Value;
  /** Key padding bias [B, 1, 1, S_kv] (broadcast over queries). */
  padding?: Value;
  /** Causal mask rows of this chunk. */
  mask?: Value;
}

/** softmax(scale · q kᵀ + terms) v for query heads q [B, heads, L, d]; node names end in `suffix`. */
function scoresTimesValues(b: GraphBuilder, qh: Value, kt: Value, vh: Value, t: ScoreTerms, suffix: string): Value {
  let scores = b.op('MatMul', [qh, kt], {}, { name: `MatMul_qk${suffix}` });
  if (t.scale !== 1) scores = b.op('Mul', [scores, b.scalar(t.scale)], {}, { name: `Scale_qk${suffix}` });
  if (t.bias) scores = b.op('Add', [scores, t.bias], {}, { name: `Add_bias${suffix}` });
  if (t.padding) scores = b.op('Add', [scores, t.padding], {}, { name: `Add_key_padding${suffix}` });
  if (t.mask) scores = b.op('Add', [scores, t.mask], {}, { name: `Add_causal_mask${suffix}` });
  const probs = b.op('Softmax', [scores], { axis: -1 }, { name: `Softmax${suffix}` });
  return b.op('MatMul', [probs, vh], {}, { name: `MatMul_v${suffix}` });
}

/**
 * Split the rows (axis `axis`, dynamic length S) of x into `n` chunks of L = ⌈S/n⌉ rows each:
 * chunk i holds rows i, i + n, i + 2n, ... of x padded with n − 1 zero rows, cut to the length of
 * the last chunk (which is L). Together the chunks cover rows 0..n·L − 1 (S real rows, then
 * padding whose results are dropped).
 *
 * Why not Split(num_outputs = n): ORT rejects it whenever the last part would be empty or
 * negative (e.g. S = 4, n = 3: parts of 2, 2, 0), which happens for real lengths (S = 4097 with
 * n = 128); and computing ⌈S/n⌉ needs int64 arithmetic, which has no WebGPU kernel in ORT 1.30
 * (measured on lavapipe). Pad, strided Slice and Shape run on both EPs.
 */
function queryChunkRows(b: GraphBuilder, x: Value, axis: number, n: number, name: string): Value[] {
  const padded = b.op('Pad', [x, b.ints([0, n - 1]), null, b.ints([axis])], { mode: 'constant' }, { name: `Pad_${name}_rows` });
  const big = Number.MAX_SAFE_INTEGER;
  const strided = Array.from({ length: n }, (_, i) =>
    b.op('Slice', [padded, b.ints([i]), b.ints([big]), b.ints([axis]), b.ints([n])], {}, { name: `Slice_${name}_chunk${i}` }));
  const rows = b.op('Shape', [strided[n - 1]], { start: axis, end: axis === -1 ? undefined : axis + 1 }, { name: `Shape_${name}_chunk_rows` });
  return strided.map((s, i) => (i === n - 1 ? s
    : b.op('Slice', [s, b.ints([0]), rows, b.ints([axis])], {}, { name: `Slice_${name}_chunk${i}_rows` })));
}

/** int32 [B, S_kv] keep-mask -> float32 [B, 1, 1, S_kv] additive bias (0 kept, MASKED_SCORE padded). */
function keyPaddingBias(b: GraphBuilder, mask: Value): Value {
  const keep = b.op('Cast', [mask], { to: TensorDataType.FLOAT }, { name: 'Cast_key_padding' });
  const dropped = b.op('Sub', [b.scalar(1), keep], {}, { name: 'Sub_key_padding' });
  const bias = b.op('Mul', [dropped, b.scalar(MASKED_SCORE)], {}, { name: 'Mul_key_padding' });
  return b.op('Unsqueeze', [bias, b.ints([1, 2])], {}, { name: 'Unsqueeze_key_padding' });
}

/**
 * [S_q, S_kv] additive mask for self-attention (0 on and below the diagonal, MASKED_SCORE above),
 * sliced from a constant [maxLength, maxLength] table with the lengths read by Shape: only
 * Shape and Slice, which run on WebGPU without int64 arithmetic.
 */
function causalMask(b: GraphBuilder, q: Value, k: Value, maxLength: number): Value {
  const table = new Float32Array(maxLength * maxLength);
  for (let i = 0; i < maxLength; i++) table.fill(MASKED_SCORE, i * maxLength + i + 1, (i + 1) * maxLength);
  const full = b.constant(table, [maxLength, maxLength], 'float32');
  const sq = b.op('Shape', [q], { start: 1, end: 2 }, { name: 'Shape_q_len' });
  const sk = b.op('Shape', [k], { start: 1, end: 2 }, { name: 'Shape_kv_len' });
  const zero = b.ints([0]);
  const rows = b.op('Slice', [full, zero, sq, b.ints([0])], {}, { name: 'Slice_mask_rows' });
  return b.op('Slice', [rows, zero, sk, b.ints([1])], {}, { name: 'Slice_mask_cols' });
}
