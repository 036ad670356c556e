// The OmniGen2 diffusion transformer (diffusers `OmniGen2Transformer2DModel` keys) built as an
// ONNX graph from the checkpoint's own tensors, and the runtime wrapper a pipeline calls once per
// forward. Behaviour follows VectorSpaceLab/OmniGen2 (`transformer_omnigen2.py`, `repo.py`,
// `block_lumina2.py`, `attention_processor.py`); spec/pipelines.md §2.4.
//
// One forward, batch B (every sample has the same output size; text lengths and reference
// counts may differ):
// 1. temb = TimestepEmbedding(sinusoid(t)) (sinusoid on the host, see `omniGen2TimestepProjection`).
// 2. Text [B, L, text_dim] -> RMSNorm -> Linear -> context_refiner blocks (no modulation), with the
//    text padding mask and the text positions.
// 3. Noise tokens -> x_embedder -> noise_refiner blocks (modulated by temb).
// 4. Every reference is its own sequence: ref_image_patch_embedder + image_index_embedding[j]
//    (j = the reference's index within its sample) -> ref_image_refiner blocks, all references of
//    the batch stacked as [R, L_ref_max] with a key padding mask, each modulated by its sample's temb.
// 5. Per sample the joint sequence [valid text | ref_1 … ref_n | noise] (padding after it, masked)
//    is gathered from the three streams by host-computed indices -> the main `layers`.
// 6. The noise tokens are gathered out -> norm_out (LayerNorm without affine, scale only from
//    temb) -> linear_2; the host unpatchifies them (channel fastest).
//
// Blocks: attention with q/k RMSNorm per head, Omni-RoPE (complex rotation of adjacent channel
// pairs, tables from host float64 values), GQA (kv head g serves query heads g·rep … g·rep+rep−1),
// softmax scale 1/√head_dim; modulated blocks: (scale_msa, gate_msa, scale_mlp, gate_mlp) =
// norm1.linear(SiLU(temb)), h += tanh(gate_msa)·norm2(attn(norm1.norm(h)·(1+scale_msa))),
// h += tanh(gate_mlp)·ffn_norm2(FFN(ffn_norm1(h)·(1+scale_mlp))); FFN = linear_2(silu(linear_1 x)·linear_3 x).
// Everything is float32 (weights stored as bf16/f16 are cast inside the graph).
import ort from 'onnxruntime-node';
import { type Weights, SafetensorsError, elementCount } from '../runtime/safetensors.js';
import { type BuiltModel, type Dim, type ElemType, type Value, GraphBuilder, float } from '../runtime/graph.js';
import { linear, rmsNorm, silu, splitLast, weightF32 } from '../runtime/nn.js';
import type { ExecutionProvider, SessionOptions } from '../runtime/sessions.js';
import {
  type BlockGroup, type BlockRange, type GroupSessionCounts, BlockGroupRunner, blockStateName, planBlockGroups, storedBlockBytes, summarizeGroupGraphs,
} from '../runtime/block-groups.js';
import { countNumberedModules, shapeOfRank } from './checkpoint-keys.js';
import { HfConfig, hfConfigBeside } from './hf-config.js';
import { ropeTables } from './rope.js';
import { type AttentionKind, attention, defaultAttentionFor } from './attention.js';
import {
  type OmniGen2Layout, type TokenGrid, omniGen2PositionIds, patchifyOmniGen2, unpatchifyOmniGen2,
} from '../sampling/omnigen2-tokens.js';

/** Every size and setting of an OmniGen2 transformer. */
export interface OmniGen2TransformerConfig {
  patchSize: number;
  inChannels: number;
  outChannels: number;
  /** Width of a patchified token: patch² · in_channels. */
  tokenDim: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Main blocks (`layers.N`). */
  layers: number;
  noiseRefiners: number;
  refRefiners: number;
  contextRefiners: number;
  /** SwiGLU inner width. */
  ffnDim: number;
  /** MLLM hidden-state width (caption embedder input). */
  textDim: number;
  /** Width of the sinusoidal timestep projection (timestep_embedder input). */
  timeFreqDim: number;
  /** Width of temb (timestep_embedder output, modulation input). */
  timeEmbedDim: number;
  /** Rows of `image_index_embedding`: the most references one sample may have. */
  maxReferences: number;
  normEps: number;
  axesDim: number[];
  axesLens: number[];
  timestepScale: number;
  theta: number;
  /** The config.json read. */
  source: string;
}

/** RoPE base of `OmniGen2RotaryPosEmbed` (fixed in the reference, not a config field). */
export const OMNIGEN2_ROPE_THETA = 10000;
/** q/k RMSNorm eps (`Attention(qk_norm="rms_norm", eps=1e-5)`). */
const QK_NORM_EPS = 1e-5;
/** norm_out LayerNorm eps. */
const NORM_OUT_EPS = 1e-6;
const MAX_PERIOD = 10000;
/** `OmniGen2Transformer2DModel.__init__` defaults for fields a config.json may omit. */
const DEFAULTS = { patch_size: 2, in_channels: 16, norm_eps: 1e-5, axes_dim_rope: [32, 32, 32], axes_lens: [300, 512, 512], timestep_scale: 1.0, multiple_of: 256 };

const REFINERS = ['noise_refiner', 'ref_image_refiner', 'context_refiner'] as const;

function intList(cfg: HfConfig, key: string, fallback: readonly number[]): number[] {
  const v = cfg.data[key];
  if (v === undefined || v === null) return [...fallback];
  if (!Array.isArray(v) || v.length !== 3 || !v.every((n) => Number.isInteger(n) && (n as number) > 0)) {
    throw new Error(`${cfg.file}: "${key}" must be a list of three positive integers, got ${JSON.stringify(v)}`);
  }
  return v as number[];
}

export interface OmniGen2TransformerConfigOptions {
  /** config.json to read; default: the one beside the checkpoint (required: RoPE axes are not in the weights). */
  configFile?: string;
}

