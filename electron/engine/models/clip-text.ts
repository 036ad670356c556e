// CLIP text encoder (Hugging Face `CLIPTextModel` keys `text_model.*`; a full `CLIPModel`
// checkpoint works too, its vision tower and projections are ignored) built as an ONNX graph,
// plus the runtime wrapper the UNO pipeline calls to get the pooled `vec`.
//
// Pre-LN transformer with causal self-attention (CLIP text is causal; no padding mask, as UNO
// passes none), learned absolute positions 0..L-1, final LayerNorm. The pooled output is the
// final hidden state at one position per sequence, chosen exactly as HF does (`clipPoolPositions`).
import ort from 'onnxruntime-node';
import { type Weights, SafetensorsError } from '../runtime/safetensors.js';
import { type BuiltModel, GraphBuilder } from '../runtime/graph.js';
import { layerNorm, linear } from '../runtime/nn.js';
import { type ExecutionProvider, type NetSession, type SessionOptions, createSession } from '../runtime/sessions.js';
import { countNumberedModules, shapeOfRank, validateShapes } from './checkpoint-keys.js';
import { HfConfig, hfConfigBeside } from './hf-config.js';
import { type HfActivation, HF_ACTIVATIONS, applyHfActivation, isHfActivation } from './hf-activation.js';
import { checkTokenIds, embeddingLookup } from './token-embedding.js';
import { type AttentionKind, attention, defaultAttentionFor } from './attention.js';

export interface ClipTextConfig {
  vocab: number;
  /** Rows of the position table: the longest sequence the model accepts. */
  maxPositions: number;
  hidden: number;
  heads: number;
  intermediate: number;
  layers: number;
  eps: number;
  activation: HfActivation;
  /**
   * Pooling rule: 2 is the legacy value of the openai checkpoints, meaning "position of the
   * largest id" (their EOS is the top id); any other value means "first position of this id".
   */
  eosTokenId: number;
  /** The config.json (and section) the settings came from, or a note that defaults were used. */
  source: string;
}

const PREFIX = 'text_model';
const TOKEN_KEY = `${PREFIX}.embeddings.token_embedding.weight`;
const POSITION_KEY = `${PREFIX}.embeddings.position_embedding.weight`;
/** The eos_token_id value that selects HF's legacy argmax pooling. */
export const CLIP_LEGACY_EOS_TOKEN_ID = 2;

/** HF `CLIPTextConfig` defaults for fields a config.json omits. */
const HF_DEFAULTS = { heads: 8, eps: 1e-5, activation: 'quick_gelu' as HfActivation, eosTokenId: 49407 };
/**
 * Without any config.json (e.g. a bare `clip_l.safetensors`): heads from a head size of 64 (true
 * for the openai CLIP text towers: ViT-L/14 768/12, ViT-B 512/8, ViT-bigG 1280/20), quick_gelu,
 * eps 1e-5, and the legacy argmax pooling of the openai checkpoints.
 */
const NO_CONFIG_HEAD_DIM = 64;

export interface ClipTextConfigOptions {
  /** config.json to read; default: the one beside the checkpoint when present; null: none. */
  configFile?: string | null;
}

/** The text settings of a config.json: `text_config` of a full CLIPModel, else the top level. */
function textSection(cfg: HfConfig): HfConfig {
  return cfg.section('text_config') ?? cfg;
}

/** Read every size of a CLIP text encoder from tensor shapes, and the settings from config.json. */
export function readClipTextConfig(w: Weights, opts: ClipTextConfigOptions = {}): ClipTextConfig {
  if (!w.has(TOKEN_KEY)) {
    throw new SafetensorsError(w.path, `missing tensor "${TOKEN_KEY}"; not a CLIP text checkpoint (HF CLIPTextModel or CLIPModel keys expected)`);
  }
  const [vocab, hidden] = shapeOfRank(w, TOKEN_KEY, 2);
  const [maxPositions] = shapeOfRank(w, POSITION_KEY, 2);
  const layers = countNumberedModules(w, `${PREFIX}.encoder.layers`);
  if (layers === 0) throw new SafetensorsError(w.path, `has no "${PREFIX}.encoder.layers.*" tensors; not a CLIP text checkpoint`);
  const fc1Key = `${PREFIX}.encoder.layers.0.mlp.fc1.weight`;
  const [intermediate] = shapeOfRank(w, fc1Key, 2);

  let heads = hidden / NO_CONFIG_HEAD_DIM;
  let eps = HF_DEFAULTS.eps;
  let activation = HF_DEFAULTS.activation;
  let eosTokenId = CLIP_LEGACY_EOS_TOKEN_ID;
  let source = `no config.json: head_dim ${NO_CONFIG_HEAD_DIM}, quick_gelu, eps 1e-5, legacy argmax pooling`;
  const file = opts.configFile === undefined ? hfConfigBeside(w.path) : opts.configFile;
  if (file) {
    const t = textSection(HfConfig.read(file, 'CLIP'));
    t.expectSize('hidden_size', hidden, `"${TOKEN_KEY}"`);
    t.expectSize('vocab_size', vocab, `"${TOKEN_KEY}"`);
    t.expectSize('max_position_embeddings', maxPositions, `"${POSITION_KEY}"`);
    t.expectSize('intermediate_size', intermediate, `"${fc1Key}"`);
    t.expectSize('num_hidden_layers', layers, 'the numbered encoder layers');
    heads = t.number('num_attention_heads', { integer: true, positive: true }) ?? HF_DEFAULTS.heads;
    eps = t.number('layer_norm_eps', { positive: true }) ?? eps;
    const act = t.string('hidden_act') ?? activation;
    if (!isHfActivation(act)) throw new Error(`${t.file}: "hidden_act" "${act}" is not supported (expected one of ${HF_ACTIVATIONS.join(', ')})`);
    activation = act;
    eosTokenId = t.number('eos_token_id', { integer: true }) ?? HF_DEFAULTS.eosTokenId;
    source = t.file;
  }
  if (!Number.isInteger(heads) || heads <= 0 || hidden % heads !== 0) {
    throw new Error(`${w.path}: hidden size ${hidden} cannot be split into ${heads} attention heads (${source})`);
  }
  return { vocab, maxPositions, hidden, heads, intermediate, layers, eps, activation, eosTokenId, source };
}

