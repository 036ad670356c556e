// T5 encoder (Hugging Face `T5EncoderModel` key layout, v1.1 gated-GELU or v1.0 ReLU feed-forward)
// built as an ONNX graph from the checkpoint's own tensors, plus the runtime wrapper the UNO
// pipeline calls to turn token ids into `txt`.
//
// T5 specifics kept exactly: attention scores are NOT scaled by 1/sqrt(d_kv); the layer norm is
// an RMS norm without mean subtraction or bias, computed in float32; one relative-position bias
// table (stored in block 0) is shared by every layer. The bucket of every (query, key) pair is
// computed here in TypeScript and fed to the graph, which gathers the bias from the table.
// No attention mask: UNO's HFEmbedder passes none, so padding tokens are attended to.
import ort from 'onnxruntime-node';
import { type Weights, SafetensorsError } from '../runtime/safetensors.js';
import { type BuiltModel, type Value, GraphBuilder } from '../runtime/graph.js';
import { linear, rmsNorm, weightF32 } from '../runtime/nn.js';
import { type ExecutionProvider, type NetSession, type SessionOptions, createSession } from '../runtime/sessions.js';
import { countNumberedModules, shapeOfRank, validateShapes } from './checkpoint-keys.js';
import { HfConfig, hfConfigBeside } from './hf-config.js';
import { type HfActivation, HF_ACTIVATIONS, applyHfActivation, isHfActivation } from './hf-activation.js';
import { checkTokenIds, embeddingLookup } from './token-embedding.js';
import { type AttentionKind, attention, defaultAttentionFor } from './attention.js';

/** Every size and setting of a T5 encoder. */
export interface T5EncoderConfig {
  vocab: number;
  dModel: number;
  heads: number;
  dKv: number;
  dFf: number;
  layers: number;
  /** Relative-attention buckets (rows of the bias table). */
  numBuckets: number;
  maxDistance: number;
  eps: number;
  /** v1.1 gated feed-forward (`wi_0`, `wi_1`) or v1.0 plain (`wi`). */
  gated: boolean;
  activation: HfActivation;
  /** `shared.weight`, or `encoder.embed_tokens.weight` when the checkpoint has no `shared`. */
  embeddingKey: string;
  /** The config.json the settings came from, or a note that defaults were used. */
  source: string;
}

/** HF `T5Config` defaults for what the weights do not store. */
const DEFAULT_MAX_DISTANCE = 128;
const DEFAULT_EPS = 1e-6;

const BIAS_KEY = 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight';

export interface T5EncoderConfigOptions {
  /** config.json to read; default: the one beside the checkpoint when present; null: none. */
  configFile?: string | null;
}

function embeddingKeyOf(w: Weights): string {
  if (w.has('shared.weight')) return 'shared.weight';
  if (w.has('encoder.embed_tokens.weight')) return 'encoder.embed_tokens.weight';
  throw new SafetensorsError(w.path, 'has neither "shared.weight" nor "encoder.embed_tokens.weight"; not a T5 encoder checkpoint');
}

/** Gating and activation from `feed_forward_proj` / `dense_act_fn`, as HF `T5Config` derives them. */
function activationFromConfig(cfg: HfConfig, gatedWeights: boolean): HfActivation {
  const proj = cfg.string('feed_forward_proj');
  let act: string | undefined;
  if (proj !== undefined) {
    const parts = proj.split('-');
    if (parts.length > 2 || (parts.length === 2 && parts[0] !== 'gated')) {
      throw new Error(`${cfg.file}: "feed_forward_proj" is "${proj}", expected "<act>" or "gated-<act>"`);
    }
    const gated = parts.length === 2;
    if (gated !== gatedWeights) {
      throw new Error(`${cfg.file}: "feed_forward_proj" is "${proj}" but the checkpoint has ${gatedWeights ? 'gated (wi_0/wi_1)' : 'plain (wi)'} feed-forward weights`);
    }
    act = proj === 'gated-gelu' ? 'gelu_new' : parts[parts.length - 1];
  }
  // A saved `dense_act_fn` is applied over the derived one, as PretrainedConfig does with kwargs.
  act = cfg.string('dense_act_fn') ?? act ?? (gatedWeights ? 'gelu_new' : 'relu');
  if (!isHfActivation(act)) throw new Error(`${cfg.file}: feed-forward activation "${act}" is not supported (expected one of ${HF_ACTIVATIONS.join(', ')})`);
  return act;
}