/** Sizes from the tensor shapes, RoPE/timestep settings from config.json (cross-checked). */
export function readOmniGen2TransformerConfig(w: Weights, opts: OmniGen2TransformerConfigOptions = {}): OmniGen2TransformerConfig {
  if (!w.has('x_embedder.weight')) {
    throw new SafetensorsError(w.path, 'has no "x_embedder.weight"; not an OmniGen2 transformer checkpoint (diffusers keys expected)');
  }
  const [hidden, tokenDim] = shapeOfRank(w, 'x_embedder.weight', 2);
  const layers = countNumberedModules(w, 'layers');
  if (layers === 0) throw new SafetensorsError(w.path, 'has no "layers.N" tensors; not an OmniGen2 transformer checkpoint');
  const [noiseRefiners, refRefiners, contextRefiners] = REFINERS.map((p) => countNumberedModules(w, p));
  const a = 'layers.0.attn';
  const [headDim] = shapeOfRank(w, `${a}.norm_q.weight`, 1);
  const [qRows] = shapeOfRank(w, `${a}.to_q.weight`, 2);
  const [kRows] = shapeOfRank(w, `${a}.to_k.weight`, 2);
  if (headDim <= 0 || qRows % headDim !== 0 || kRows % headDim !== 0) {
    throw new SafetensorsError(w.path, `"${a}.norm_q.weight" has ${headDim} entries (head_dim), which does not divide the ${qRows} rows of "${a}.to_q.weight" and the ${kRows} rows of "${a}.to_k.weight"`);
  }
  const heads = qRows / headDim;
  const kvHeads = kRows / headDim;
  if (heads % kvHeads !== 0) throw new SafetensorsError(w.path, `${heads} query heads are not a multiple of ${kvHeads} key/value heads ("${a}.to_q/to_k.weight")`);
  const [ffnDim] = shapeOfRank(w, 'layers.0.feed_forward.linear_1.weight', 2);
  const [, textDim] = shapeOfRank(w, 'time_caption_embed.caption_embedder.1.weight', 2);
  const [timeEmbedDim, timeFreqDim] = shapeOfRank(w, 'time_caption_embed.timestep_embedder.linear_1.weight', 2);
  const [maxReferences] = shapeOfRank(w, 'image_index_embedding', 2);
  const [outTokenDim] = shapeOfRank(w, 'norm_out.linear_2.weight', 2);

  const file = opts.configFile ?? hfConfigBeside(w.path);
  if (!file) {
    throw new Error(`${w.path}: no config.json beside the checkpoint; the OmniGen2 transformer needs it for axes_dim_rope, axes_lens and timestep_scale`);
  }
  const c = HfConfig.read(file, 'OmniGen2 transformer');
  const patchSize = c.number('patch_size', { integer: true, positive: true }) ?? DEFAULTS.patch_size;
  const inChannels = c.number('in_channels', { integer: true, positive: true }) ?? DEFAULTS.in_channels;
  if (patchSize * patchSize * inChannels !== tokenDim) {
    throw new Error(`${file}: patch_size ${patchSize} and in_channels ${inChannels} give ${patchSize * patchSize * inChannels}-wide tokens, but "x_embedder.weight" takes ${tokenDim}`);
  }
  if (outTokenDim % (patchSize * patchSize) !== 0) {
    throw new SafetensorsError(w.path, `"norm_out.linear_2.weight" has ${outTokenDim} rows, not a multiple of patch_size² = ${patchSize * patchSize}`);
  }
  const outChannels = outTokenDim / (patchSize * patchSize);
  c.expectSize('hidden_size', hidden, '"x_embedder.weight"');
  c.expectSize('num_layers', layers, 'the "layers.N" tensors');
  c.expectSize('num_attention_heads', heads, `"${a}.to_q.weight" / head_dim`);
  c.expectSize('num_kv_heads', kvHeads, `"${a}.to_k.weight" / head_dim`);
  c.expectSize('text_feat_dim', textDim, '"time_caption_embed.caption_embedder.1.weight"');
  c.expectSize('out_channels', outChannels, '"norm_out.linear_2.weight" / patch_size²');
  const refinerCfg = c.number('num_refiner_layers', { integer: true });
  if (refinerCfg !== undefined) {
    REFINERS.forEach((p, i) => {
      const n = [noiseRefiners, refRefiners, contextRefiners][i];
      if (n !== refinerCfg) throw new Error(`${file}: "num_refiner_layers" is ${refinerCfg} but the checkpoint has ${n} "${p}.N" blocks`);
    });
  }
  const multipleOf = c.number('multiple_of', { integer: true, positive: true }) ?? DEFAULTS.multiple_of;
  const ffnMult = c.number('ffn_dim_multiplier', { positive: true });
  const inner = ffnMult === undefined ? 4 * hidden : Math.trunc(ffnMult * 4 * hidden);
  const ffnFromConfig = multipleOf * Math.ceil(inner / multipleOf);
  if (ffnFromConfig !== ffnDim) {
    throw new Error(`${file}: multiple_of ${multipleOf}${ffnMult === undefined ? '' : ` and ffn_dim_multiplier ${ffnMult}`} give a feed-forward width of ${ffnFromConfig}, but "layers.0.feed_forward.linear_1.weight" has ${ffnDim} rows`);
  }
  const axesDim = intList(c, 'axes_dim_rope', DEFAULTS.axes_dim_rope);
  const axesLens = intList(c, 'axes_lens', DEFAULTS.axes_lens);
  const axesSum = axesDim.reduce((s, d) => s + d, 0);
  if (axesSum !== headDim || axesDim.some((d) => d % 2 !== 0)) {
    throw new Error(`${file}: "axes_dim_rope" [${axesDim.join(', ')}] must be even sizes summing to the head size ${headDim} ("${a}.norm_q.weight")`);
  }
  if (timeFreqDim % 2 !== 0) throw new SafetensorsError(w.path, `"time_caption_embed.timestep_embedder.linear_1.weight" takes ${timeFreqDim} inputs; the sinusoidal projection needs an even width`);
  const cfg: OmniGen2TransformerConfig = {
    patchSize, inChannels, outChannels, tokenDim, hidden, heads, kvHeads, headDim, layers,
    noiseRefiners, refRefiners, contextRefiners, ffnDim, textDim, timeFreqDim, timeEmbedDim, maxReferences,
    normEps: c.number('norm_eps', { positive: true }) ?? DEFAULTS.norm_eps,
    axesDim, axesLens,
    timestepScale: c.number('timestep_scale') ?? DEFAULTS.timestep_scale,
    theta: OMNIGEN2_ROPE_THETA,
    source: file,
  };
  validateOmniGen2TransformerWeights(w, cfg);
  return cfg;
}