/** The shape of every tensor the encoder reads. */
export function clipTextTensorShapes(cfg: ClipTextConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const d = cfg.hidden;
  m.set(TOKEN_KEY, [cfg.vocab, d]);
  m.set(POSITION_KEY, [cfg.maxPositions, d]);
  const lin = (p: string, out: number, inp: number) => {
    m.set(`${p}.weight`, [out, inp]);
    m.set(`${p}.bias`, [out]);
  };
  for (let i = 0; i < cfg.layers; i++) {
    const p = `${PREFIX}.encoder.layers.${i}`;
    for (const k of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) lin(`${p}.self_attn.${k}`, d, d);
    lin(`${p}.mlp.fc1`, cfg.intermediate, d);
    lin(`${p}.mlp.fc2`, d, cfg.intermediate);
    for (const k of ['layer_norm1', 'layer_norm2']) {
      m.set(`${p}.${k}.weight`, [d]);
      m.set(`${p}.${k}.bias`, [d]);
    }
  }
  m.set(`${PREFIX}.final_layer_norm.weight`, [d]);
  m.set(`${PREFIX}.final_layer_norm.bias`, [d]);
  return m;
}

export function validateClipTextWeights(w: Weights, cfg: ClipTextConfig): void {
  validateShapes(w, clipTextTensorShapes(cfg));
}

/** Graph input/output names. */
export const CLIP_TEXT_IO = {
  inputIds: 'input_ids',
  /** int64 [seq]: 0..seq-1. */
  positionIds: 'position_ids',
  output: 'last_hidden_state',
} as const;

export interface ClipTextBuildOptions {
  config?: ClipTextConfig;
  /** See `embeddingLookup`: false for EPs without bf16/f16 Gather (WebGPU). Default true. */
  lookupInStoredDtype?: boolean;
  /** Attention form (see `attention.ts`). Default 'fused'; ClipTextEncoder.create picks per EP. */
  attention?: AttentionKind;
}

/**
 * Build the encoder graph: input_ids [B, L] int64 (L <= maxPositions) and position_ids [L]
 * (0..L-1) -> last_hidden_state [B, L, hidden].
 */
export function buildClipText(w: Weights, opts: ClipTextBuildOptions = {}): BuiltModel {
  const cfg = opts.config ?? readClipTextConfig(w);
  validateClipTextWeights(w, cfg);
  const b = new GraphBuilder('clip_text', { architecture: 'CLIPTextModel', config: JSON.stringify(cfg) });
  const io = CLIP_TEXT_IO;
  const ids = b.input(io.inputIds, 'int64', ['batch', 'seq']);
  const inStored = opts.lookupInStoredDtype ?? true;
  const kind = opts.attention ?? 'fused';

  const tokens = embeddingLookup(b, w, TOKEN_KEY, ids, inStored);
  // Positions 0..L-1 come in as an input (the shape ops that could derive them in the graph have
  // no WebGPU kernels).
  const positionIds = b.input(io.positionIds, 'int64', ['seq']);
  const positions = embeddingLookup(b, w, POSITION_KEY, positionIds, inStored);
  let x = b.scope(`${PREFIX}.embeddings`, () => b.op('Add', [tokens, positions]));

  // The nn helpers scope their nodes under the module path of their weights; the weightless
  // nodes are scoped here.
  for (let i = 0; i < cfg.layers; i++) {
    const p = `${PREFIX}.encoder.layers.${i}`;
    const sa = `${p}.self_attn`;
    let h = layerNorm(b, w, x, cfg.hidden, cfg.eps, `${p}.layer_norm1`);
    const q = linear(b, w, `${sa}.q_proj`, h);
    const k = linear(b, w, `${sa}.k_proj`, h);
    const v = linear(b, w, `${sa}.v_proj`, h);
    // Scale 1/sqrt(head_dim), as CLIP; causal.
    const a = b.scope(sa, () => attention(b, q, k, v, {
      kind, heads: cfg.heads, headDim: cfg.hidden / cfg.heads, causal: { maxLength: cfg.maxPositions },
    }));
    const attnOut = linear(b, w, `${sa}.out_proj`, a);
    x = b.scope(p, () => b.op('Add', [x, attnOut], {}, { name: 'ResidualAttn' }));

    h = layerNorm(b, w, x, cfg.hidden, cfg.eps, `${p}.layer_norm2`);
    const up = linear(b, w, `${p}.mlp.fc1`, h);
    const act = b.scope(`${p}.mlp`, () => applyHfActivation(b, cfg.activation, up));
    const down = linear(b, w, `${p}.mlp.fc2`, act);
    x = b.scope(p, () => b.op('Add', [x, down], {}, { name: 'ResidualMlp' }));
  }
  const y = layerNorm(b, w, x, cfg.hidden, cfg.eps, `${PREFIX}.final_layer_norm`);
  b.output(y, io.output, 'float32', ['batch', 'seq', cfg.hidden]);
  return b.build();
}

