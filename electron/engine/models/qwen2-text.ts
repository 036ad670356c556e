// The Qwen2 / Qwen2.5 language-model body (the text part of HF `Qwen2_5_VLForConditionalGeneration`,
// also plain `Qwen2ForCausalLM` key layouts) built as an ONNX graph from the checkpoint's own
// tensors, and the runtime wrapper OmniGen2's conditioning calls: token ids + attention mask ->
// final-RMSNorm hidden states (`hidden_states[-1]` of the HF model). The vision tower (`visual.*`)
// and `lm_head` are not read.
//
// Behaviour kept from the HF implementation (transformers 4.51):
// - Text-only M-RoPE: every token has three equal position components (`get_rope_index` without
//   images: cumulative count of valid tokens minus one, padded tokens get 1), so the multimodal
//   rotation reduces to ordinary rotate-half (non-interleaved) RoPE over the whole head.
//   `inv_freq` and the angles are float32 as HF computes them; cos/sin are tabulated here.
// - Attention is causal plus a key-padding mask from `attention_mask`, given to the graph as an
//   additive [B, 1, L, L] bias. A query row with no visible key (only possible with left
//   padding) attends to every key, as SDPA's `_unmask_unattended` makes it.
// - GQA: each key/value head serves `heads / kv_heads` consecutive query heads (HF `repeat_kv`);
//   K and V are expanded to the query heads before the attention.
// - RMSNorm in float32 with eps `rms_norm_eps`; SwiGLU MLP `down(act(gate(x)) * up(x))`.
import ort from 'onnxruntime-node';
import { type Weights, SafetensorsError } from '../runtime/safetensors.js';
import { type BuiltModel, type Value, GraphBuilder } from '../runtime/graph.js';
import { linear, rmsNorm } from '../runtime/nn.js';
import { type ExecutionProvider, type NetSession, type SessionOptions, createSession } from '../runtime/sessions.js';
import { countNumberedModules, shapeOfRank, validateShapes } from './checkpoint-keys.js';
import { HfConfig, hfConfigBeside } from './hf-config.js';
import { type HfActivation, HF_ACTIVATIONS, applyHfActivation, isHfActivation } from './hf-activation.js';
import { checkTokenIds, embeddingLookup } from './token-embedding.js';
import { type AttentionKind, attention, defaultAttentionFor } from './attention.js';

/** Every size and setting of the Qwen2 text model. */
export interface Qwen2TextConfig {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  eps: number;
  ropeTheta: number;
  activation: HfActivation;
  /** Key prefix of the language model: `model.` (transformers ≤ 4.51) or `model.language_model.`. */
  prefix: string;
  /** The config.json the settings came from. */
  source: string;
}

/** Qwen2.5-VL config defaults for fields a config.json may omit. */
const DEFAULT_EPS = 1e-6;
const DEFAULT_ROPE_THETA = 1_000_000;

/** Prefixes of the language model in the HF layouts this reads, newest first. */
const PREFIXES = ['model.language_model.', 'model.'] as const;

function prefixOf(w: Weights): string {
  for (const p of PREFIXES) if (w.has(`${p}embed_tokens.weight`)) return p;
  throw new SafetensorsError(w.path,
    `has neither "model.embed_tokens.weight" nor "model.language_model.embed_tokens.weight"; not a Qwen2 / Qwen2.5-VL checkpoint`);
}

export interface Qwen2TextConfigOptions {
  /** config.json to read; default: the one beside the checkpoint. Required: head counts are not in the shapes. */
  configFile?: string;
}

/**
 * Sizes from tensor shapes, head counts and settings from config.json (top level, or the nested
 * `text_config` of newer transformers versions, which takes precedence).
 */