/** Read every size of a T5 encoder from tensor shapes, and the settings from config.json. */
export function readT5EncoderConfig(w: Weights, opts: T5EncoderConfigOptions = {}): T5EncoderConfig {
  const embeddingKey = embeddingKeyOf(w);
  const [vocab, dModel] = shapeOfRank(w, embeddingKey, 2);
  const layers = countNumberedModules(w, 'encoder.block');
  if (layers === 0) throw new SafetensorsError(w.path, 'has no "encoder.block.*" tensors; not a T5 encoder checkpoint');
  const [numBuckets, heads] = shapeOfRank(w, BIAS_KEY, 2);
  const qKey = 'encoder.block.0.layer.0.SelfAttention.q.weight';
  const [inner] = shapeOfRank(w, qKey, 2);
  if (heads <= 0 || inner % heads !== 0) {
    throw new SafetensorsError(w.path, `"${qKey}" has ${inner} output rows, not divisible by the ${heads} heads of "${BIAS_KEY}"`);
  }
  const dKv = inner / heads;
  const gated = w.has('encoder.block.0.layer.1.DenseReluDense.wi_0.weight');
  const wiKey = `encoder.block.0.layer.1.DenseReluDense.${gated ? 'wi_0' : 'wi'}.weight`;
  const [dFf] = shapeOfRank(w, wiKey, 2);

  let maxDistance = DEFAULT_MAX_DISTANCE;
  let eps = DEFAULT_EPS;
  // Without a config, a gated checkpoint is taken as T5 v1.1 (gelu_new), a plain one as v1.0 (relu).
  let activation: HfActivation = gated ? 'gelu_new' : 'relu';
  let source = 'no config.json: T5Config defaults (max distance 128, eps 1e-6, v1.1 gelu_new / v1.0 relu by weights)';
  const file = opts.configFile === undefined ? hfConfigBeside(w.path) : opts.configFile;
  if (file) {
    const cfg = HfConfig.read(file, 'T5');
    cfg.expectSize('d_model', dModel, `"${embeddingKey}"`);
    cfg.expectSize('num_heads', heads, `"${BIAS_KEY}"`);
    cfg.expectSize('d_kv', dKv, `"${qKey}" / heads`);
    cfg.expectSize('d_ff', dFf, `"${wiKey}"`);
    cfg.expectSize('relative_attention_num_buckets', numBuckets, `"${BIAS_KEY}"`);
    maxDistance = cfg.number('relative_attention_max_distance', { integer: true, positive: true }) ?? maxDistance;
    eps = cfg.number('layer_norm_epsilon', { positive: true }) ?? eps;
    activation = activationFromConfig(cfg, gated);
    source = file;
  }
  return { vocab, dModel, heads, dKv, dFf, layers, numBuckets, maxDistance, eps, gated, activation, embeddingKey, source };
}

/** The shape of every tensor the encoder reads. */
export function t5EncoderTensorShapes(cfg: T5EncoderConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const inner = cfg.heads * cfg.dKv;
  m.set(cfg.embeddingKey, [cfg.vocab, cfg.dModel]);
  m.set(BIAS_KEY, [cfg.numBuckets, cfg.heads]);
  for (let i = 0; i < cfg.layers; i++) {
    const p = `encoder.block.${i}.layer`;
    for (const k of ['q', 'k', 'v']) m.set(`${p}.0.SelfAttention.${k}.weight`, [inner, cfg.dModel]);
    m.set(`${p}.0.SelfAttention.o.weight`, [cfg.dModel, inner]);
    m.set(`${p}.0.layer_norm.weight`, [cfg.dModel]);
    const wi = cfg.gated ? ['wi_0', 'wi_1'] : ['wi'];
    for (const k of wi) m.set(`${p}.1.DenseReluDense.${k}.weight`, [cfg.dFf, cfg.dModel]);
    m.set(`${p}.1.DenseReluDense.wo.weight`, [cfg.dModel, cfg.dFf]);
    m.set(`${p}.1.layer_norm.weight`, [cfg.dModel]);
  }
  m.set('encoder.final_layer_norm.weight', [cfg.dModel]);
  return m;
}