/** Every tensor the graph reads, with its shape. */
export function omniGen2TransformerTensorShapes(cfg: OmniGen2TransformerConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const H = cfg.hidden;
  const lin = (p: string, out: number, inp: number, bias: boolean) => {
    m.set(`${p}.weight`, [out, inp]);
    if (bias) m.set(`${p}.bias`, [out]);
  };
  lin('x_embedder', H, cfg.tokenDim, true);
  lin('ref_image_patch_embedder', H, cfg.tokenDim, true);
  m.set('image_index_embedding', [cfg.maxReferences, H]);
  lin('time_caption_embed.timestep_embedder.linear_1', cfg.timeEmbedDim, cfg.timeFreqDim, true);
  lin('time_caption_embed.timestep_embedder.linear_2', cfg.timeEmbedDim, cfg.timeEmbedDim, true);
  m.set('time_caption_embed.caption_embedder.0.weight', [cfg.textDim]);
  lin('time_caption_embed.caption_embedder.1', H, cfg.textDim, true);
  const block = (p: string, modulated: boolean) => {
    lin(`${p}.attn.to_q`, cfg.heads * cfg.headDim, H, false);
    lin(`${p}.attn.to_k`, cfg.kvHeads * cfg.headDim, H, false);
    lin(`${p}.attn.to_v`, cfg.kvHeads * cfg.headDim, H, false);
    lin(`${p}.attn.to_out.0`, H, cfg.heads * cfg.headDim, false);
    m.set(`${p}.attn.norm_q.weight`, [cfg.headDim]);
    m.set(`${p}.attn.norm_k.weight`, [cfg.headDim]);
    lin(`${p}.feed_forward.linear_1`, cfg.ffnDim, H, false);
    lin(`${p}.feed_forward.linear_2`, H, cfg.ffnDim, false);
    lin(`${p}.feed_forward.linear_3`, cfg.ffnDim, H, false);
    if (modulated) {
      lin(`${p}.norm1.linear`, 4 * H, cfg.timeEmbedDim, true);
      m.set(`${p}.norm1.norm.weight`, [H]);
    } else {
      m.set(`${p}.norm1.weight`, [H]);
    }
    for (const n of ['norm2', 'ffn_norm1', 'ffn_norm2']) m.set(`${p}.${n}.weight`, [H]);
  };
  for (let i = 0; i < cfg.noiseRefiners; i++) block(`noise_refiner.${i}`, true);
  for (let i = 0; i < cfg.refRefiners; i++) block(`ref_image_refiner.${i}`, true);
  for (let i = 0; i < cfg.contextRefiners; i++) block(`context_refiner.${i}`, false);
  for (let i = 0; i < cfg.layers; i++) block(`layers.${i}`, true);
  lin('norm_out.linear_1', H, cfg.timeEmbedDim, true);
  lin('norm_out.linear_2', cfg.patchSize * cfg.patchSize * cfg.outChannels, H, true);
  return m;
}

/** Presence, shape and dtype of every tensor the graph reads (errors name the key). */
export function validateOmniGen2TransformerWeights(w: Weights, cfg: OmniGen2TransformerConfig): void {
  for (const [key, shape] of omniGen2TransformerTensorShapes(cfg)) {
    w.expectShape(key, shape);
    const dt = w.info(key).dtype;
    if (dt !== 'F32' && dt !== 'F16' && dt !== 'BF16') {
      throw new SafetensorsError(w.path, `tensor "${key}" is ${dt}; the OmniGen2 transformer graph reads F32, F16 or BF16 weights`);
    }
  }
}