export function readQwen2TextConfig(w: Weights, opts: Qwen2TextConfigOptions = {}): Qwen2TextConfig {
  const prefix = prefixOf(w);
  const embKey = `${prefix}embed_tokens.weight`;
  const [vocab, hidden] = shapeOfRank(w, embKey, 2);
  const layers = countNumberedModules(w, `${prefix}layers`);
  if (layers === 0) throw new SafetensorsError(w.path, `has no "${prefix}layers.*" tensors; not a Qwen2 text model checkpoint`);
  const a = `${prefix}layers.0.self_attn`;
  const [qRows] = shapeOfRank(w, `${a}.q_proj.weight`, 2);
  const [kRows] = shapeOfRank(w, `${a}.k_proj.weight`, 2);
  const [intermediate] = shapeOfRank(w, `${prefix}layers.0.mlp.gate_proj.weight`, 2);

  const file = opts.configFile ?? hfConfigBeside(w.path);
  if (!file) {
    throw new Error(`${w.path}: no config.json beside the checkpoint; the Qwen2 text model needs it for num_attention_heads and num_key_value_heads`);
  }
  const top = HfConfig.read(file, 'Qwen2.5-VL');
  const text = top.section('text_config');
  // Newer configs keep the text fields in `text_config` (some also repeat them at the top level).
  const num = (key: string, o: { integer?: boolean; positive?: boolean } = {}) => text?.number(key, o) ?? top.number(key, o);
  const str = (key: string) => text?.string(key) ?? top.string(key);
  const where = text ? `${file} (text_config or top level)` : file;

  const heads = num('num_attention_heads', { integer: true, positive: true });
  if (heads === undefined) throw new Error(`${where}: "num_attention_heads" is missing`);
  if (qRows % heads !== 0) {
    throw new Error(`${where}: "num_attention_heads" is ${heads}, which does not divide the ${qRows} output rows of "${a}.q_proj.weight"`);
  }
  const headDim = qRows / heads;
  const kvHeads = num('num_key_value_heads', { integer: true, positive: true }) ?? heads;
  if (kvHeads * headDim !== kRows) {
    throw new Error(`${where}: "num_key_value_heads" is ${kvHeads} but "${a}.k_proj.weight" has ${kRows} rows = ${kRows / headDim} heads of ${headDim}`);
  }
  if (heads % kvHeads !== 0) throw new Error(`${where}: ${heads} attention heads are not a multiple of ${kvHeads} key/value heads`);
  if (headDim % 2 !== 0) throw new Error(`${where}: head size ${headDim} is odd; RoPE needs channel pairs`);
  const check = (key: string, fromWeights: number, what: string) => {
    const v = num(key, { integer: true, positive: true });
    if (v !== undefined && v !== fromWeights) {
      throw new Error(`${where}: "${key}" is ${v} but ${what} gives ${fromWeights}; the config does not belong to these weights`);
    }
  };
  check('hidden_size', hidden, `"${embKey}"`);
  check('vocab_size', vocab, `"${embKey}"`);
  check('num_hidden_layers', layers, `the "${prefix}layers.N" tensors`);
  check('intermediate_size', intermediate, `"${prefix}layers.0.mlp.gate_proj.weight"`);
  check('head_dim', headDim, `"${a}.q_proj.weight" / num_attention_heads`);

  const eps = num('rms_norm_eps', { positive: true }) ?? DEFAULT_EPS;
  const ropeTheta = num('rope_theta', { positive: true }) ?? DEFAULT_ROPE_THETA;
  const act = str('hidden_act') ?? 'silu';
  if (!isHfActivation(act)) throw new Error(`${where}: "hidden_act" "${act}" is not supported (expected one of ${HF_ACTIVATIONS.join(', ')})`);
  checkRopeScaling(text?.data.rope_scaling ?? top.data.rope_scaling, headDim, where);
  const sliding = text?.data.use_sliding_window ?? top.data.use_sliding_window;
  if (sliding === true) throw new Error(`${where}: "use_sliding_window" is true; sliding-window attention is not supported`);

  return { vocab, hidden, layers, heads, kvHeads, headDim, intermediate, eps, ropeTheta, activation: act, prefix, source: file };
}

