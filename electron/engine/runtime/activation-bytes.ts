// Peak activation memory of one network run, from its architecture sizes and the token / pixel
// counts of a request. ORT frees an intermediate after its last consumer, so a forward's peak is
// the largest set of tensors alive at one moment; each estimator lists the moments that can be the
// worst for its architecture and returns the largest. Counts are elements; the caller multiplies by
// the activation element size (fp32 on every EP: the graphs compute in float32).
//
// Known simplifications (say so rather than hide them): ORT's CPU arena keeps freed blocks and
// rounds sizes, and MLAS convolutions need working buffers beyond these tensors (the measured
// per-network factors in memory-planner.ts, CPU_ACTIVATION_FACTORS, cover both on CPU), Split/Concat/Transpose are counted as
// copies, MLAS convolution working buffers are taken as bounded (per-thread tiles, not a full
// im2col), and small tensors (vectors, RoPE tables of a few rows) are ignored unless named.
// `test/unit/runtime/memory-planner.test.ts` compares the sum with real sizes; measured peaks can
// be plugged in through the planner's calibration.

/** How attention is computed: fused (tiled, no S×S) or unfused (S×S scores per head, optionally in query chunks). */
export interface AttentionShape {
  kind: 'fused' | 'unfused';
  /** Unfused only: queries processed in this many chunks (scores [heads, S_q/chunks, S_kv]). */
  queryChunks?: number;
}

export interface ActivationMoment {
  /** What is alive at that moment. */
  name: string;
  elements: number;
}

export interface ActivationEstimate {
  elements: number;
  /** The moment that gives the peak. */
  worst: string;
  moments: ActivationMoment[];
}

function pick(moments: ActivationMoment[]): ActivationEstimate {
  let worst = moments[0];
  for (const m of moments) if (m.elements > worst.elements) worst = m;
  return { elements: worst.elements, worst: worst.name, moments };
}

/**
 * Working memory of one attention over S_q queries and S_kv keys with `heads` heads of total width
 * `width` (= heads · head_dim). Fused: ORT's MultiHeadAttention transposes Q, K, V to
 * [B, N, S, H] internally (three copies) and tiles the scores. Unfused: the scores and the softmax
 * output ([N, S_q/chunks, S_kv] each) are alive together, plus (chunked) the per-chunk outputs
 * concatenated at the end (one [S_q, width] tensor).
 */
export function attentionWork(sq: number, skv: number, heads: number, width: number, a: AttentionShape): number {
  if (a.kind === 'fused') return sq * width + 2 * skv * width;
  const chunks = Math.max(1, a.queryChunks ?? 1);
  const rows = Math.ceil(sq / chunks);
  return 2 * heads * rows * skv + (chunks > 1 ? sq * width : 0);
}

export interface FluxDitActivationInput {
  hidden: number;
  heads: number;
  mlpHidden: number;
  /** Text tokens (T5 length, 512). */
  textTokens: number;
  /** Image-stream tokens: noise (H/16·W/16) plus every reference's tokens. */
  imageTokens: number;
  attention: AttentionShape;
}

/**
 * FLUX DiT (double + single blocks), one forward at batch 1. S = text + image tokens, h hidden,
 * m MLP width. Alive throughout: the residual stream (S·h).
 * - double attention: residual S·h + joint q, k, v 3·S·h + attention work + output S·h;
 * - double MLP: residual + modulated input S·h + up-projection and GELU output 2·S·m;
 * - single linear1 + split: residual + modulated S·h + linear1 output S·(3h+m) + its split copies S·(3h+m);
 * - single attention: residual + MLP half S·m kept for later + q, k, v 3·S·h + work + output S·h;
 * - single concat + linear2: residual + attention output S·h + GELU S·m + concat S·(h+m) + linear2 output S·h.
 */
export function fluxDitActivations(x: FluxDitActivationInput): ActivationEstimate {
  const { hidden: h, mlpHidden: m, heads } = x;
  const s = x.textTokens + x.imageTokens;
  const work = attentionWork(s, s, heads, h, x.attention);
  return pick([
    { name: 'double-block attention', elements: s * h + 3 * s * h + work + s * h },
    { name: 'double-block MLP', elements: 2 * s * h + 2 * s * m },
    { name: 'single-block linear1 + split', elements: 2 * s * h + 2 * s * (3 * h + m) },
    { name: 'single-block attention', elements: s * h + s * m + 3 * s * h + work + s * h },
    { name: 'single-block concat + linear2', elements: s * h + s * h + s * m + s * (h + m) + s * h },
  ]);
}