/** Elements of all weights the graph reads. */
export function omniGen2TransformerParameterCount(cfg: OmniGen2TransformerConfig): number {
  let n = 0;
  for (const s of omniGen2TransformerTensorShapes(cfg).values()) n += elementCount(s);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Graph

/** Graph input/output names (see `omniGen2Feeds` for what each holds). */
export const OMNIGEN2_TRANSFORMER_IO = {
  /** float32 [B, N, token_dim]: patchified noise latents. */
  noiseTokens: 'noise_tokens',
  /** float32 [R, L_ref, token_dim]: every reference of the batch, padded to the longest. */
  refTokens: 'ref_tokens',
  /** float32 [B, L, text_dim]: MLLM hidden states, right-padded. */
  text: 'text',
  /** float32 [B, time_freq_dim]: sinusoidal timestep projection. */
  timestepProj: 'timestep_proj',
  /** float32 [rows, head_dim/2]: RoPE cos/sin rows (row 0 = padding, all zero). */
  ropeCos: 'rope_cos',
  ropeSin: 'rope_sin',
  /** int64 [B, L] / int32 [B, L]: RoPE row and key mask of every text position. */
  textRope: 'text_rope_index',
  textMask: 'text_key_mask',
  /** int64 [R, L_ref] / int32 [R, L_ref]: same for the references. */
  refRope: 'ref_rope_index',
  refMask: 'ref_key_mask',
  /** int64 [R]: the sample each reference belongs to (its temb). */
  refSample: 'ref_sample',
  /** int64 [R]: the reference's index within its sample (image_index_embedding row). */
  refImageIndex: 'ref_image_index',
  /** int64 [B, N]: RoPE row of every noise token. */
  noiseRope: 'noise_rope_index',
  /** int64 [B, S]: row of the stream pool [text B·L | refs R·L_ref | noise B·N] for each joint position. */
  jointIndex: 'joint_index',
  jointRope: 'joint_rope_index',
  /** int32 [B, S]. */
  jointMask: 'joint_key_mask',
  /** int64 [B, N]: row of the flattened joint sequence [B·S] holding each noise token. */
  outputIndex: 'output_index',
  /** float32 [B, N, patch²·out_channels]. */
  output: 'noise_pred',
} as const;

export interface OmniGen2TransformerBuildOptions {
  config?: OmniGen2TransformerConfig;
  name?: string;
  /** Attention form (see `attention.ts`). Default 'fused'. */
  attention?: AttentionKind;
  /** Unfused attention only: scores computed in this many query chunks (`AttentionOptions.queryChunks`). Default 1. */
  attentionQueryChunks?: number;
}

interface Ctx {
  b: GraphBuilder;
  w: Weights;
  cfg: OmniGen2TransformerConfig;
  ropeCos: Value;
  ropeSin: Value;
  kind: AttentionKind;
  queryChunks: number | undefined;
  one: Value;
}

/** A stream through a stack of blocks: its RoPE rows, key mask and SiLU(temb) (modulated only). */
interface StreamCtx {
  rope: Value;
  mask: Value | null;
  tembAct: Value | null;
}

/** [B, S, heads·hd] -> RMSNorm over each head's hd channels (learnable weight) -> [B, S, heads·hd]. */
function headNorm(c: Ctx, x: Value, key: string, heads: number): Value {
  const { b, cfg } = c;
  const modulePath = key.slice(0, key.lastIndexOf('.'));
  const x4 = b.scope(modulePath, () => b.op('Reshape', [x, b.ints([0, 0, heads, cfg.headDim])], {}, { name: 'ReshapeHeads' }));
  const n = rmsNorm(b, c.w, x4, key, QK_NORM_EPS);
  return b.scope(modulePath, () => b.op('Reshape', [n, b.ints([0, 0, heads * cfg.headDim])], {}, { name: 'ReshapeFlat' }));
}

/** [B, S, kv·hd] -> [B, S, kv·rep·hd]: kv head g serves query heads g·rep … g·rep+rep−1 (repeat_interleave). */
function expandKvHeads(c: Ctx, x: Value, name: string): Value {
  const { b, cfg } = c;
  const rep = cfg.heads / cfg.kvHeads;
  if (rep === 1) return x;
  const split = b.op('Reshape', [x, b.ints([0, 0, cfg.kvHeads, 1, cfg.headDim])], {}, { name: `Reshape_${name}_heads` });
  const expanded = b.op('Expand', [split, b.ints([1, 1, cfg.kvHeads, rep, cfg.headDim])], {}, { name: `Expand_${name}` });
  return b.op('Reshape', [expanded, b.ints([0, 0, cfg.heads * cfg.headDim])], {}, { name: `Reshape_${name}_merge` });
}

function selfAttention(c: Ctx, p: string, x: Value, s: StreamCtx): Value {
  const { b, w, cfg } = c;
  const q = headNorm(c, linear(b, w, `${p}.to_q`, x), `${p}.norm_q.weight`, cfg.heads);
  const k = headNorm(c, linear(b, w, `${p}.to_k`, x), `${p}.norm_k.weight`, cfg.kvHeads);
  const v = linear(b, w, `${p}.to_v`, x);
  const o = b.scope(p, () => {
    const rope = (t: Value, heads: number, name: string) => b.op('RotaryEmbedding', [t, s.rope, c.ropeCos, c.ropeSin],
      { interleaved: 1, num_heads: heads }, { domain: 'com.microsoft', name });
    const qr = rope(q, cfg.heads, 'RotaryEmbedding_q');
    const kr = expandKvHeads(c, rope(k, cfg.kvHeads, 'RotaryEmbedding_k'), 'k');
    const vr = expandKvHeads(c, v, 'v');
    return attention(b, qr, kr, vr, {
      kind: c.kind, heads: cfg.heads, scale: 1 / Math.sqrt(cfg.headDim), headDim: cfg.headDim,
      keyPaddingMask: s.mask ?? undefined, queryChunks: c.kind === 'unfused' ? c.queryChunks : undefined,
    });
  });
  return linear(b, w, `${p}.to_out.0`, o);
}

function feedForward(c: Ctx, p: string, x: Value): Value {
  const { b, w } = c;
  const h1 = linear(b, w, `${p}.linear_1`, x);
  const h3 = linear(b, w, `${p}.linear_3`, x);
  const g = b.scope(p, () => b.op('Mul', [silu(b, h1), h3], {}, { name: 'SwiGLU' }));
  return linear(b, w, `${p}.linear_2`, g);
}

/** One OmniGen2TransformerBlock at module path `p` (modulated when the stream has temb). */
function transformerBlock(c: Ctx, p: string, x: Value, s: StreamCtx): Value {
  const { b, w, cfg } = c;
  const eps = cfg.normEps;
  if (!s.tembAct) {
    const h = rmsNorm(b, w, x, `${p}.norm1.weight`, eps);
    const a = rmsNorm(b, w, selfAttention(c, `${p}.attn`, h, s), `${p}.norm2.weight`, eps);
    const x1 = b.scope(p, () => b.op('Add', [x, a], {}, { name: 'Residual_attn' }));
    const f = rmsNorm(b, w, feedForward(c, `${p}.feed_forward`, rmsNorm(b, w, x1, `${p}.ffn_norm1.weight`, eps)), `${p}.ffn_norm2.weight`, eps);
    return b.scope(p, () => b.op('Add', [x1, f], {}, { name: 'Residual_ffn' }));
  }
  const mod = linear(b, w, `${p}.norm1.linear`, s.tembAct);
  const [scaleMsa, gateMsa, scaleMlp, gateMlp] = b.scope(`${p}.norm1`, () =>
    splitLast(b, b.op('Unsqueeze', [mod, b.ints([1])]), [cfg.hidden, cfg.hidden, cfg.hidden, cfg.hidden]));
  const onePlus = (v: Value, name: string) => b.op('Add', [v, c.one], {}, { name: `OnePlus_${name}` });
  const n1 = rmsNorm(b, w, x, `${p}.norm1.norm.weight`, eps);
  const h = b.scope(`${p}.norm1`, () => b.op('Mul', [n1, onePlus(scaleMsa, 'scale_msa')], {}, { name: 'Scale_msa' }));
  const a = rmsNorm(b, w, selfAttention(c, `${p}.attn`, h, s), `${p}.norm2.weight`, eps);
  const x1 = b.scope(p, () => b.op('Add', [x, b.op('Mul', [b.op('Tanh', [gateMsa], {}, { name: 'Tanh_gate_msa' }), a], {}, { name: 'Gate_msa' })], {}, { name: 'Residual_attn' }));
  const n2 = rmsNorm(b, w, x1, `${p}.ffn_norm1.weight`, eps);
  const hf = b.scope(p, () => b.op('Mul', [n2, onePlus(scaleMlp, 'scale_mlp')], {}, { name: 'Scale_mlp' }));
  const f = rmsNorm(b, w, feedForward(c, `${p}.feed_forward`, hf), `${p}.ffn_norm2.weight`, eps);
  return b.scope(p, () => b.op('Add', [x1, b.op('Mul', [b.op('Tanh', [gateMlp], {}, { name: 'Tanh_gate_mlp' }), f], {}, { name: 'Gate_mlp' })], {}, { name: 'Residual_ffn' }));
}

/** Names that carry state between the block groups of a streamed transformer (see `blockStateName`). */
export const OMNIGEN2_GROUP_IO = {
  /** float32 [B, L, H] / [B, N, H] / [R, L_ref, H]: the three streams before the joint layers. */
  textHidden: 'text_hidden',
  noiseHidden: 'noise_hidden',
  refHidden: 'ref_hidden',
  /** float32 [B, S, H]: the joint sequence of the main layers. */
  jointHidden: 'joint_hidden',
  /** float32 [B, time_embed_dim]: SiLU(temb), every modulation's input (computed by the first group). */
  tembAct: 'temb_act',
} as const;

/** Module path of every repeated block in execution order: context_refiner, noise_refiner, ref_image_refiner, layers. */
export function omniGen2BlockPaths(cfg: Pick<OmniGen2TransformerConfig, 'contextRefiners' | 'noiseRefiners' | 'refRefiners' | 'layers'>): string[] {
  const stack = (p: string, n: number) => Array.from({ length: n }, (_, i) => `${p}.${i}`);
  return [
    ...stack('context_refiner', cfg.contextRefiners), ...stack('noise_refiner', cfg.noiseRefiners),
    ...stack('ref_image_refiner', cfg.refRefiners), ...stack('layers', cfg.layers),
  ];
}

type Stream = 'text' | 'noise' | 'ref';

/**
 * Emit blocks [range.first, range.end) of `omniGen2BlockPaths`, with the embedders in the first
 * group and norm_out in the last. Before the main layers, each stream's state is named by the
 * next block of that stream (its index clamped to the stream's blocks), so a group only takes and
 * returns the streams it works on; the group holding layers.0 gathers the joint sequence.
 * The whole range gives the full network with the OMNIGEN2_TRANSFORMER_IO interface.
 */
function emitOmniGen2(b: GraphBuilder, w: Weights, cfg: OmniGen2TransformerConfig, form: { kind: AttentionKind; queryChunks?: number }, range: BlockRange): void {
  const io = OMNIGEN2_TRANSFORMER_IO;
  const gio = OMNIGEN2_GROUP_IO;
  const H = cfg.hidden;
  const C = cfg.contextRefiners;
  const J = C + cfg.noiseRefiners + cfg.refRefiners;
  const total = J + cfg.layers;
  const first = range.first === 0;
  const last = range.end === total;
  const span: Record<Stream, [number, number]> = { text: [0, C], noise: [C, C + cfg.noiseRefiners], ref: [C + cfg.noiseRefiners, J] };
  const stateName: Record<Stream, string> = { text: gio.textHidden, noise: gio.noiseHidden, ref: gio.refHidden };
  const streamDims: Record<Stream, string[]> = { text: ['batch', 'text_len'], noise: ['batch', 'n_noise'], ref: ['n_refs', 'ref_len'] };
  const at = (s: Stream, k: number) => blockStateName(stateName[s], Math.min(Math.max(k, span[s][0]), span[s][1]));

  const pairs = cfg.headDim / 2;
  const feedTypes: Record<string, [ElemType, Dim[]]> = {
    [io.noiseTokens]: ['float32', ['batch', 'n_noise', cfg.tokenDim]],
    [io.refTokens]: ['float32', ['n_refs', 'ref_len', cfg.tokenDim]],
    [io.text]: ['float32', ['batch', 'text_len', cfg.textDim]],
    [io.timestepProj]: ['float32', ['batch', cfg.timeFreqDim]],
    [io.ropeCos]: ['float32', ['rope_rows', pairs]],
    [io.ropeSin]: ['float32', ['rope_rows', pairs]],
    [io.textRope]: ['int64', ['batch', 'text_len']],
    [io.textMask]: ['int32', ['batch', 'text_len']],
    [io.refRope]: ['int64', ['n_refs', 'ref_len']],
    [io.refMask]: ['int32', ['n_refs', 'ref_len']],
    [io.refSample]: ['int64', ['n_refs']],
    [io.refImageIndex]: ['int64', ['n_refs']],
    [io.noiseRope]: ['int64', ['batch', 'n_noise']],
    [io.jointIndex]: ['int64', ['batch', 'seq']],
    [io.jointRope]: ['int64', ['batch', 'seq']],
    [io.jointMask]: ['int32', ['batch', 'seq']],
    [io.outputIndex]: ['int64', ['batch', 'n_noise']],
  };
  const feeds = new Map<string, Value>();
  /** A host feed, declared as a graph input on first use (the whole network declares all, in IO order). */
  const feed = (name: string): Value => {
    let v = feeds.get(name);
    if (!v) {
      const [type, dims] = feedTypes[name];
      v = b.input(name, type, dims);
      feeds.set(name, v);
    }
    return v;
  };
  if (first && last) for (const name of Object.keys(feedTypes)) feed(name);

  const c: Ctx = { b, w, cfg, ropeCos: feed(io.ropeCos), ropeSin: feed(io.ropeSin), kind: form.kind, queryChunks: form.queryChunks, one: b.constant(new Float32Array([1]), [], 'float32', 'one') };
  const cur: Record<Stream, Value | null> = { text: null, noise: null, ref: null };
  const changed = new Set<Stream>();
  let joint: Value | null = null;
  let tembAct: Value | null = null;
  if (first) {
    const te = 'time_caption_embed.timestep_embedder';
    const t1 = linear(b, w, `${te}.linear_1`, feed(io.timestepProj));
    const temb = linear(b, w, `${te}.linear_2`, b.scope(te, () => silu(b, t1)));
    tembAct = b.scope('temb', () => silu(b, temb));
    // Text: caption embedder (the context refiner has no modulation).
    const ce = 'time_caption_embed.caption_embedder';
    cur.text = linear(b, w, `${ce}.1`, rmsNorm(b, w, feed(io.text), `${ce}.0.weight`, cfg.normEps));
    // Noise: x_embedder (one size per batch: no padding).
    cur.noise = linear(b, w, 'x_embedder', feed(io.noiseTokens));
    // References: own patch embedder + per-reference index embedding, refined one image per row.
    const ref = linear(b, w, 'ref_image_patch_embedder', feed(io.refTokens));
    cur.ref = b.scope('image_index_embedding', () => {
      const rows = b.op('Gather', [weightF32(b, w, 'image_index_embedding'), feed(io.refImageIndex)], { axis: 0 });
      return b.op('Add', [ref, b.op('Unsqueeze', [rows, b.ints([1])])], {}, { name: 'Add_index_embedding' });
    });
    for (const s of ['text', 'noise', 'ref'] as const) changed.add(s);
  }
  const temb = (): Value => (tembAct ??= b.input(gio.tembAct, 'float32', ['batch', cfg.timeEmbedDim]));
  const stream = (s: Stream): Value => (cur[s] ??= b.input(at(s, range.first), 'float32', [...streamDims[s], H]));
  let refTemb: Value | null = null;

  for (let i = range.first; i < range.end; i++) {
    if (i < C) {
      cur.text = transformerBlock(c, `context_refiner.${i}`, stream('text'), { rope: feed(io.textRope), mask: feed(io.textMask), tembAct: null });
      changed.add('text');
    } else if (i < span.noise[1]) {
      cur.noise = transformerBlock(c, `noise_refiner.${i - C}`, stream('noise'), { rope: feed(io.noiseRope), mask: null, tembAct: temb() });
      changed.add('noise');
    } else if (i < J) {
      refTemb ??= b.scope('ref_image_refiner', () => b.op('Gather', [temb(), feed(io.refSample)], { axis: 0 }, { name: 'Gather_temb' }));
      cur.ref = transformerBlock(c, `ref_image_refiner.${i - span.ref[0]}`, stream('ref'), { rope: feed(io.refRope), mask: feed(io.refMask), tembAct: refTemb });
      changed.add('ref');
    } else {
      if (!joint) {
        if (range.first <= J) {
          // Joint sequence per sample, gathered from the pool of all stream tokens.
          const [text, ref, noise] = [stream('text'), stream('ref'), stream('noise')];
          joint = b.scope('joint', () => {
            const flat = (x: Value, name: string) => b.op('Reshape', [x, b.ints([-1, H])], {}, { name: `Flatten_${name}` });
            const pool = b.op('Concat', [flat(text, 'text'), flat(ref, 'refs'), flat(noise, 'noise')], { axis: 0 }, { name: 'Concat_pool' });
            return b.op('Gather', [pool, feed(io.jointIndex)], { axis: 0 }, { name: 'Gather_joint' });
          });
        } else {
          joint = b.input(blockStateName(gio.jointHidden, range.first), 'float32', ['batch', 'seq', H]);
        }
      }
      joint = transformerBlock(c, `layers.${i - J}`, joint, { rope: feed(io.jointRope), mask: feed(io.jointMask), tembAct: temb() });
    }
  }

  if (!last) {
    if (joint) {
      b.output(joint, blockStateName(gio.jointHidden, range.end), 'float32', ['batch', 'seq', H]);
    } else {
      for (const s of ['text', 'noise', 'ref'] as const) {
        if (changed.has(s)) b.output(cur[s]!, at(s, range.end), 'float32', [...streamDims[s], H]);
      }
    }
    if (first) b.output(tembAct!, gio.tembAct, 'float32', ['batch', cfg.timeEmbedDim]);
    return;
  }
  // Noise tokens only, then norm_out (scale only) and the projection to patch tokens.
  const hidden = joint!;
  const out = b.scope('norm_out', () => {
    const flat = b.op('Reshape', [hidden, b.ints([-1, H])], {}, { name: 'Flatten_joint' });
    const tokens = b.op('Gather', [flat, feed(io.outputIndex)], { axis: 0 }, { name: 'Gather_noise_tokens' });
    const ones = b.constant(new Float32Array(H).fill(1), [H], 'float32', 'norm_out_ones');
    const n = b.op('LayerNormalization', [tokens, ones], { axis: -1, epsilon: float(NORM_OUT_EPS) });
    const scale = linear(b, w, 'norm_out.linear_1', temb());
    const s1 = b.op('Unsqueeze', [b.op('Add', [scale, c.one], {}, { name: 'OnePlus_scale' }), b.ints([1])]);
    return b.op('Mul', [n, s1], {}, { name: 'Scale' });
  });
  const y = linear(b, w, 'norm_out.linear_2', out);
  b.output(y, io.output, 'float32', ['batch', 'n_noise', cfg.patchSize * cfg.patchSize * cfg.outChannels]);
}

/**
 * The OmniGen2 transformer graph over already patchified tokens with host-computed RoPE rows,
 * masks and gather indices (all produced by `omniGen2Feeds`); output: the noise tokens' prediction.
 */
export function buildOmniGen2Transformer(w: Weights, opts: OmniGen2TransformerBuildOptions = {}): BuiltModel {
  const cfg = opts.config ?? readOmniGen2TransformerConfig(w);
  if (opts.config) validateOmniGen2TransformerWeights(w, cfg); // readOmniGen2TransformerConfig validates on its own
  const b = new GraphBuilder(opts.name ?? 'omnigen2_transformer', { architecture: 'OmniGen2Transformer2DModel', config: JSON.stringify(cfg), source: w.path });
  emitOmniGen2(b, w, cfg, { kind: opts.attention ?? 'fused', queryChunks: opts.attentionQueryChunks }, { first: 0, end: omniGen2BlockPaths(cfg).length });
  return b.build();
}

/**
 * One group of a streamed transformer: blocks [range.first, range.end) of `omniGen2BlockPaths`.
 * Inputs: the `omniGen2Feeds` tensors its blocks use, `temb_act` (all but the first group) and the
 * states earlier groups returned (OMNIGEN2_GROUP_IO + `blockStateName`); the last group returns
 * the OMNIGEN2_TRANSFORMER_IO output.
 */
export function buildOmniGen2TransformerGroup(w: Weights, range: BlockRange, opts: OmniGen2TransformerBuildOptions = {}): BuiltModel {
  const cfg = opts.config ?? readOmniGen2TransformerConfig(w);
  if (opts.config) validateOmniGen2TransformerWeights(w, cfg);
  const total = omniGen2BlockPaths(cfg).length;
  if (!Number.isInteger(range.first) || !Number.isInteger(range.end) || range.first < 0 || range.end > total || range.first >= range.end) {
    throw new Error(`OmniGen2 transformer block group [${range.first}, ${range.end}) is not a non-empty range of the ${total} blocks`);
  }
  const b = new GraphBuilder(opts.name ?? `omnigen2_transformer_blocks_${range.first}_${range.end}`, { architecture: 'OmniGen2Transformer2DModel', config: JSON.stringify(cfg), source: w.path });
  emitOmniGen2(b, w, cfg, { kind: opts.attention ?? 'fused', queryChunks: opts.attentionQueryChunks }, range);
  return b.build();
}

// ---------------------------------------------------------------------------------------------
// Host-side inputs

/**
 * diffusers `Timesteps(dim, flip_sin_to_cos=True, downscale_freq_shift=0, scale)`: [cos a_k, sin a_k]
 * with a_k = scale·(t·exp(−ln(10000)·k/(dim/2))), rounded to float32 at each step as torch does.
 */
export function omniGen2TimestepProjection(t: number, dim: number, scale: number): Float32Array {
  const f = Math.fround;
  const half = dim / 2;
  const out = new Float32Array(dim);
  const c = f(-Math.log(MAX_PERIOD));
  const tt = f(t);
  for (let k = 0; k < half; k++) {
    const freq = f(Math.exp(f(f(c * k) / half)));
    const a = f(f(scale) * f(tt * freq));
    out[k] = Math.cos(a);
    out[half + k] = Math.sin(a);
  }
  return out;
}

/** A latent image [channels, height, width] (no batch axis). */
export interface OmniGen2Latent {
  readonly data: Float32Array;
  readonly height: number;
  readonly width: number;
}

/** One forward's inputs (batch B). */
export interface OmniGen2ForwardInputs {
  /** Noisy latents [B, in_channels, height, width]. */
  latents: Float32Array;
  height: number;
  width: number;
  /** One timestep per sample, OmniGen2 convention (0 = noise, 1 = data). */
  timesteps: readonly number[];
  /** MLLM hidden states [B, textLen, text_dim], right-padded. */
  text: Float32Array;
  textLen: number;
  /** [B, textLen], 1 = token, 0 = padding (right padding only, at least one token per sample). */
  textMask: ArrayLike<number | bigint>;
  /** References per sample (empty or missing = none); each [in_channels, h, w]. */
  refs?: ReadonlyArray<ReadonlyArray<OmniGen2Latent> | null | undefined>;
}

export type OmniGen2Feeds = Record<string, ort.Tensor>;

/** Valid text length of every sample from a right-padded 0/1 mask. */
export function textLengthsFromMask(mask: ArrayLike<number | bigint>, batch: number, len: number): number[] {
  if (mask.length !== batch * len) throw new Error(`OmniGen2 text mask has ${mask.length} values, expected batch ${batch} × length ${len}`);
  const out: number[] = [];
  for (let i = 0; i < batch; i++) {
    let n = 0;
    for (let j = 0; j < len; j++) {
      const v = Number(mask[i * len + j]);
      if (v !== 0 && v !== 1) throw new Error(`OmniGen2 text mask value ${String(mask[i * len + j])} (sample ${i}, position ${j}) is not 0 or 1`);
      if (v === 1) {
        if (n !== j) throw new Error(`OmniGen2 text mask of sample ${i} is not right-padded (token at position ${j} after padding)`);
        n++;
      }
    }
    if (n === 0) throw new Error(`OmniGen2 text mask of sample ${i} has no tokens`);
    out.push(n);
  }
  return out;
}

/**
 * Everything the graph takes for one forward: patchified tokens, the timestep projection, the
 * RoPE rows (row 0 = zero padding row, then each sample's joint sequence in order) and the index
 * and mask tensors that place text, references and noise in the per-stream and joint sequences.
 * Throws on bad sizes, more references than `image_index_embedding` rows, and RoPE overflow.
 */
export function omniGen2Feeds(cfg: OmniGen2TransformerConfig, inp: OmniGen2ForwardInputs): { feeds: OmniGen2Feeds; layouts: OmniGen2Layout[] } {
  const B = inp.timesteps.length;
  const p = cfg.patchSize;
  const C = cfg.inChannels;
  if (B < 1) throw new Error('OmniGen2 forward: batch is empty (no timesteps)');
  const imgSize = C * inp.height * inp.width;
  if (inp.latents.length !== B * imgSize) {
    throw new Error(`OmniGen2 forward: latents have ${inp.latents.length} values, expected [${B}, ${C}, ${inp.height}, ${inp.width}]`);
  }
  const L = inp.textLen;
  if (!Number.isInteger(L) || L < 1 || inp.text.length !== B * L * cfg.textDim) {
    throw new Error(`OmniGen2 forward: text has ${inp.text.length} values, expected [${B}, ${L}, ${cfg.textDim}]`);
  }
  const textLens = textLengthsFromMask(inp.textMask, B, L);
  if (inp.refs && inp.refs.length !== B) throw new Error(`OmniGen2 forward: references given for ${inp.refs.length} samples, batch is ${B}`);
  if (p <= 0 || inp.height % p !== 0 || inp.width % p !== 0) throw new Error(`OmniGen2 forward: latent ${inp.height}×${inp.width} is not divisible into ${p}×${p} patches`);
  const noiseGrid: TokenGrid = { rows: inp.height / p, cols: inp.width / p };
  const N = noiseGrid.rows * noiseGrid.cols;

  // References: grids, counts.
  const sampleRefs = Array.from({ length: B }, (_, i) => [...(inp.refs?.[i] ?? [])]);
  const layouts: OmniGen2Layout[] = sampleRefs.map((rs, i) => {
    if (rs.length > cfg.maxReferences) {
      throw new Error(`OmniGen2 forward: sample ${i} has ${rs.length} references; this model supports at most ${cfg.maxReferences} (rows of image_index_embedding)`);
    }
    const refs = rs.map((r, j) => {
      if (r.height % p !== 0 || r.width % p !== 0) throw new Error(`OmniGen2 forward: reference ${j} of sample ${i} is ${r.height}×${r.width}, not divisible into ${p}×${p} patches`);
      if (r.data.length !== C * r.height * r.width) {
        throw new Error(`OmniGen2 forward: reference ${j} of sample ${i} has ${r.data.length} values, expected [${C}, ${r.height}, ${r.width}]`);
      }
      return { rows: r.height / p, cols: r.width / p };
    });
    return { textLen: textLens[i], refs, noise: noiseGrid };
  });
  const positions = layouts.map((l, i) => {
    try {
      return omniGen2PositionIds(l, cfg.axesLens);
    } catch (e) {
      throw new Error(`OmniGen2 forward, sample ${i}: ${(e as Error).message}`, { cause: e });
    }
  });
  const seqLens = positions.map((ids) => ids.length / 3);
  const S = Math.max(...seqLens);

  // RoPE rows: row 0 stays zero (padding), then every sample's joint sequence.
  const allIds = new Int32Array(seqLens.reduce((a, n) => a + n, 0) * 3);
  const base: number[] = [];
  let at = 0;
  positions.forEach((ids) => {
    base.push(1 + at / 3);
    allIds.set(ids, at);
    at += ids.length;
  });
  const rope = ropeTables(allIds, cfg.axesDim, cfg.theta);
  const pairs = rope.pairs;
  const rows = rope.tokens + 1;
  const cos = new Float32Array(rows * pairs);
  const sin = new Float32Array(rows * pairs);
  cos.set(rope.cos, pairs);
  sin.set(rope.sin, pairs);

  // Streams.
  const flatRefs = sampleRefs.flatMap((rs, i) => rs.map((r, j) => ({ r, sample: i, index: j, tokens: (r.height / p) * (r.width / p) })));
  const R = Math.max(1, flatRefs.length); // a one-token dummy keeps the graph's shapes non-empty
  const Lr = Math.max(1, ...flatRefs.map((f) => f.tokens));
  const noiseTokens = new Float32Array(B * N * cfg.tokenDim);
  for (let i = 0; i < B; i++) {
    noiseTokens.set(patchifyOmniGen2(inp.latents.subarray(i * imgSize, (i + 1) * imgSize), C, inp.height, inp.width, p), i * N * cfg.tokenDim);
  }
  const refTokens = new Float32Array(R * Lr * cfg.tokenDim);
  const refRope = new BigInt64Array(R * Lr);
  const refMask = new Int32Array(R * Lr);
  const refSample = new BigInt64Array(R);
  const refImageIndex = new BigInt64Array(R);
  if (flatRefs.length === 0) refMask[0] = 1;
  const refStart = new Map<string, number>(); // "sample.index" -> offset of its first token within the sample's sequence
  for (const [i, l] of layouts.entries()) {
    let off = l.textLen;
    l.refs.forEach((g, j) => {
      refStart.set(`${i}.${j}`, off);
      off += g.rows * g.cols;
    });
  }
  flatRefs.forEach((f, k) => {
    refTokens.set(patchifyOmniGen2(f.r.data, C, f.r.height, f.r.width, p), k * Lr * cfg.tokenDim);
    refSample[k] = BigInt(f.sample);
    refImageIndex[k] = BigInt(f.index);
    const start = base[f.sample] + refStart.get(`${f.sample}.${f.index}`)!;
    for (let u = 0; u < f.tokens; u++) {
      refRope[k * Lr + u] = BigInt(start + u);
      refMask[k * Lr + u] = 1;
    }
  });
  const textRope = new BigInt64Array(B * L);
  const textMask = new Int32Array(B * L);
  const noiseRope = new BigInt64Array(B * N);
  const jointIndex = new BigInt64Array(B * S);
  const jointRope = new BigInt64Array(B * S);
  const jointMask = new Int32Array(B * S);
  const outputIndex = new BigInt64Array(B * N);
  const refPoolStart = B * L;
  const noisePoolStart = refPoolStart + R * Lr;
  let flatK = 0;
  for (let i = 0; i < B; i++) {
    const l = layouts[i];
    for (let t = 0; t < l.textLen; t++) {
      textRope[i * L + t] = BigInt(base[i] + t);
      textMask[i * L + t] = 1;
    }
    let s = 0;
    for (let t = 0; t < l.textLen; t++, s++) jointIndex[i * S + s] = BigInt(i * L + t);
    for (let j = 0; j < l.refs.length; j++, flatK++) {
      const n = l.refs[j].rows * l.refs[j].cols;
      for (let u = 0; u < n; u++, s++) jointIndex[i * S + s] = BigInt(refPoolStart + flatK * Lr + u);
    }
    for (let u = 0; u < N; u++, s++) {
      noiseRope[i * N + u] = BigInt(base[i] + s);
      jointIndex[i * S + s] = BigInt(noisePoolStart + i * N + u);
      outputIndex[i * N + u] = BigInt(i * S + s);
    }
    for (let q = 0; q < seqLens[i]; q++) {
      jointRope[i * S + q] = BigInt(base[i] + q);
      jointMask[i * S + q] = 1;
    }
  }
  const timestepProj = new Float32Array(B * cfg.timeFreqDim);
  inp.timesteps.forEach((t, i) => {
    if (!Number.isFinite(t)) throw new Error(`OmniGen2 forward: timestep of sample ${i} is not finite (${t})`);
    timestepProj.set(omniGen2TimestepProjection(t, cfg.timeFreqDim, cfg.timestepScale), i * cfg.timeFreqDim);
  });

  const io = OMNIGEN2_TRANSFORMER_IO;
  const T = (type: 'float32' | 'int64' | 'int32', data: Float32Array | BigInt64Array | Int32Array, dims: number[]) => new ort.Tensor(type, data, dims);
  const feeds: OmniGen2Feeds = {
    [io.noiseTokens]: T('float32', noiseTokens, [B, N, cfg.tokenDim]),
    [io.refTokens]: T('float32', refTokens, [R, Lr, cfg.tokenDim]),
    [io.text]: T('float32', inp.text, [B, L, cfg.textDim]),
    [io.timestepProj]: T('float32', timestepProj, [B, cfg.timeFreqDim]),
    [io.ropeCos]: T('float32', cos, [rows, pairs]),
    [io.ropeSin]: T('float32', sin, [rows, pairs]),
    [io.textRope]: T('int64', textRope, [B, L]),
    [io.textMask]: T('int32', textMask, [B, L]),
    [io.refRope]: T('int64', refRope, [R, Lr]),
    [io.refMask]: T('int32', refMask, [R, Lr]),
    [io.refSample]: T('int64', refSample, [R]),
    [io.refImageIndex]: T('int64', refImageIndex, [R]),
    [io.noiseRope]: T('int64', noiseRope, [B, N]),
    [io.jointIndex]: T('int64', jointIndex, [B, S]),
    [io.jointRope]: T('int64', jointRope, [B, S]),
    [io.jointMask]: T('int32', jointMask, [B, S]),
    [io.outputIndex]: T('int64', outputIndex, [B, N]),
  };
  return { feeds, layouts };
}

export interface OmniGen2TransformerCreateOptions extends Partial<Omit<SessionOptions, 'ep'>> {
  ep: ExecutionProvider;
  config?: OmniGen2TransformerConfig;
  /** Default: `defaultAttentionFor(ep)`. */
  attention?: AttentionKind;
  /** Unfused attention only (ignored by the fused form): query chunks of the scores, e.g. the memory plan's. Default 1. */
  attentionQueryChunks?: number;
  /**
   * Split the blocks (`omniGen2BlockPaths`) into this many contiguous groups of about equal
   * bytes, one graph each, run in sequence every forward (`splitBlockGroups`, the memory planner's
   * split). Default 1: the whole network in one graph.
   */
  streamGroups?: number;
  /**
   * Weight bytes of every block in execution order as the planner priced them
   * (`NetworkMemoryModel.blockBytes(choice, device)`), so the groups are the planned ones.
   * Default: the bytes stored in the checkpoint.
   */
  blockBytes?: readonly number[];
  /**
   * With streamGroups ≥ 2: keep every group's session between forwards. Default false: each
   * forward creates, runs and releases one group's session at a time (peak weights = one group).
   */
  keepGroupsResident?: boolean;
}

/** A built and loaded OmniGen2 transformer; one `forward` per model evaluation. */
export class OmniGen2Transformer {
  private constructor(
    readonly config: OmniGen2TransformerConfig,
    readonly model: Pick<BuiltModel, 'name' | 'parameterCount' | 'externalBytes' | 'nodeCount'>,
    /** Block groups, one graph each (a single group: the whole network). */
    readonly groups: readonly BlockGroup[],
    private readonly runner: BlockGroupRunner,
  ) {}

  static async create(w: Weights, opts: OmniGen2TransformerCreateOptions): Promise<OmniGen2Transformer> {
    const { config, attention, attentionQueryChunks, streamGroups, blockBytes, keepGroupsResident, ...sessionOpts } = opts;
    const cfg = config ?? readOmniGen2TransformerConfig(w);
    const kind = attention ?? defaultAttentionFor(opts.ep);
    const paths = omniGen2BlockPaths(cfg);
    const groups = planBlockGroups(paths.length, streamGroups ?? 1, blockBytes ?? storedBlockBytes(w, paths), 'OmniGen2 transformer');
    const graphs = groups.length === 1
      ? [buildOmniGen2Transformer(w, { config: cfg, attention: kind, attentionQueryChunks })]
      : groups.map((g) => buildOmniGen2TransformerGroup(w, g, { config: cfg, attention: kind, attentionQueryChunks }));
    const runner = await BlockGroupRunner.create(graphs, { ...sessionOpts, ep: opts.ep, resident: groups.length === 1 || keepGroupsResident === true });
    const model = summarizeGroupGraphs(graphs, 'omnigen2_transformer');
    return new OmniGen2Transformer(cfg, model, groups, runner);
  }

  get ep(): ExecutionProvider {
    return this.runner.ep;
  }

  /** Group sessions live now / at most so far, created and released (streaming recreates them every forward). */
  get sessionCounts(): Readonly<GroupSessionCounts> {
    return { ...this.runner.counts };
  }

  /** The predicted velocity for the noise latents, [B, out_channels, height, width]. */
  async forward(inp: OmniGen2ForwardInputs): Promise<Float32Array> {
    const cfg = this.config;
    const { feeds } = omniGen2Feeds(cfg, inp);
    const io = OMNIGEN2_TRANSFORMER_IO;
    const out = await this.runner.run(feeds, [io.output]);
    const tokens = out[io.output].data as Float32Array;
    const B = inp.timesteps.length;
    const p = cfg.patchSize;
    const N = (inp.height / p) * (inp.width / p);
    const outTok = p * p * cfg.outChannels;
    if (tokens.length !== B * N * outTok) throw new Error(`OmniGen2 forward: output has ${tokens.length} values, expected ${B} × ${N} × ${outTok}`);
    const size = cfg.outChannels * inp.height * inp.width;
    const result = new Float32Array(B * size);
    for (let i = 0; i < B; i++) {
      result.set(unpatchifyOmniGen2(tokens.subarray(i * N * outTok, (i + 1) * N * outTok), cfg.outChannels, inp.height, inp.width, p), i * size);
    }
    return result;
  }

  async release(): Promise<void> {
    await this.runner.release();
  }
}