/** Only the default RoPE (plain or M-RoPE, which is plain for text) is implemented. */
function checkRopeScaling(v: unknown, headDim: number, where: string): void {
  if (v === undefined || v === null) return;
  if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: "rope_scaling" must be an object, got ${JSON.stringify(v)}`);
  const rs = v as Record<string, unknown>;
  const type = rs.rope_type ?? rs.type ?? 'default';
  if (type !== 'default' && type !== 'mrope') {
    throw new Error(`${where}: "rope_scaling" type "${String(type)}" is not supported (only the default RoPE / M-RoPE)`);
  }
  const section = rs.mrope_section;
  if (section !== undefined) {
    const ok = Array.isArray(section) && section.every((n) => Number.isInteger(n) && (n as number) > 0);
    const sum = ok ? (section as number[]).reduce((s, n) => s + n, 0) : NaN;
    if (!ok || sum * 2 !== headDim) {
      throw new Error(`${where}: "rope_scaling.mrope_section" ${JSON.stringify(section)} must be positive integers summing to head_dim/2 = ${headDim / 2}`);
    }
  }
}

/** The shape of every tensor the text model reads. */
export function qwen2TextTensorShapes(cfg: Qwen2TextConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const { hidden: h, headDim: hd, intermediate: ff, prefix: p } = cfg;
  m.set(`${p}embed_tokens.weight`, [cfg.vocab, h]);
  for (let i = 0; i < cfg.layers; i++) {
    const l = `${p}layers.${i}`;
    m.set(`${l}.input_layernorm.weight`, [h]);
    m.set(`${l}.self_attn.q_proj.weight`, [cfg.heads * hd, h]);
    m.set(`${l}.self_attn.q_proj.bias`, [cfg.heads * hd]);
    for (const k of ['k_proj', 'v_proj']) {
      m.set(`${l}.self_attn.${k}.weight`, [cfg.kvHeads * hd, h]);
      m.set(`${l}.self_attn.${k}.bias`, [cfg.kvHeads * hd]);
    }
    m.set(`${l}.self_attn.o_proj.weight`, [h, cfg.heads * hd]);
    m.set(`${l}.post_attention_layernorm.weight`, [h]);
    m.set(`${l}.mlp.gate_proj.weight`, [ff, h]);
    m.set(`${l}.mlp.up_proj.weight`, [ff, h]);
    m.set(`${l}.mlp.down_proj.weight`, [h, ff]);
  }
  m.set(`${p}norm.weight`, [h]);
  return m;
}

export function validateQwen2TextWeights(w: Weights, cfg: Qwen2TextConfig): void {
  validateShapes(w, qwen2TextTensorShapes(cfg));
  // Qwen2 has no bias on o_proj or the MLP; one present means a different architecture.
  const l = `${cfg.prefix}layers.0`;
  for (const k of [`${l}.self_attn.o_proj.bias`, `${l}.mlp.gate_proj.bias`, `${l}.mlp.up_proj.bias`, `${l}.mlp.down_proj.bias`]) {
    if (w.has(k)) throw new SafetensorsError(w.path, `has an unexpected tensor "${k}"; Qwen2 layers have no bias there`);
  }
}

/** Graph input/output names. */
export const QWEN2_TEXT_IO = {
  inputIds: 'input_ids',
  /** int64 [B, L]: the (text-only) RoPE position of every token, from `qwen2TextPositions`. */
  positionIds: 'position_ids',
  /** float32 [P, head_dim/2], P ≥ L: cos/sin of position p (row p) for every frequency, from `qwen2RopeCache`. */
  ropeCos: 'rope_cos',
  ropeSin: 'rope_sin',
  /** float32 [B, 1, L, L]: 0 where query i may see key j, float32 lowest elsewhere (`qwen2AttentionBias`). */
  attentionBias: 'attention_bias',
  /** [B, L, hidden]: the token embeddings (HF `hidden_states[0]`). */
  embeddings: 'inputs_embeds',
  /** [B, L, hidden]: the final-norm hidden states (HF `hidden_states[-1]`). */
  output: 'last_hidden_state',
} as const;

export interface Qwen2TextPositions {
  /** [B, L], row-major. */
  positionIds: BigInt64Array;
  /** [B]: max position + 1 − L per row (HF `rope_deltas`). */
  ropeDeltas: BigInt64Array;
  /** Largest position used (the RoPE cache needs rows 0..maxPosition, and at least L rows). */
  maxPosition: number;
}

/** Mask values as 0/1 numbers; anything else is refused. */
function maskValues(where: string, mask: ArrayLike<number | bigint>, batch: number, len: number): Uint8Array {
  if (mask.length !== batch * len) throw new Error(`${where}: attention mask has ${mask.length} values, expected batch ${batch} × length ${len} = ${batch * len}`);
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) {
    const v = Number(mask[i]);
    if (v !== 0 && v !== 1) throw new Error(`${where}: attention mask value ${String(mask[i])} at position ${i} is not 0 or 1`);
    out[i] = v;
  }
  return out;
}

/**
 * Text-only positions as HF Qwen2.5-VL `get_rope_index` computes them with an attention mask:
 * `cumsum(mask) − 1` at valid tokens, 1 at padded ones; all three M-RoPE components are this.
 */
export function qwen2TextPositions(mask: ArrayLike<number | bigint>, batch: number, len: number): Qwen2TextPositions {
  const m = maskValues('qwen2TextPositions', mask, batch, len);
  const positionIds = new BigInt64Array(batch * len);
  const ropeDeltas = new BigInt64Array(batch);
  let maxPosition = 0;
  for (let b = 0; b < batch; b++) {
    let count = 0;
    let rowMax = -Infinity;
    for (let i = 0; i < len; i++) {
      const pos = m[b * len + i] ? count++ : 1;
      positionIds[b * len + i] = BigInt(pos);
      rowMax = Math.max(rowMax, pos);
    }
    ropeDeltas[b] = BigInt(rowMax + 1 - len);
    maxPosition = Math.max(maxPosition, rowMax);
  }
  return { positionIds, ropeDeltas, maxPosition };
}

/**
 * cos/sin of the RoPE angles for positions 0..rows−1, [rows, headDim/2] each, computed as HF's
 * default rotary embedding does in float32: inv_freq_k = 1 / θ^(2k/d), angle = pos·inv_freq_k.
 * ORT's RotaryEmbedding refuses a cache with fewer rows than the sequence length, so callers pass
 * rows = max(max position + 1, sequence length).
 */
export function qwen2RopeCache(rows: number, headDim: number, theta: number): { cos: Float32Array; sin: Float32Array; rows: number } {
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`qwen2RopeCache: rows must be a positive integer, got ${rows}`);
  const f = Math.fround;
  const half = headDim / 2;
  const invFreq = Float32Array.from({ length: half }, (_, k) => f(1 / f(theta ** f((2 * k) / headDim))));
  const cos = new Float32Array(rows * half);
  const sin = new Float32Array(rows * half);
  for (let p = 0; p < rows; p++) {
    for (let k = 0; k < half; k++) {
      const angle = f(p * invFreq[k]);
      cos[p * half + k] = Math.cos(angle);
      sin[p * half + k] = Math.sin(angle);
    }
  }
  return { cos, sin, rows };
}

/** float32's lowest finite value, added to masked scores (as HF's masks use). */
const MASKED_SCORE = -3.4028234663852886e38;

/**
 * Additive attention bias [B, 1, L, L]: query i sees key j when j ≤ i and key j is not padding.
 * Rows that would see nothing attend to every key (SDPA's `_unmask_unattended`).
 */
export function qwen2AttentionBias(mask: ArrayLike<number | bigint>, batch: number, len: number): Float32Array {
  const m = maskValues('qwen2AttentionBias', mask, batch, len);
  const bias = new Float32Array(batch * len * len);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < len; i++) {
      const row = (b * len + i) * len;
      let visible = 0;
      for (let j = 0; j < len; j++) {
        if (j <= i && m[b * len + j]) visible++;
        else bias[row + j] = MASKED_SCORE;
      }
      if (visible === 0) bias.fill(0, row, row + len);
    }
  }
  return bias;
}

export interface Qwen2TextBuildOptions {
  config?: Qwen2TextConfig;
  /**
   * Look the token embedding up in its stored dtype and cast only the gathered rows (default).
   * Set false for EPs without bf16/f16 Gather (WebGPU).
   */
  lookupInStoredDtype?: boolean;
  /** Attention form (see `attention.ts`). Default 'fused'; Qwen2TextModel.create picks per EP. */
  attention?: AttentionKind;
}

/** [B, L, kvHeads·hd] -> [B, L, kvHeads·rep·hd]: kv head g serves query heads g·rep .. g·rep+rep−1. */
function expandKvHeads(b: GraphBuilder, x: Value, kvHeads: number, rep: number, headDim: number, name: string): Value {
  if (rep === 1) return x;
  const split = b.op('Reshape', [x, b.ints([0, 0, kvHeads, 1, headDim])], {}, { name: `Reshape_${name}_heads` });
  const expanded = b.op('Expand', [split, b.ints([1, 1, kvHeads, rep, headDim])], {}, { name: `Expand_${name}` });
  return b.op('Reshape', [expanded, b.ints([0, 0, -1])], {}, { name: `Reshape_${name}_merge` });
}

/**
 * Build the text model graph: input_ids, position_ids [B, L] int64, rope_cos/rope_sin [P, hd/2],
 * attention_bias [B, 1, L, L] -> inputs_embeds and last_hidden_state [B, L, hidden].
 */
export function buildQwen2Text(w: Weights, opts: Qwen2TextBuildOptions = {}): BuiltModel {
  const cfg = opts.config ?? readQwen2TextConfig(w);
  validateQwen2TextWeights(w, cfg);
  const b = new GraphBuilder('qwen2_text', { architecture: 'Qwen2 text model (Qwen2.5-VL language model)', config: JSON.stringify(cfg) });
  const io = QWEN2_TEXT_IO;
  const ids = b.input(io.inputIds, 'int64', ['batch', 'seq']);
  const positions = b.input(io.positionIds, 'int64', ['batch', 'seq']);
  const cos = b.input(io.ropeCos, 'float32', ['positions', cfg.headDim / 2]);
  const sin = b.input(io.ropeSin, 'float32', ['positions', cfg.headDim / 2]);
  const mask = b.input(io.attentionBias, 'float32', ['batch', 1, 'seq', 'seq']);
  const kind = opts.attention ?? 'fused';
  const rep = cfg.heads / cfg.kvHeads;
  const p = cfg.prefix;

  const embeddings = embeddingLookup(b, w, `${p}embed_tokens.weight`, ids, opts.lookupInStoredDtype ?? true);
  b.output(embeddings, io.embeddings, 'float32', ['batch', 'seq', cfg.hidden]);

  let x = embeddings;
  for (let i = 0; i < cfg.layers; i++) {
    const l = `${p}layers.${i}`;
    const sa = `${l}.self_attn`;
    let h = rmsNorm(b, w, x, `${l}.input_layernorm.weight`, cfg.eps);
    let q = linear(b, w, `${sa}.q_proj`, h);
    let k = linear(b, w, `${sa}.k_proj`, h);
    const v = linear(b, w, `${sa}.v_proj`, h);
    const a = b.scope(sa, () => {
      // Rotate-half RoPE, rows of the cos/sin cache picked by each token's position id.
      q = b.op('RotaryEmbedding', [q, positions, cos, sin], { interleaved: 0, num_heads: cfg.heads }, { domain: 'com.microsoft', name: 'RoPE_q' });
      k = b.op('RotaryEmbedding', [k, positions, cos, sin], { interleaved: 0, num_heads: cfg.kvHeads }, { domain: 'com.microsoft', name: 'RoPE_k' });
      const kf = expandKvHeads(b, k, cfg.kvHeads, rep, cfg.headDim, 'k');
      const vf = expandKvHeads(b, v, cfg.kvHeads, rep, cfg.headDim, 'v');
      return attention(b, q, kf, vf, { kind, heads: cfg.heads, scale: 1 / Math.sqrt(cfg.headDim), headDim: cfg.headDim, bias: mask });
    });
    const attnOut = linear(b, w, `${sa}.o_proj`, a);
    x = b.scope(l, () => b.op('Add', [x, attnOut], {}, { name: 'Residual_attn' }));

    const mlp = `${l}.mlp`;
    h = rmsNorm(b, w, x, `${l}.post_attention_layernorm.weight`, cfg.eps);
    const gate = linear(b, w, `${mlp}.gate_proj`, h);
    const up = linear(b, w, `${mlp}.up_proj`, h);
    const hidden = b.scope(mlp, () => b.op('Mul', [applyHfActivation(b, cfg.activation, gate), up], {}, { name: 'Gate' }));
    const mlpOut = linear(b, w, `${mlp}.down_proj`, hidden);
    x = b.scope(l, () => b.op('Add', [x, mlpOut], {}, { name: 'Residual_mlp' }));
  }
  const y = rmsNorm(b, w, x, `${p}norm.weight`, cfg.eps);
  b.output(y, io.output, 'float32', ['batch', 'seq', cfg.hidden]);
  return b.build();
}

export interface Qwen2TextCreateOptions extends Partial<Omit<SessionOptions, 'ep'>> {
  ep: ExecutionProvider;
  config?: Qwen2TextConfig;
  /** Default: `defaultAttentionFor(ep)`. */
  attention?: AttentionKind;
}

export interface Qwen2TextOutputs {
  /** Final-norm hidden states [B, L, hidden]. */
  lastHidden: Float32Array;
  /** Token embeddings [B, L, hidden], when asked for. */
  embeddings?: Float32Array;
}

/** A built and loaded Qwen2 text model. */
export class Qwen2TextModel {
  private constructor(
    readonly config: Qwen2TextConfig,
    readonly model: Pick<BuiltModel, 'name' | 'parameterCount' | 'externalBytes' | 'nodeCount'>,
    private readonly session: NetSession,
  ) {}

  static async create(w: Weights, opts: Qwen2TextCreateOptions): Promise<Qwen2TextModel> {
    const { config, attention: kind, ...sessionOpts } = opts;
    const cfg = config ?? readQwen2TextConfig(w);
    const built = buildQwen2Text(w, {
      config: cfg, lookupInStoredDtype: opts.ep === 'cpu', attention: kind ?? defaultAttentionFor(opts.ep),
    });
    const session = await createSession(built, sessionOpts);
    const { name, parameterCount, externalBytes, nodeCount } = built;
    return new Qwen2TextModel(cfg, { name, parameterCount, externalBytes, nodeCount }, session);
  }

  get ep(): ExecutionProvider {
    return this.session.ep;
  }

  /** Final-norm hidden states [batch, len, hidden] for token ids and attention mask [batch, len]. */
  async encode(ids: BigInt64Array, mask: ArrayLike<number | bigint>, batch: number, len: number): Promise<Float32Array> {
    return (await this.forward(ids, mask, batch, len)).lastHidden;
  }

  /** `encode`, optionally also returning the token embeddings. */
  async forward(ids: BigInt64Array, mask: ArrayLike<number | bigint>, batch: number, len: number,
    opts: { embeddings?: boolean } = {}): Promise<Qwen2TextOutputs> {
    const cfg = this.config;
    checkTokenIds('Qwen2TextModel.encode', ids, batch, len, cfg.vocab);
    const pos = qwen2TextPositions(mask, batch, len);
    const rope = qwen2RopeCache(Math.max(pos.maxPosition + 1, len), cfg.headDim, cfg.ropeTheta);
    const bias = qwen2AttentionBias(mask, batch, len);
    const io = QWEN2_TEXT_IO;
    const wanted: string[] = opts.embeddings ? [io.output, io.embeddings] : [io.output];
    const out = await this.session.run({
      [io.inputIds]: new ort.Tensor('int64', ids, [batch, len]),
      [io.positionIds]: new ort.Tensor('int64', pos.positionIds, [batch, len]),
      [io.ropeCos]: new ort.Tensor('float32', rope.cos, [rope.rows, cfg.headDim / 2]),
      [io.ropeSin]: new ort.Tensor('float32', rope.sin, [rope.rows, cfg.headDim / 2]),
      [io.attentionBias]: new ort.Tensor('float32', bias, [batch, 1, len, len]),
    }, wanted);
    const take = (name: string): Float32Array => {
      const data = out[name].data as Float32Array;
      if (data.length !== batch * len * cfg.hidden) {
        throw new Error(`Qwen2TextModel.encode: output "${name}" has ${data.length} values, expected ${batch} × ${len} × ${cfg.hidden}`);
      }
      return data;
    };
    return { lastHidden: take(io.output), embeddings: opts.embeddings ? take(io.embeddings) : undefined };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