export function validateT5EncoderWeights(w: Weights, cfg: T5EncoderConfig): void {
  validateShapes(w, t5EncoderTensorShapes(cfg));
}

/**
 * Bidirectional relative-position buckets [qLen, kLen] as HF `T5Attention._relative_position_bucket`
 * computes them: half the buckets per direction (keys after the query in the upper half), exact
 * buckets for distances below half of that, log-spaced buckets up to `maxDistance` beyond.
 * The log branch is evaluated in float32 step by step (torch's float tensor arithmetic) and
 * truncated toward zero like `.to(torch.long)`.
 */
export function t5RelativePositionBuckets(qLen: number, kLen: number, numBuckets: number, maxDistance: number): BigInt64Array {
  const half = Math.floor(numBuckets / 2);
  const maxExact = Math.floor(half / 2);
  if (maxExact < 1) throw new Error(`T5 relative attention needs at least 4 buckets, got ${numBuckets}`);
  const f = Math.fround;
  const logRange = f(Math.log(maxDistance / maxExact));
  const byDistance = (d: number): number => {
    if (d < maxExact) return d;
    const x = f(f(f(Math.log(f(d / maxExact))) / logRange) * (half - maxExact));
    return Math.min(maxExact + Math.trunc(x), half - 1);
  };
  // The bucket depends only on j - i: compute each of the qLen + kLen - 1 values once (a BigInt
  // conversion per element made this ~30 ms at 512 tokens), then copy.
  const byRel = new BigInt64Array(qLen + kLen - 1);
  for (let rel = -(qLen - 1); rel < kLen; rel++) byRel[rel + qLen - 1] = BigInt((rel > 0 ? half : 0) + byDistance(Math.abs(rel)));
  const out = new BigInt64Array(qLen * kLen);
  for (let i = 0; i < qLen; i++) out.set(byRel.subarray(qLen - 1 - i, qLen - 1 - i + kLen), i * kLen);
  return out;
}

/** Graph input/output names. */
export const T5_ENCODER_IO = {
  inputIds: 'input_ids',
  /** int64 [seq, seq]: bucket of (query i, key j), from `t5RelativePositionBuckets`. */
  positionBuckets: 'position_buckets',
  output: 'last_hidden_state',
} as const;

export interface T5EncoderBuildOptions {
  config?: T5EncoderConfig;
  /**
   * Look the token embedding up in its stored dtype and cast only the gathered rows (default).
   * Saves an fp32 copy of the table on CPU; set false for EPs without bf16/f16 Gather (WebGPU).
   */
  lookupInStoredDtype?: boolean;
  /** Attention form (see `attention.ts`). Default 'fused'; T5Encoder.create picks per EP. */
  attention?: AttentionKind;
}