/**
 * Position pooled for each sequence, as HF `CLIPTextTransformer` picks it: with the legacy
 * eos_token_id 2, the first position of the largest id; otherwise the first position whose id
 * equals eos_token_id, or 0 when there is none (argmax over an all-zero row).
 */
export function clipPoolPositions(ids: BigInt64Array, batch: number, len: number, eosTokenId: number): number[] {
  const out: number[] = [];
  const eos = BigInt(eosTokenId);
  for (let s = 0; s < batch; s++) {
    const row = ids.subarray(s * len, (s + 1) * len);
    let pos = 0;
    if (eosTokenId === CLIP_LEGACY_EOS_TOKEN_ID) {
      for (let j = 1; j < len; j++) if (row[j] > row[pos]) pos = j;
    } else {
      const hit = row.indexOf(eos);
      pos = hit < 0 ? 0 : hit;
    }
    out.push(pos);
  }
  return out;
}

export interface ClipTextOutput {
  /** Final hidden state at the pooled position, [batch, hidden]. */
  pooled: Float32Array;
  /** [batch, len, hidden]. */
  hidden: Float32Array;
}

export interface ClipTextCreateOptions extends Partial<Omit<SessionOptions, 'ep'>> {
  ep: ExecutionProvider;
  config?: ClipTextConfig;
  /** Default: `defaultAttentionFor(ep)`. */
  attention?: AttentionKind;
}

/** A built and loaded CLIP text encoder. */
export class ClipTextEncoder {
  private constructor(
    readonly config: ClipTextConfig,
    readonly model: Pick<BuiltModel, 'name' | 'parameterCount' | 'externalBytes' | 'nodeCount'>,
    private readonly session: NetSession,
  ) {}

  static async create(w: Weights, opts: ClipTextCreateOptions): Promise<ClipTextEncoder> {
    const { config, attention: kind, ...sessionOpts } = opts;
    const cfg = config ?? readClipTextConfig(w);
    const built = buildClipText(w, {
      config: cfg, lookupInStoredDtype: opts.ep === 'cpu', attention: kind ?? defaultAttentionFor(opts.ep),
    });
    const session = await createSession(built, sessionOpts);
    const { name, parameterCount, externalBytes, nodeCount } = built;
    return new ClipTextEncoder(cfg, { name, parameterCount, externalBytes, nodeCount }, session);
  }

  get ep(): ExecutionProvider {
    return this.session.ep;
  }

  /** Encode token ids [batch, len] (len <= maxPositions; batch defaults to 1). */
  async encode(ids: BigInt64Array, batch = 1, len = ids.length / batch): Promise<ClipTextOutput> {
    const cfg = this.config;
    const where = 'ClipTextEncoder.encode';
    checkTokenIds(where, ids, batch, len, cfg.vocab);
    if (len > cfg.maxPositions) throw new Error(`${where}: sequence length ${len} exceeds the ${cfg.maxPositions} positions of the model`);
    const io = CLIP_TEXT_IO;
    const positions = BigInt64Array.from({ length: len }, (_, i) => BigInt(i));
    const out = await this.session.run({
      [io.inputIds]: new ort.Tensor('int64', ids, [batch, len]),
      [io.positionIds]: new ort.Tensor('int64', positions, [len]),
    }, [io.output]);
    const hidden = out[io.output].data as Float32Array;
    const d = cfg.hidden;
    if (hidden.length !== batch * len * d) throw new Error(`${where}: output has ${hidden.length} values, expected ${batch} × ${len} × ${d}`);
    const pooled = new Float32Array(batch * d);
    clipPoolPositions(ids, batch, len, cfg.eosTokenId).forEach((pos, s) => {
      pooled.set(hidden.subarray((s * len + pos) * d, (s * len + pos + 1) * d), s * d);
    });
    return { pooled, hidden };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
