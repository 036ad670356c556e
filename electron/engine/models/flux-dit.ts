// FLUX DiT (black-forest-labs key layout, as used by UNO) built as an ONNX graph from the
// checkpoint's own tensors, plus the runtime wrapper the UNO pipeline calls once per step.
//
// Sizes come from tensor shapes; RoPE axes/theta (not stored in the weights) from a config.json
// beside the checkpoint or the FLUX.1 rule. Compute is float32; QK-RMSNorm, modulation and RoPE
// stay float32. UNO reference tokens go through the same `img_in`, are appended to the image
// stream after the target tokens, and only the target tokens are returned.
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { type Weights, SafetensorsError, elementCount } from '../runtime/safetensors.js';
import { type BuiltModel, type Value, GraphBuilder, float } from '../runtime/graph.js';
import { geluTanh, linear, rmsNorm, silu, splitLast } from '../runtime/nn.js';
import type { ExecutionProvider, SessionOptions } from '../runtime/sessions.js';
import {
  type BlockGroup, type BlockRange, type GroupSessionCounts, BlockGroupRunner, blockStateName, planBlockGroups, storedBlockBytes, summarizeGroupGraphs,
} from '../runtime/block-groups.js';
import { type PositionIds, applyRope, ropeTables } from './rope.js';
import { type AttentionKind, attention, defaultAttentionFor } from './attention.js';

/** Every size of a FLUX DiT. */
export interface FluxDitConfig {
  /** Packed latent channels per token (img_in input). */
  inChannels: number;
  /** Channels per output token (final_layer.linear output). */
  outChannels: number;
  hidden: number;
  heads: number;
  headDim: number;
  /** Double-stream blocks. */
  depth: number;
  /** Single-stream blocks. */
  depthSingle: number;
  mlpHidden: number;
  /** Text token width (txt_in input). */
  contextInDim: number;
  /** Pooled vector width (vector_in input). */
  vecInDim: number;
  /** Sinusoidal timestep embedding width (time_in input). */
  timeEmbedDim: number;
  guidanceEmbed: boolean;
  qkvBias: boolean;
  axesDim: number[];
  theta: number;
  /** Where axesDim/theta came from (a config.json path, or the FLUX.1 default rule). */
  ropeSource: string;
}

export interface FluxDitConfigOptions {
  /**
   * config.json holding `axes_dim`/`theta` (top level or under `FluxParams`/`params`; diffusers'
   * `axes_dims_rope` accepted). Default: `config.json` beside the checkpoint when it exists.
   * `null`: do not look for one.
   */
  configFile?: string | null;
  /** Explicit RoPE settings (take precedence over any config.json). */
  rope?: { axesDim: readonly number[]; theta: number };
}

/** FLUX.1 defaults for what the checkpoint does not store. */
export const FLUX1_THETA = 10000;
const FLUX1_AXES_RATIO = [16, 56, 56] as const;
const LN_EPS = 1e-6;
const QK_NORM_EPS = 1e-6;
/** Reference `timestep_embedding`: t is multiplied by 1000 before the sinusoids. */
export const TIME_FACTOR = 1000;
const MAX_PERIOD = 10000;

/**
 * FLUX.1 axes for a head size the checkpoint implies, keeping the [16, 56, 56] ratio of
 * head_dim 128: axis 0 gets 2·round(head_dim/16) channels, the rest is split evenly between
 * axes 1 and 2 (axis 1 rounded down to an even count, axis 2 takes the remainder).
 * head_dim 128 → [16, 56, 56]; 32 → [4, 14, 14]; 96 → [12, 42, 42].
 */
export function defaultFluxAxesDim(headDim: number): number[] {
  const a0 = 2 * Math.max(1, Math.round((headDim * FLUX1_AXES_RATIO[0]) / 128 / 2));
  const rest = headDim - a0;
  const a1 = 2 * Math.floor(rest / 4);
  const a2 = rest - a1;
  if (a1 <= 0 || a2 <= 0 || a2 % 2 !== 0) throw new Error(`no FLUX-style RoPE axes for head_dim ${headDim}: give axes_dim in a config.json`);
  return [a0, a1, a2];
}

function blockIndices(w: Weights, prefix: string): number {
  const found = new Set<number>();
  const re = new RegExp(`^${prefix.replace('.', '\\.')}\\.(\\d+)\\.`);
  for (const k of w.keys()) {
    const m = re.exec(k);
    if (m) found.add(Number(m[1]));
  }
  const n = found.size === 0 ? 0 : Math.max(...found) + 1;
  for (let i = 0; i < n; i++) {
    if (!found.has(i)) {
      throw new SafetensorsError(w.path, `has no tensors for "${prefix}.${i}" (found ${prefix} ${[...found].sort((a, b) => a - b).join(', ')}); the checkpoint is incomplete`);
    }
  }
  return n;
}

function dimOf(w: Weights, key: string, axis: number, rank: number): number {
  const s = w.shape(key);
  if (s.length !== rank) {
    throw new SafetensorsError(w.path, `tensor "${key}" has shape [${s.join(', ')}], expected a ${rank}-D tensor`);
  }
  return s[axis];
}

interface ConfigJsonRope {
  axesDim?: number[];
  theta?: number;
  checks: Record<string, unknown>;
}