export interface OmniGen2ActivationInput {
  hidden: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  textTokens: number;
  /** Tokens of each reference (each refined alone, then joined). */
  referenceTokens: readonly number[];
  noiseTokens: number;
  attention: AttentionShape;
}

/**
 * One OmniGen2 transformer block over S tokens (h hidden, f SwiGLU width, GQA K/V of width
 * kv = h·kvHeads/heads expanded to all heads before the attention):
 * - attention: residual S·h + normed/modulated S·h + q S·h + k, v 2·S·kv + expanded k, v 2·S·h + work + output S·h;
 * - SwiGLU: residual + normed S·h + linear_1 and linear_3 outputs 2·S·f + SiLU output S·f (the
 *   product replaces linear_1's buffer once SiLU has consumed it).
 */
function omnigen2Block(s: number, x: OmniGen2ActivationInput): ActivationMoment[] {
  const h = x.hidden;
  const kv = (h * x.kvHeads) / x.heads;
  const work = attentionWork(s, s, x.heads, h, x.attention);
  return [
    { name: `attention over ${s} tokens`, elements: 2 * s * h + s * h + 2 * s * kv + 2 * s * h + work + s * h },
    { name: `SwiGLU over ${s} tokens`, elements: 2 * s * h + 3 * s * x.ffn },
  ];
}

/**
 * OmniGen2 transformer, one CFG pass: refiners on the text, on each reference alone and on the
 * noise, then the main layers on [text | refs | noise]. Refiner outputs that wait for the joint
 * sequence are alive during the later refiners (counted in the joint size).
 */
export function omnigen2Activations(x: OmniGen2ActivationInput): ActivationEstimate {
  const refTotal = x.referenceTokens.reduce((a, b) => a + b, 0);
  const joint = x.textTokens + refTotal + x.noiseTokens;
  const waiting = joint * x.hidden;
  const moments: ActivationMoment[] = [];
  for (const m of omnigen2Block(joint, x)) moments.push({ name: `main layer ${m.name}`, elements: m.elements + joint * x.hidden });
  const refMax = Math.max(0, ...x.referenceTokens);
  for (const s of [x.textTokens, refMax, x.noiseTokens]) {
    if (s > 0) for (const m of omnigen2Block(s, x)) moments.push({ name: `refiner ${m.name}`, elements: m.elements + waiting });
  }
  return pick(moments);
}

export interface EncoderActivationInput {
  tokens: number;
  hidden: number;
  heads: number;
  /** Width of q (= heads · head_dim). */
  attnWidth: number;
  /** Width of k and v before any GQA expansion. */
  kvWidth: number;
  ffn: number;
  /** Gated feed-forward (T5 v1.1, SwiGLU) keeps two ffn-wide tensors before the product. */
  gated: boolean;
  /** An additive score bias alive for the whole forward ([heads, S, S] for T5's position bias, [S, S] for a causal mask). */
  persistentBiasElements: number;
  attention: AttentionShape;
}

/**
 * A pre-norm text encoder layer stack (T5, CLIP, Qwen2): residual S·d alive throughout.
 * - attention: residual + normed S·d + q S·a + k, v 2·S·kv (+ expanded 2·S·a when kv < a) + work + output S·a;
 * - feed-forward: residual + normed S·d + (gated: two projections and the activation 3·S·f; plain: 2·S·f).
 */
export function encoderActivations(x: EncoderActivationInput): ActivationEstimate {
  const { tokens: s, hidden: d, attnWidth: a, kvWidth: kv, ffn: f } = x;
  const expand = kv < a ? 2 * s * a : 0;
  const work = attentionWork(s, s, x.heads, a, x.attention);
  return pick([
    { name: 'attention', elements: x.persistentBiasElements + 2 * s * d + s * a + 2 * s * kv + expand + work + s * a },
    { name: 'feed-forward', elements: x.persistentBiasElements + 2 * s * d + (x.gated ? 3 : 2) * s * f },
  ]);
}