/** Build the encoder graph: input_ids [B, L] int64 + position_buckets [L, L] -> last_hidden_state [B, L, d_model]. */
export function buildT5Encoder(w: Weights, opts: T5EncoderBuildOptions = {}): BuiltModel {
  const cfg = opts.config ?? readT5EncoderConfig(w);
  validateT5EncoderWeights(w, cfg);
  const b = new GraphBuilder('t5_encoder', { architecture: 'T5EncoderModel', config: JSON.stringify(cfg) });
  const io = T5_ENCODER_IO;
  const ids = b.input(io.inputIds, 'int64', ['batch', 'seq']);
  const buckets = b.input(io.positionBuckets, 'int64', ['seq', 'seq']);
  const kind = opts.attention ?? 'fused';

  let x = embeddingLookup(b, w, cfg.embeddingKey, ids, opts.lookupInStoredDtype ?? true);

  // [buckets, heads] table -> [1, heads, L, L] additive attention bias, shared by all layers.
  const attnBias = b.scope(BIAS_KEY.slice(0, BIAS_KEY.lastIndexOf('.')), () => {
    const table = weightF32(b, w, BIAS_KEY);
    const perPair = b.op('Gather', [table, buckets]);
    const headsFirst = b.op('Transpose', [perPair], { perm: [2, 0, 1] });
    return b.op('Unsqueeze', [headsFirst, b.ints([0])]);
  });

  // The nn helpers scope their nodes under the checkpoint module path of their weights; only the
  // nodes without weights are scoped here.
  for (let i = 0; i < cfg.layers; i++) {
    const p = `encoder.block.${i}.layer`;
    const sa = `${p}.0.SelfAttention`;
    let h = rmsNorm(b, w, x, `${p}.0.layer_norm.weight`, cfg.eps);
    const q = linear(b, w, `${sa}.q`, h);
    const k = linear(b, w, `${sa}.k`, h);
    const v = linear(b, w, `${sa}.v`, h);
    // T5 does not scale scores; the relative-position bias is added before the softmax.
    const a = b.scope(sa, () => attention(b, q, k, v, { kind, heads: cfg.heads, scale: 1, bias: attnBias }));
    const attnOut = linear(b, w, `${sa}.o`, a);
    x = b.scope(`${p}.0`, () => b.op('Add', [x, attnOut], {}, { name: 'Residual' }));

    const ff = `${p}.1.DenseReluDense`;
    h = rmsNorm(b, w, x, `${p}.1.layer_norm.weight`, cfg.eps);
    let hidden: Value;
    if (cfg.gated) {
      const gate = linear(b, w, `${ff}.wi_0`, h);
      const up = linear(b, w, `${ff}.wi_1`, h);
      hidden = b.scope(ff, () => b.op('Mul', [applyHfActivation(b, cfg.activation, gate), up], {}, { name: 'Gate' }));
    } else {
      const up = linear(b, w, `${ff}.wi`, h);
      hidden = b.scope(ff, () => applyHfActivation(b, cfg.activation, up));
    }
    const ffOut = linear(b, w, `${ff}.wo`, hidden);
    x = b.scope(`${p}.1`, () => b.op('Add', [x, ffOut], {}, { name: 'Residual' }));
  }
  const y = rmsNorm(b, w, x, 'encoder.final_layer_norm.weight', cfg.eps);
  b.output(y, io.output, 'float32', ['batch', 'seq', cfg.dModel]);
  return b.build();
}

export interface T5EncoderCreateOptions extends Partial<Omit<SessionOptions, 'ep'>> {
  ep: ExecutionProvider;
  config?: T5EncoderConfig;
  /** Default: `defaultAttentionFor(ep)`. */
  attention?: AttentionKind;
}

/** A built and loaded T5 encoder. */
export class T5Encoder {
  private constructor(
    readonly config: T5EncoderConfig,
    readonly model: Pick<BuiltModel, 'name' | 'parameterCount' | 'externalBytes' | 'nodeCount'>,
    private readonly session: NetSession,
  ) {}

  static async create(w: Weights, opts: T5EncoderCreateOptions): Promise<T5Encoder> {
    const { config, attention: kind, ...sessionOpts } = opts;
    const cfg = config ?? readT5EncoderConfig(w);
    const built = buildT5Encoder(w, {
      config: cfg, lookupInStoredDtype: opts.ep === 'cpu', attention: kind ?? defaultAttentionFor(opts.ep),
    });
    const session = await createSession(built, sessionOpts);
    const { name, parameterCount, externalBytes, nodeCount } = built;
    return new T5Encoder(cfg, { name, parameterCount, externalBytes, nodeCount }, session);
  }

  get ep(): ExecutionProvider {
    return this.session.ep;
  }

  /** `last_hidden_state` [batch, len, d_model] for token ids [batch, len] (no attention mask). */
  async encode(ids: BigInt64Array, batch: number, len: number): Promise<Float32Array> {
    const cfg = this.config;
    checkTokenIds('T5Encoder.encode', ids, batch, len, cfg.vocab);
    const buckets = t5RelativePositionBuckets(len, len, cfg.numBuckets, cfg.maxDistance);
    const io = T5_ENCODER_IO;
    const out = await this.session.run({
      [io.inputIds]: new ort.Tensor('int64', ids, [batch, len]),
      [io.positionBuckets]: new ort.Tensor('int64', buckets, [len, len]),
    }, [io.output]);
    const data = out[io.output].data as Float32Array;
    if (data.length !== batch * len * cfg.dModel) {
      throw new Error(`T5Encoder.encode: output has ${data.length} values, expected ${batch} × ${len} × ${cfg.dModel}`);
    }
    return data;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