function readConfigJson(file: string): ConfigJsonRope {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: cannot read FLUX config (${(e as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${file}: FLUX config is not a JSON object`);
  const top = raw as Record<string, unknown>;
  const nested = [top.FluxParams, top.params].find((v) => v !== null && typeof v === 'object' && !Array.isArray(v));
  const p = (nested ?? top) as Record<string, unknown>;
  const axes = p.axes_dim ?? p.axes_dims_rope;
  const out: ConfigJsonRope = { checks: p };
  if (axes !== undefined) {
    if (!Array.isArray(axes) || !axes.every((d) => Number.isInteger(d) && d > 0)) {
      throw new Error(`${file}: axes_dim must be a list of positive integers, got ${JSON.stringify(axes)}`);
    }
    out.axesDim = axes as number[];
  }
  if (p.theta !== undefined) {
    if (typeof p.theta !== 'number' || !(p.theta > 0)) throw new Error(`${file}: theta must be a positive number, got ${JSON.stringify(p.theta)}`);
    out.theta = p.theta;
  }
  return out;
}

/** config.json beside a checkpoint file, or inside a checkpoint folder; null when absent. */
export function configFileBeside(checkpointPath: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(checkpointPath);
  } catch {
    return null;
  }
  const f = path.join(st.isDirectory() ? checkpointPath : path.dirname(checkpointPath), 'config.json');
  return fs.existsSync(f) ? f : null;
}

/** Read every size of a FLUX DiT from the checkpoint's tensor shapes (and RoPE from config.json). */
export function readFluxDitConfig(w: Weights, opts: FluxDitConfigOptions = {}): FluxDitConfig {
  const hidden = dimOf(w, 'img_in.weight', 0, 2);
  const inChannels = dimOf(w, 'img_in.weight', 1, 2);
  const depth = blockIndices(w, 'double_blocks');
  const depthSingle = blockIndices(w, 'single_blocks');
  if (depth + depthSingle === 0) throw new SafetensorsError(w.path, 'has no double_blocks.* or single_blocks.* tensors; not a FLUX DiT checkpoint');
  const normKey = depth > 0 ? 'double_blocks.0.img_attn.norm.query_norm.scale' : 'single_blocks.0.norm.query_norm.scale';
  const headDim = dimOf(w, normKey, 0, 1);
  if (headDim <= 0 || hidden % headDim !== 0) {
    throw new SafetensorsError(w.path, `"${normKey}" has ${headDim} entries (head_dim), which does not divide the hidden size ${hidden} of img_in.weight`);
  }
  const heads = hidden / headDim;
  const mlpHidden = depth > 0
    ? dimOf(w, 'double_blocks.0.img_mlp.0.weight', 0, 2)
    : dimOf(w, 'single_blocks.0.linear1.weight', 0, 2) - 3 * hidden;
  if (mlpHidden <= 0) throw new SafetensorsError(w.path, `"single_blocks.0.linear1.weight" has ${mlpHidden + 3 * hidden} rows, expected 3·${hidden} + mlp hidden`);

  let axesDim: number[] | undefined;
  let theta: number | undefined;
  let ropeSource = '';
  let checks: Record<string, unknown> = {};
  const cfgFile = opts.configFile === undefined ? configFileBeside(w.path) : opts.configFile;
  if (cfgFile) {
    const c = readConfigJson(cfgFile);
    checks = c.checks;
    axesDim = c.axesDim;
    theta = c.theta;
    if (axesDim || theta !== undefined) ropeSource = cfgFile;
  }
  if (opts.rope) {
    axesDim = [...opts.rope.axesDim];
    theta = opts.rope.theta;
    ropeSource = 'explicit option';
  }
  if (!axesDim) {
    axesDim = defaultFluxAxesDim(headDim);
    ropeSource = ropeSource ? `${ropeSource} (theta) + FLUX.1 axes rule` : 'FLUX.1 defaults scaled to head_dim';
  }
  theta ??= FLUX1_THETA;
  const axesSum = axesDim.reduce((a, d) => a + d, 0);
  if (axesSum !== headDim) {
    throw new Error(`${w.path}: RoPE axes_dim [${axesDim.join(', ')}] (from ${ropeSource}) sums to ${axesSum}, but the checkpoint's head_dim ("${normKey}" length) is ${headDim}`);
  }
  if (axesDim.some((d) => d % 2 !== 0)) throw new Error(`${w.path}: RoPE axes_dim [${axesDim.join(', ')}] (from ${ropeSource}) must all be even`);

  const cfg: FluxDitConfig = {
    inChannels,
    outChannels: dimOf(w, 'final_layer.linear.weight', 0, 2),
    hidden, heads, headDim, depth, depthSingle, mlpHidden,
    contextInDim: dimOf(w, 'txt_in.weight', 1, 2),
    vecInDim: dimOf(w, 'vector_in.in_layer.weight', 1, 2),
    timeEmbedDim: dimOf(w, 'time_in.in_layer.weight', 1, 2),
    guidanceEmbed: w.has('guidance_in.in_layer.weight'),
    qkvBias: depth > 0 ? w.has('double_blocks.0.img_attn.qkv.bias') : true,
    axesDim, theta, ropeSource,
  };
  if (cfg.timeEmbedDim % 2 !== 0) throw new SafetensorsError(w.path, `"time_in.in_layer.weight" input width ${cfg.timeEmbedDim} must be even (sinusoidal embedding)`);
  if (cfgFile) crossCheckConfig(cfgFile, checks, cfg);
  validateFluxDitWeights(w, cfg);
  return cfg;
}

/** A config.json that states sizes must agree with the checkpoint it sits beside. */
function crossCheckConfig(file: string, p: Record<string, unknown>, cfg: FluxDitConfig): void {
  const pairs: Array<[string[], number | boolean]> = [
    [['hidden_size'], cfg.hidden],
    [['num_heads', 'num_attention_heads'], cfg.heads],
    [['attention_head_dim'], cfg.headDim],
    [['depth', 'num_layers'], cfg.depth],
    [['depth_single_blocks', 'num_single_layers'], cfg.depthSingle],
    [['context_in_dim', 'joint_attention_dim'], cfg.contextInDim],
    [['vec_in_dim', 'pooled_projection_dim'], cfg.vecInDim],
    [['guidance_embed', 'guidance_embeds'], cfg.guidanceEmbed],
    [['qkv_bias'], cfg.qkvBias],
  ];
  for (const [names, actual] of pairs) {
    for (const n of names) {
      if (p[n] !== undefined && p[n] !== actual) {
        throw new Error(`${file}: ${n} is ${JSON.stringify(p[n])} but the checkpoint beside it has ${JSON.stringify(actual)}`);
      }
    }
  }
}

/** Every tensor a FLUX DiT of this config reads, with its expected shape. */
export function fluxDitTensorShapes(cfg: FluxDitConfig): Map<string, number[]> {
  const H = cfg.hidden;
  const M = cfg.mlpHidden;
  const D = cfg.headDim;
  const s = new Map<string, number[]>();
  const lin = (p: string, out: number, inp: number, bias = true) => {
    s.set(`${p}.weight`, [out, inp]);
    if (bias) s.set(`${p}.bias`, [out]);
  };
  lin('img_in', H, cfg.inChannels);
  lin('txt_in', H, cfg.contextInDim);
  const embedders: Array<[string, number]> = [['time_in', cfg.timeEmbedDim], ['vector_in', cfg.vecInDim]];
  if (cfg.guidanceEmbed) embedders.push(['guidance_in', cfg.timeEmbedDim]);
  for (const [p, inp] of embedders) {
    lin(`${p}.in_layer`, H, inp);
    lin(`${p}.out_layer`, H, H);
  }
  for (let i = 0; i < cfg.depth; i++) {
    for (const st of ['img', 'txt']) {
      const p = `double_blocks.${i}.${st}`;
      lin(`${p}_mod.lin`, 6 * H, H);
      lin(`${p}_attn.qkv`, 3 * H, H, cfg.qkvBias);
      s.set(`${p}_attn.norm.query_norm.scale`, [D]);
      s.set(`${p}_attn.norm.key_norm.scale`, [D]);
      lin(`${p}_attn.proj`, H, H);
      lin(`${p}_mlp.0`, M, H);
      lin(`${p}_mlp.2`, H, M);
    }
  }
  for (let i = 0; i < cfg.depthSingle; i++) {
    const p = `single_blocks.${i}`;
    lin(`${p}.linear1`, 3 * H + M, H);
    lin(`${p}.linear2`, H, H + M);
    s.set(`${p}.norm.query_norm.scale`, [D]);
    s.set(`${p}.norm.key_norm.scale`, [D]);
    lin(`${p}.modulation.lin`, 3 * H, H);
  }
  lin('final_layer.adaLN_modulation.1', 2 * H, H);
  lin('final_layer.linear', cfg.outChannels, H);
  return s;
}

/** Check presence, shape and dtype of every tensor the graph will read (errors name the key). */
export function validateFluxDitWeights(w: Weights, cfg: FluxDitConfig): void {
  for (const [key, shape] of fluxDitTensorShapes(cfg)) {
    w.expectShape(key, shape);
    const dt = w.info(key).dtype;
    if (dt !== 'F32' && dt !== 'F16' && dt !== 'BF16') {
      throw new SafetensorsError(w.path, `tensor "${key}" is ${dt}; the FLUX DiT graph reads F32, F16 or BF16 weights (quantized files need a bake first)`);
    }
  }
}

/** Elements of all weights the graph reads. */
export function fluxDitParameterCount(cfg: FluxDitConfig): number {
  let n = 0;
  for (const shape of fluxDitTensorShapes(cfg).values()) n += elementCount(shape);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Graph

/** Graph input/output names of the built DiT. */
export const FLUX_DIT_IO = {
  img: 'img',
  refImg: 'ref_img',
  txt: 'txt',
  vec: 'vec',
  timestepEmb: 'timestep_emb',
  guidanceEmb: 'guidance_emb',
  ropeCos: 'rope_cos',
  ropeSin: 'rope_sin',
  output: 'output',
} as const;

/**
 * How joint attention is emitted: see `attention.ts` ('fused' MultiHeadAttention, or 'unfused'
 * MatMul → Softmax → MatMul, the WebGPU default because ORT 1.30's WebGPU MultiHeadAttention is
 * wrong for sequence length ≥ 32).
 */
export type FluxAttentionKind = AttentionKind;
export { defaultAttentionFor };

export interface FluxDitBuildOptions {
  /** Precomputed config (default: `readFluxDitConfig(w)`). */
  config?: FluxDitConfig;
  name?: string;
  /** Default 'fused'. */
  attention?: FluxAttentionKind;
  /** Unfused attention only: scores computed in this many query chunks (`AttentionOptions.queryChunks`). Default 1. */
  attentionQueryChunks?: number;
}

/** Shared per-graph values the block emitters need. */
interface Ctx {
  b: GraphBuilder;
  w: Weights;
  cfg: FluxDitConfig;
  ones: Value;
  one: Value;
  headsShape: Value;
  flatShape: Value;
  ropeCos: Value;
  ropeSin: Value;
  ropeStart: Value;
  vecAct: Value;
  nTxt: Value;
  attention: FluxAttentionKind;
  queryChunks: number | undefined;
}

/** Modulation.lin(SiLU(vec)) split into `n` [B, 1, H] chunks (shift, scale, gate, ...). */
function modulation(c: Ctx, modulePath: string, n: number): Value[] {
  const m = linear(c.b, c.w, modulePath, c.vecAct);
  return c.b.scope(modulePath, () => {
    const u = c.b.op('Unsqueeze', [m, c.b.ints([1])]);
    return splitLast(c.b, u, new Array<number>(n).fill(c.cfg.hidden));
  });
}

/** (1 + scale) · LayerNorm(x) + shift, LayerNorm without affine, eps 1e-6. */
function modulate(c: Ctx, x: Value, shift: Value, scale: Value, name: string): Value {
  const { b } = c;
  const n = b.op('LayerNormalization', [x, c.ones], { axis: -1, epsilon: float(LN_EPS) }, { name: `LayerNorm_${name}` });
  const s = b.op('Add', [scale, c.one], {}, { name: `OnePlusScale_${name}` });
  return b.op('Add', [b.op('Mul', [n, s], {}, { name: `Scale_${name}` }), shift], {}, { name: `Shift_${name}` });
}

/** x + gate · y */
function gatedResidual(c: Ctx, x: Value, gate: Value, y: Value, name: string): Value {
  return c.b.op('Add', [x, c.b.op('Mul', [gate, y], {}, { name: `Gate_${name}` })], {}, { name: `Residual_${name}` });
}

/** Per-head RMSNorm of q or k ([B, S, H] → heads × head_dim), fp32, learnable scale. */
function qkNorm(c: Ctx, x: Value, scaleKey: string): Value {
  const { b } = c;
  const modulePath = scaleKey.slice(0, scaleKey.lastIndexOf('.'));
  const x4 = b.scope(modulePath, () => b.op('Reshape', [x, c.headsShape], {}, { name: 'ReshapeHeads' }));
  const n = rmsNorm(b, c.w, x4, scaleKey, QK_NORM_EPS);
  return b.scope(modulePath, () => b.op('Reshape', [n, c.flatShape], {}, { name: 'ReshapeFlat' }));
}

/** RoPE on q and k, then multi-head attention over the joint sequence. */
function ropeAttention(c: Ctx, q: Value, k: Value, v: Value): Value {
  const qr = applyRope(c.b, q, c.ropeCos, c.ropeSin, c.cfg.heads, c.ropeStart, 'RotaryEmbedding_q');
  const kr = applyRope(c.b, k, c.ropeCos, c.ropeSin, c.cfg.heads, c.ropeStart, 'RotaryEmbedding_k');
  return attention(c.b, qr, kr, v, {
    kind: c.attention, heads: c.cfg.heads, headDim: c.cfg.headDim,
    queryChunks: c.attention === 'unfused' ? c.queryChunks : undefined,
  });
}

function mlp(c: Ctx, modulePath: string, x: Value): Value {
  const h = linear(c.b, c.w, `${modulePath}.0`, x);
  const a = c.b.scope(`${modulePath}.1`, () => geluTanh(c.b, h));
  return linear(c.b, c.w, `${modulePath}.2`, a);
}

function doubleBlock(c: Ctx, i: number, img: Value, txt: Value): [Value, Value] {
  const { b, cfg } = c;
  const p = `double_blocks.${i}`;
  const H = cfg.hidden;
  const streams = (['img', 'txt'] as const).map((st) => {
    const x = st === 'img' ? img : txt;
    const mod = modulation(c, `${p}.${st}_mod.lin`, 6);
    const xm = b.scope(`${p}.${st}_norm1`, () => modulate(c, x, mod[0], mod[1], 'norm1'));
    const qkv = linear(b, c.w, `${p}.${st}_attn.qkv`, xm);
    const [q, k, v] = b.scope(`${p}.${st}_attn.qkv`, () => splitLast(b, qkv, [H, H, H]));
    return {
      st, x, mod, v,
      q: qkNorm(c, q, `${p}.${st}_attn.norm.query_norm.scale`),
      k: qkNorm(c, k, `${p}.${st}_attn.norm.key_norm.scale`),
    };
  });
  const [si, stx] = streams;
  // Joint attention over [txt ; img], positions in the same order.
  const attn = b.scope(p, () => {
    const q = b.op('Concat', [stx.q, si.q], { axis: 1 }, { name: 'Concat_q' });
    const k = b.op('Concat', [stx.k, si.k], { axis: 1 }, { name: 'Concat_k' });
    const v = b.op('Concat', [stx.v, si.v], { axis: 1 }, { name: 'Concat_v' });
    return ropeAttention(c, q, k, v);
  });
  const [txtAttn, imgAttn] = b.scope(p, () => [
    b.op('Slice', [attn, b.ints([0]), c.nTxt, b.ints([1])], {}, { name: 'Slice_txt' }),
    b.op('Slice', [attn, c.nTxt, b.ints([Number.MAX_SAFE_INTEGER]), b.ints([1])], {}, { name: 'Slice_img' }),
  ]);
  const out = streams.map((s) => {
    const a = s.st === 'img' ? imgAttn : txtAttn;
    const proj = linear(b, c.w, `${p}.${s.st}_attn.proj`, a);
    let x = b.scope(`${p}.${s.st}_attn`, () => gatedResidual(c, s.x, s.mod[2], proj, 'attn'));
    const xm = b.scope(`${p}.${s.st}_norm2`, () => modulate(c, x, s.mod[3], s.mod[4], 'norm2'));
    const y = mlp(c, `${p}.${s.st}_mlp`, xm);
    x = b.scope(`${p}.${s.st}_mlp`, () => gatedResidual(c, x, s.mod[5], y, 'mlp'));
    return x;
  });
  return [out[0], out[1]];
}

function singleBlock(c: Ctx, i: number, x: Value): Value {
  const { b, cfg } = c;
  const p = `single_blocks.${i}`;
  const H = cfg.hidden;
  const [shift, scale, gate] = modulation(c, `${p}.modulation.lin`, 3);
  const xm = b.scope(`${p}.pre_norm`, () => modulate(c, x, shift, scale, 'pre_norm'));
  const l1 = linear(b, c.w, `${p}.linear1`, xm);
  const [q, k, v, m] = b.scope(`${p}.linear1`, () => splitLast(b, l1, [H, H, H, cfg.mlpHidden]));
  const qn = qkNorm(c, q, `${p}.norm.query_norm.scale`);
  const kn = qkNorm(c, k, `${p}.norm.key_norm.scale`);
  const joined = b.scope(p, () => {
    const attn = ropeAttention(c, qn, kn, v);
    const act = b.scope('mlp_act', () => geluTanh(b, m));
    return b.op('Concat', [attn, act], { axis: -1 }, { name: 'Concat_attn_mlp' });
  });
  const y = linear(b, c.w, `${p}.linear2`, joined);
  return b.scope(p, () => gatedResidual(c, x, gate, y, 'out'));
}

function mlpEmbedder(c: Ctx, modulePath: string, x: Value): Value {
  const h = linear(c.b, c.w, `${modulePath}.in_layer`, x);
  const a = c.b.scope(modulePath, () => silu(c.b, h));
  return linear(c.b, c.w, `${modulePath}.out_layer`, a);
}

/**
 * Names that carry state between the block groups of a streamed DiT. Hidden states are named by
 * the block they enter (`blockStateName`: "img_hidden.3" = image stream before block 3), so a
 * group's input and output never share a name.
 */
export const FLUX_DIT_GROUP_IO = {
  /** float32 [B, n_img + n_ref, H]: image stream while in the double blocks. */
  imgHidden: 'img_hidden',
  /** float32 [B, n_txt, H]: text stream while in the double blocks. */
  txtHidden: 'txt_hidden',
  /** float32 [B, n_txt + n_img + n_ref, H]: joint stream of the single blocks. */
  jointHidden: 'joint_hidden',
  /** float32 [B, H]: SiLU(vec), every modulation's input (computed by the first group). */
  vecAct: 'vec_act',
  /** int64 [1]: token counts (host-given) for the last group's output slice. */
  nTxt: 'n_txt',
  nImg: 'n_img',
} as const;

/** Module path of every repeated block in execution order (double_blocks, then single_blocks). */
export function fluxDitBlockPaths(cfg: Pick<FluxDitConfig, 'depth' | 'depthSingle'>): string[] {
  return [
    ...Array.from({ length: cfg.depth }, (_, i) => `double_blocks.${i}`),
    ...Array.from({ length: cfg.depthSingle }, (_, i) => `single_blocks.${i}`),
  ];
}

/**
 * Emit blocks [range.first, range.end) and, for the first group, the embedders, for the last the
 * final layer. Groups hand over hidden states by name (FLUX_DIT_GROUP_IO): the image/text streams
 * up to and including the group holding single_blocks.0 (which concatenates them), the joint
 * stream after it. The whole range gives the full network with the FLUX_DIT_IO interface.
 */
function emitFluxDit(b: GraphBuilder, w: Weights, cfg: FluxDitConfig, attention: AttentionForm, range: BlockRange): void {
  const io = FLUX_DIT_IO;
  const gio = FLUX_DIT_GROUP_IO;
  const total = cfg.depth + cfg.depthSingle;
  const first = range.first === 0;
  const last = range.end === total;
  const H = cfg.hidden;
  const pairs = cfg.headDim / 2;
  const hiddenDims = (seq: string) => ['batch', seq, H];

  let img: Value | null = null; // target tokens (the first group's input), for n_img
  let x: Value | null = null;
  let txt: Value | null = null;
  let joint: Value | null = null;
  let vecAct: Value;
  let nTxt: Value | null = null;
  let ropeCos: Value;
  let ropeSin: Value;
  let c: Ctx | null = null;
  if (first) {
    img = b.input(io.img, 'float32', ['batch', 'n_img', cfg.inChannels]);
    const refImg = b.input(io.refImg, 'float32', ['batch', 'n_ref', cfg.inChannels]);
    const txtIn = b.input(io.txt, 'float32', ['batch', 'n_txt', cfg.contextInDim]);
    const vecIn = b.input(io.vec, 'float32', ['batch', cfg.vecInDim]);
    const tEmb = b.input(io.timestepEmb, 'float32', ['batch', cfg.timeEmbedDim]);
    const gEmb = cfg.guidanceEmbed ? b.input(io.guidanceEmb, 'float32', ['batch', cfg.timeEmbedDim]) : null;
    ropeCos = b.input(io.ropeCos, 'float32', ['n_seq', pairs]);
    ropeSin = b.input(io.ropeSin, 'float32', ['n_seq', pairs]);
    nTxt = b.op('Shape', [txtIn], { start: 1, end: 2 }, { name: 'Shape_n_txt' });
    const e = blockCtx(b, w, cfg, attention, ropeCos, ropeSin);
    let vec = mlpEmbedder(e, 'time_in', tEmb);
    if (gEmb) vec = b.op('Add', [vec, mlpEmbedder(e, 'guidance_in', gEmb)], {}, { name: 'Add_guidance' });
    vec = b.op('Add', [vec, mlpEmbedder(e, 'vector_in', vecIn)], {}, { name: 'Add_vector' });
    vecAct = silu(b, vec);
    c = e;
    // Target and reference tokens share img_in; the image stream is [target ; refs].
    const imgAll = b.op('Concat', [img, refImg], { axis: 1 }, { name: 'Concat_img_refs' });
    x = linear(b, w, 'img_in', imgAll);
    txt = linear(b, w, 'txt_in', txtIn);
  } else {
    vecAct = b.input(gio.vecAct, 'float32', ['batch', H]);
    ropeCos = b.input(io.ropeCos, 'float32', ['n_seq', pairs]);
    ropeSin = b.input(io.ropeSin, 'float32', ['n_seq', pairs]);
    // The group holding single_blocks.0 still receives the two streams and joins them.
    if (range.first <= cfg.depth) {
      x = b.input(blockStateName(gio.imgHidden, range.first), 'float32', hiddenDims('n_img_stream'));
      txt = b.input(blockStateName(gio.txtHidden, range.first), 'float32', hiddenDims('n_txt'));
      nTxt = b.op('Shape', [txt], { start: 1, end: 2 }, { name: 'Shape_n_txt' });
    } else {
      joint = b.input(blockStateName(gio.jointHidden, range.first), 'float32', hiddenDims('n_seq'));
    }
  }
  c ??= blockCtx(b, w, cfg, attention, ropeCos, ropeSin);
  c.vecAct = vecAct;
  if (nTxt) c.nTxt = nTxt;
  const join = (t: Value, i: Value) => b.op('Concat', [t, i], { axis: 1 }, { name: 'Concat_txt_img' });
  for (let i = range.first; i < range.end; i++) {
    if (i < cfg.depth) {
      [x, txt] = doubleBlock(c, i, x!, txt!);
    } else {
      joint = singleBlock(c, i - cfg.depth, joint ?? join(txt!, x!));
    }
  }

  if (!last) {
    if (joint) {
      b.output(joint, blockStateName(gio.jointHidden, range.end), 'float32', hiddenDims('n_seq'));
    } else {
      b.output(x!, blockStateName(gio.imgHidden, range.end), 'float32', hiddenDims('n_img_stream'));
      b.output(txt!, blockStateName(gio.txtHidden, range.end), 'float32', hiddenDims('n_txt'));
    }
    if (first) b.output(vecAct, gio.vecAct, 'float32', ['batch', H]);
    return;
  }
  joint ??= join(txt!, x!);
  nTxt ??= b.input(gio.nTxt, 'int64', [1]);
  const nImg = img
    ? b.op('Shape', [img], { start: 1, end: 2 }, { name: 'Shape_n_img' })
    : b.input(gio.nImg, 'int64', [1]);
  // Two slices instead of one with end = n_txt + n_img: WebGPU has no int64 Add kernel.
  const imgStream = b.op('Slice', [joint!, nTxt, b.ints([Number.MAX_SAFE_INTEGER]), b.ints([1])], {}, { name: 'Slice_img_stream' });
  const target = b.op('Slice', [imgStream, b.ints([0]), nImg, b.ints([1])], {}, { name: 'Slice_target' });
  const [shift, scale] = modulation(c, 'final_layer.adaLN_modulation.1', 2);
  const xm = b.scope('final_layer.norm_final', () => modulate(c, target, shift, scale, 'norm_final'));
  const out = linear(b, w, 'final_layer.linear', xm);
  b.output(out, io.output, 'float32', ['batch', 'n_img', cfg.outChannels]);
}

/** Constants and inputs shared by the block emitters; `vecAct`/`nTxt` are set by the caller. */
/** The attention form of a graph: kind and, for the unfused form, query chunks. */
interface AttentionForm {
  kind: FluxAttentionKind;
  queryChunks?: number;
}

function blockCtx(b: GraphBuilder, w: Weights, cfg: FluxDitConfig, attention: AttentionForm, ropeCos: Value, ropeSin: Value): Ctx {
  return {
    b, w, cfg, ropeCos, ropeSin, attention: attention.kind, queryChunks: attention.queryChunks,
    vecAct: ropeCos, // placeholders, set before use
    nTxt: ropeCos,
    ones: b.constant(new Float32Array(cfg.hidden).fill(1), [cfg.hidden], 'float32', 'layer_norm_ones'),
    one: b.constant(new Float32Array([1]), [], 'float32', 'one'),
    headsShape: b.constant(BigInt64Array.from([0n, 0n, BigInt(cfg.heads), BigInt(cfg.headDim)]), [4], 'int64', 'shape_heads'),
    flatShape: b.constant(BigInt64Array.from([0n, 0n, BigInt(cfg.hidden)]), [3], 'int64', 'shape_flat'),
    ropeStart: b.constant(BigInt64Array.from([0n]), [1], 'int64', 'rope_start'),
  };
}

/**
 * The FLUX DiT graph. Inputs (B = batch, any sequence lengths):
 *   img [B, n_img, in], ref_img [B, n_ref, in] (all references concatenated; n_ref may be 0),
 *   txt [B, n_txt, ctx], vec [B, vec_in], timestep_emb / guidance_emb [B, time_dim]
 *   (see `timestepEmbedding`; guidance only when the checkpoint has guidance_in),
 *   rope_cos / rope_sin [n_txt + n_img + n_ref, head_dim/2] (see `ropeTables`; rows in
 *   [txt ; img ; refs] order). Output: output [B, n_img, out] (target tokens only).
 */
export function buildFluxDit(w: Weights, opts: FluxDitBuildOptions = {}): BuiltModel {
  const cfg = opts.config ?? readFluxDitConfig(w);
  if (opts.config) validateFluxDitWeights(w, cfg); // readFluxDitConfig validates on its own
  const b = new GraphBuilder(opts.name ?? 'flux_dit', { config: JSON.stringify(cfg), source: w.path });
  emitFluxDit(b, w, cfg, { kind: opts.attention ?? 'fused', queryChunks: opts.attentionQueryChunks }, { first: 0, end: cfg.depth + cfg.depthSingle });
  return b.build();
}

/**
 * One group of a streamed DiT: blocks [range.first, range.end) of `fluxDitBlockPaths`. The first
 * group takes the FLUX_DIT_IO inputs (embedders included), later ones `vec_act`, the RoPE tables
 * and the hidden state(s) the previous group returned (FLUX_DIT_GROUP_IO); the last one also
 * `n_txt`/`n_img` (unless it is the first) and returns `output`.
 */
export function buildFluxDitGroup(w: Weights, range: BlockRange, opts: FluxDitBuildOptions = {}): BuiltModel {
  const cfg = opts.config ?? readFluxDitConfig(w);
  if (opts.config) validateFluxDitWeights(w, cfg);
  const total = cfg.depth + cfg.depthSingle;
  if (!Number.isInteger(range.first) || !Number.isInteger(range.end) || range.first < 0 || range.end > total || range.first >= range.end) {
    throw new Error(`FLUX DiT block group [${range.first}, ${range.end}) is not a non-empty range of the ${total} blocks`);
  }
  const b = new GraphBuilder(opts.name ?? `flux_dit_blocks_${range.first}_${range.end}`, { config: JSON.stringify(cfg), source: w.path });
  emitFluxDit(b, w, cfg, { kind: opts.attention ?? 'fused', queryChunks: opts.attentionQueryChunks }, range);
  return b.build();
}

// ---------------------------------------------------------------------------------------------
// Host-side inputs

/**
 * FLUX `timestep_embedding(t, dim)` with time_factor 1000: [cos(a_k), sin(a_k)], a_k = 1000·t·f_k,
 * f_k = exp(−ln(10000)·k/(dim/2)). Follows the reference's float32 rounding at each step.
 */
export function timestepEmbedding(t: number, dim: number): Float32Array {
  const half = dim / 2;
  const out = new Float32Array(dim);
  const tt = Math.fround(TIME_FACTOR * Math.fround(t));
  const c = Math.fround(-Math.log(MAX_PERIOD));
  for (let k = 0; k < half; k++) {
    const f = Math.fround(Math.exp(Math.fround(Math.fround(c * k) / half)));
    const a = Math.fround(tt * f);
    out[k] = Math.cos(a);
    out[half + k] = Math.sin(a);
  }
  return out;
}

export interface FluxDitReference {
  /** Packed reference tokens [n_ref_k, in_channels]. */
  img: Float32Array;
  /** Their position ids [n_ref_k, 3]. */
  ids: PositionIds;
}

/** One forward, batch 1. Token counts follow from the array lengths. */
export interface FluxDitInputs {
  /** Target (noisy) packed latent tokens [n_img, in_channels]. */
  img: Float32Array;
  imgIds: PositionIds;
  /** Text tokens [n_txt, context_in_dim]. */
  txt: Float32Array;
  txtIds: PositionIds;
  /** Pooled vector [vec_in_dim]. */
  vec: Float32Array;
  timestep: number;
  /** Required when the checkpoint has guidance_in; ignored otherwise (as in the reference). */
  guidance?: number;
  refs?: readonly FluxDitReference[];
}

function tokenCount(what: string, data: ArrayLike<unknown>, width: number): number {
  if (data.length % width !== 0) throw new Error(`FluxDit.forward: ${what} has ${data.length} values, not a whole number of ${width}-wide tokens`);
  return data.length / width;
}

function checkIds(what: string, ids: PositionIds, tokens: number, axes: number): void {
  if (ids.length !== tokens * axes) {
    throw new Error(`FluxDit.forward: ${what} has ${ids.length} values, expected ${tokens} tokens × ${axes} axes = ${tokens * axes}`);
  }
}

export interface FluxDitCreateOptions extends Partial<Omit<SessionOptions, 'ep'>> {
  ep: ExecutionProvider;
  config?: FluxDitConfig;
  /** Default: `defaultAttentionFor(ep)`. */
  attention?: FluxAttentionKind;
  /** Unfused attention only (ignored by the fused form): query chunks of the scores, e.g. the memory plan's. Default 1. */
  attentionQueryChunks?: number;
  /**
   * Split the blocks (`fluxDitBlockPaths`) into this many contiguous groups of about equal bytes,
   * one graph each, run in sequence every forward (`splitBlockGroups`, the memory planner's split).
   * Default 1: the whole network in one graph.
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

/** A built and loaded FLUX DiT; one `forward` per denoising step, any resolution. */
export class FluxDit {
  private constructor(
    readonly config: FluxDitConfig,
    readonly model: Pick<BuiltModel, 'name' | 'parameterCount' | 'externalBytes' | 'nodeCount'>,
    /** Block groups, one graph each (a single group: the whole network). */
    readonly groups: readonly BlockGroup[],
    private readonly runner: BlockGroupRunner,
  ) {}

  static async create(w: Weights, opts: FluxDitCreateOptions): Promise<FluxDit> {
    const { config, attention, attentionQueryChunks, streamGroups, blockBytes, keepGroupsResident, ...sessionOpts } = opts;
    const cfg = config ?? readFluxDitConfig(w);
    const kind = attention ?? defaultAttentionFor(opts.ep);
    const paths = fluxDitBlockPaths(cfg);
    const groups = planBlockGroups(paths.length, streamGroups ?? 1, blockBytes ?? storedBlockBytes(w, paths), 'FLUX DiT');
    const graphs = groups.length === 1
      ? [buildFluxDit(w, { config: cfg, attention: kind, attentionQueryChunks })]
      : groups.map((g) => buildFluxDitGroup(w, g, { config: cfg, attention: kind, attentionQueryChunks }));
    const runner = await BlockGroupRunner.create(graphs, { ...sessionOpts, ep: opts.ep, resident: groups.length === 1 || keepGroupsResident === true });
    const model = summarizeGroupGraphs(graphs, 'flux_dit');
    return new FluxDit(cfg, model, groups, runner);
  }

  get ep(): ExecutionProvider {
    return this.runner.ep;
  }

  /** Group sessions live now / at most so far, created and released (streaming recreates them every forward). */
  get sessionCounts(): Readonly<GroupSessionCounts> {
    return { ...this.runner.counts };
  }

  /** Predicted velocity for the target tokens, [n_img, out_channels]. */
  async forward(inp: FluxDitInputs): Promise<Float32Array> {
    const cfg = this.config;
    const axes = cfg.axesDim.length;
    const nImg = tokenCount('img', inp.img, cfg.inChannels);
    const nTxt = tokenCount('txt', inp.txt, cfg.contextInDim);
    checkIds('imgIds', inp.imgIds, nImg, axes);
    checkIds('txtIds', inp.txtIds, nTxt, axes);
    if (inp.vec.length !== cfg.vecInDim) throw new Error(`FluxDit.forward: vec has ${inp.vec.length} values, expected ${cfg.vecInDim}`);
    if (cfg.guidanceEmbed && (inp.guidance === undefined || !Number.isFinite(inp.guidance))) {
      throw new Error('FluxDit.forward: this checkpoint has guidance_in (guidance-distilled), a finite guidance value is required');
    }
    const refs = inp.refs ?? [];
    const refCounts = refs.map((r, i) => {
      const n = tokenCount(`refs[${i}].img`, r.img, cfg.inChannels);
      checkIds(`refs[${i}].ids`, r.ids, n, axes);
      return n;
    });
    const nRef = refCounts.reduce((a, n) => a + n, 0);
    const refImg = new Float32Array(nRef * cfg.inChannels);
    const seq = nTxt + nImg + nRef;
    const ids = new Float64Array(seq * axes);
    let at = 0;
    const putIds = (src: PositionIds) => {
      for (let i = 0; i < src.length; i++) ids[at++] = Number(src[i]);
    };
    putIds(inp.txtIds);
    putIds(inp.imgIds);
    let off = 0;
    for (const r of refs) {
      refImg.set(r.img, off);
      off += r.img.length;
      putIds(r.ids);
    }
    const rope = ropeTables(ids, cfg.axesDim, cfg.theta);
    const io = FLUX_DIT_IO;
    const T = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
    const feeds: Record<string, ort.Tensor> = {
      [io.img]: T(inp.img, [1, nImg, cfg.inChannels]),
      [io.refImg]: T(refImg, [1, nRef, cfg.inChannels]),
      [io.txt]: T(inp.txt, [1, nTxt, cfg.contextInDim]),
      [io.vec]: T(inp.vec, [1, cfg.vecInDim]),
      [io.timestepEmb]: T(timestepEmbedding(inp.timestep, cfg.timeEmbedDim), [1, cfg.timeEmbedDim]),
      [io.ropeCos]: T(rope.cos, [seq, rope.pairs]),
      [io.ropeSin]: T(rope.sin, [seq, rope.pairs]),
    };
    if (cfg.guidanceEmbed) feeds[io.guidanceEmb] = T(timestepEmbedding(inp.guidance!, cfg.timeEmbedDim), [1, cfg.timeEmbedDim]);
    if (this.groups.length > 1) {
      feeds[FLUX_DIT_GROUP_IO.nTxt] = new ort.Tensor('int64', BigInt64Array.of(BigInt(nTxt)), [1]);
      feeds[FLUX_DIT_GROUP_IO.nImg] = new ort.Tensor('int64', BigInt64Array.of(BigInt(nImg)), [1]);
    }
    const out = await this.runner.run(feeds, [io.output]);
    const y = out[io.output];
    const data = y.data as Float32Array;
    if (data.length !== nImg * cfg.outChannels) {
      throw new Error(`FluxDit.forward: output has ${data.length} values, expected ${nImg} × ${cfg.outChannels}`);
    }
    return data;
  }

  async release(): Promise<void> {
    await this.runner.release();
  }
}