export interface VaeActivationInput {
  /** Output channels per resolution level, full resolution first. */
  channels: readonly number[];
  convInChannels: number;
  resBlocks: number;
  midAttention: boolean;
  imageChannels: number;
  zChannels: number;
  /** Image size in pixels (the encoder's input or the decoder's output). */
  width: number;
  height: number;
  attention: AttentionShape;
}

/**
 * Residual block cin -> cout over P pixels; x (the input) stays alive for the skip:
 * GroupNorm (Reshape -> InstanceNormalization -> Reshape -> Mul -> Add) and SiLU each hold their
 * input and output: x + 2·cin; conv1: x + SiLU output cin + conv output cout; second half:
 * x + 2·cout; the skip add: h cout + shortcut cout + sum cout.
 */
function resBlockPeak(cin: number, cout: number, p: number): number {
  return p * Math.max(3 * cin, 2 * cin + cout, cin + 2 * cout, 3 * cout);
}

/** Single-head spatial self-attention over S = P positions with C channels: x + normed + q, k, v + work + output. */
function midAttentionPeak(c: number, p: number, a: AttentionShape): number {
  return 2 * c * p + 3 * c * p + attentionWork(p, p, 1, c, a) + c * p;
}

/**
 * FLUX VAE encoder on one image: conv_in, per level `resBlocks` residual blocks then a stride-2
 * downsample (asymmetric Pad copy + conv: 2·c·P), the mid block (res, attention, res) at the
 * lowest level, conv_out to 2·z moments.
 */
export function vaeEncoderActivations(x: VaeActivationInput): ActivationEstimate {
  const moments: ActivationMoment[] = [];
  const full = x.width * x.height;
  const levels = x.channels.length;
  const pixelsAt = (i: number) => full / 4 ** i;
  moments.push({ name: 'conv_in', elements: full * (x.imageChannels + x.convInChannels) });
  let cin = x.convInChannels;
  for (let i = 0; i < levels; i++) {
    const p = pixelsAt(i);
    for (let b = 0; b < x.resBlocks; b++) {
      moments.push({ name: `level ${i} residual block ${b}`, elements: resBlockPeak(cin, x.channels[i], p) });
      cin = x.channels[i];
    }
    if (i !== levels - 1) moments.push({ name: `level ${i} downsample`, elements: 2 * cin * p + cin * pixelsAt(i + 1) });
  }
  const low = pixelsAt(levels - 1);
  if (x.midAttention) moments.push({ name: 'mid attention', elements: midAttentionPeak(cin, low, x.attention) });
  moments.push({ name: 'conv_out', elements: low * (2 * cin + 2 * x.zChannels) });
  return pick(moments);
}

/**
 * FLUX VAE decoder to one image: conv_in at the lowest level, mid block, then per level (lowest
 * first) `resBlocks` residual blocks and a nearest ×2 upsample + conv (the resized copy and the
 * conv output are alive together: 2·c·4P), GroupNorm + SiLU + conv_out at full resolution.
 */
export function vaeDecoderActivations(x: VaeActivationInput): ActivationEstimate {
  const moments: ActivationMoment[] = [];
  const full = x.width * x.height;
  const levels = x.channels.length;
  const pixelsAt = (i: number) => full / 4 ** i;
  const top = x.channels[levels - 1];
  const low = pixelsAt(levels - 1);
  moments.push({ name: 'conv_in', elements: low * (x.zChannels + top) });
  if (x.midAttention) moments.push({ name: 'mid attention', elements: midAttentionPeak(top, low, x.attention) });
  let cin = top;
  for (let i = levels - 1; i >= 0; i--) {
    const p = pixelsAt(i);
    for (let b = 0; b < x.resBlocks; b++) {
      moments.push({ name: `level ${i} residual block ${b}`, elements: resBlockPeak(cin, x.channels[i], p) });
      cin = x.channels[i];
    }
    if (i !== 0) moments.push({ name: `level ${i} upsample`, elements: 2 * cin * pixelsAt(i - 1) });
  }
  moments.push({ name: 'norm_out + conv_out', elements: full * (3 * cin + x.imageChannels) });
  return pick(moments);
}
