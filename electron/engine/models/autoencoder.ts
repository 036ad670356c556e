// The FLUX VAE (KL autoencoder) encoder and decoder built as ONNX graphs from either key layout
// of the same architecture, plus the posterior and latent-scaling helpers and the runtime
// wrappers the pipelines call.
//
// - BFL `ae.safetensors` (UNO's `modules/autoencoder.py`): `encoder.down.{i}.block.{b}`,
//   `decoder.up.{i}` where i = 0 is the full-resolution level (executed last), mid attention
//   `mid.attn_1.{norm,q,k,v,proj_out}` as 1×1 convolutions, shortcut `nin_shortcut`.
// - diffusers `AutoencoderKL`: `encoder.down_blocks.{i}.resnets.{b}`, `decoder.up_blocks.{j}` in
//   execution order (j = levels − 1 − i), mid attention `mid_block.attentions.0.{group_norm,
//   to_q,to_k,to_v,to_out.0}` as Linear layers, shortcut `conv_shortcut`, optional
//   `quant_conv` / `post_quant_conv` (absent in the FLUX VAE).
//
// Both: GroupNorm (eps 1e-6) + SiLU before every 3×3 conv, a stride-2 downsample conv after
// zero padding right and bottom by one (every level but the last), nearest ×2 upsample + 3×3
// conv in the decoder (every level but the full-resolution one), and one single-head spatial
// self-attention over the h·w positions in each mid block (scale 1/√C).
//
// Graphs hold the network only. The encoder maps an image in [-1, 1] to the moments
// (mean | logvar along channels); the decoder maps a decoder-space latent z to an image. The
// scaling between z and the latent the DiT sees, `latent = scale·(z − shift)`, and its inverse
// `z = latent/scale + shift` are applied on the host (`scaleLatent` / `unscaleLatent`). The
// wrappers mirror that split: `VaeEncoder.encode` / `VaeDecoder.decode` run the network
// (moments / decoder-space z), `encodeLatent` / `decodeLatent` work in the scaled DiT latent.
import ort from 'onnxruntime-node';
import { type Weights, SafetensorsError } from '../runtime/safetensors.js';
import { type BuiltModel, type Value, GraphBuilder } from '../runtime/graph.js';
import { conv2d, groupNorm, linear, silu } from '../runtime/nn.js';
import { type ExecutionProvider, type NetSession, type SessionOptions, createSession } from '../runtime/sessions.js';
import { countNumberedModules, shapeOfRank, validateShapes } from './checkpoint-keys.js';
import { HfConfig, hfConfigBeside } from './hf-config.js';
import { type AttentionKind, attention, defaultAttentionFor } from './attention.js';

export type VaeKeyFormat = 'bfl' | 'diffusers';

/**
 * Used when no config.json is present (a bare `ae.safetensors`): the FLUX.1 values of BFL's
 * `AutoEncoderParams` and of the diffusers FLUX `vae/config.json`. Both reference
 * implementations hard-code GroupNorm eps 1e-6; BFL also hard-codes 32 groups.
 */
export const FLUX_VAE_DEFAULTS = { scale: 0.3611, shift: 0.1159, groups: 32, eps: 1e-6 } as const;
/** diffusers `AutoencoderKL` defaults for a config.json that omits the field. */
const DIFFUSERS_DEFAULTS = { scale: 0.18215, groups: 32 } as const;
/** diffusers clamps logvar to this range in `DiagonalGaussianDistribution`; BFL does not clamp. */
export const DIFFUSERS_LOGVAR_RANGE: readonly [number, number] = [-30, 20];

/** Sizes of one half (encoder or decoder), read from tensor shapes. */
export interface VaeHalfConfig {
  /** Output channels of each resolution level, full resolution first (level 0). */
  channels: number[];
  /** Output channels of `conv_in` (encoder: BFL `ch`; decoder: channels of the lowest level). */
  convInChannels: number;
  /** Residual blocks per level (encoder: num_res_blocks; decoder: num_res_blocks + 1). */
  resBlocks: number;
  /** The mid block has its self-attention (always for FLUX; diffusers `mid_block_add_attention`). */
  midAttention: boolean;
}

export interface VaeConfig {
  format: VaeKeyFormat;
  /** Image channels the encoder reads (3). */
  inChannels: number;
  /** Image channels the decoder writes (3). */
  outChannels: number;
  /** Latent channels (16); the encoder emits twice as many moments. */
  zChannels: number;
  /** Null when the checkpoint holds no tensors of that half. */
  encoder: VaeHalfConfig | null;
  decoder: VaeHalfConfig | null;
  /** diffusers `quant_conv` (1×1 conv on the moments) / `post_quant_conv` (on z) are present. */
  quantConv: boolean;
  postQuantConv: boolean;
  groups: number;
  eps: number;
  /** latent = scale·(z − shift). */
  scale: number;
  shift: number;
  /** Clamp logvar to DIFFUSERS_LOGVAR_RANGE in the posterior (diffusers only). */
  clampLogvar: boolean;
  /** The config.json the settings came from, or a note that defaults were used. */
  source: string;
}

/** Checkpoint module paths of one residual block. */
interface ResBlockKeys {
  norm1: string;
  conv1: string;
  norm2: string;
  conv2: string;
  /** 1×1 conv on the skip path when the channel count changes. */
  shortcut: string;
}

/** Checkpoint module paths of a mid-block self-attention. */
interface AttnKeys {
  path: string;
  norm: string;
  q: string;
  k: string;
  v: string;
  out: string;
  /** BFL: 1×1 convs ([C, C, 1, 1]); diffusers: Linear ([C, C]). */
  projection: 'conv1x1' | 'linear';
}

/** Where every module of the architecture lives in one key format. */
interface VaeLayout {
  format: VaeKeyFormat;
  /** Numbered container of the levels (`encoder.down`, `decoder.up_blocks`). */
  encLevels: string;
  decLevels: string;
  /** Residual-block container of level i (resolution level: 0 = full resolution). */
  encBlocks(i: number): string;
  decBlocks(i: number, levels: number): string;
  encRes(i: number, b: number): ResBlockKeys;
  decRes(i: number, b: number, levels: number): ResBlockKeys;
  encDownsample(i: number): string;
  decUpsample(i: number, levels: number): string;
  mid(half: 'encoder' | 'decoder'): { path: string; block1: ResBlockKeys; attn: AttnKeys; block2: ResBlockKeys };
  normOut(half: 'encoder' | 'decoder'): string;
  quantConv: string | null;
  postQuantConv: string | null;
}

function resKeys(p: string, shortcut: string): ResBlockKeys {
  return { norm1: `${p}.norm1`, conv1: `${p}.conv1`, norm2: `${p}.norm2`, conv2: `${p}.conv2`, shortcut: `${p}.${shortcut}` };
}

const BFL_LAYOUT: VaeLayout = {
  format: 'bfl',
  encLevels: 'encoder.down',
  decLevels: 'decoder.up',
  encBlocks: (i) => `encoder.down.${i}.block`,
  decBlocks: (i) => `decoder.up.${i}.block`,
  encRes: (i, b) => resKeys(`encoder.down.${i}.block.${b}`, 'nin_shortcut'),
  decRes: (i, b) => resKeys(`decoder.up.${i}.block.${b}`, 'nin_shortcut'),
  encDownsample: (i) => `encoder.down.${i}.downsample.conv`,
  decUpsample: (i) => `decoder.up.${i}.upsample.conv`,
  mid: (half) => {
    const p = `${half}.mid`;
    const a = `${p}.attn_1`;
    return {
      path: p,
      block1: resKeys(`${p}.block_1`, 'nin_shortcut'),
      attn: { path: a, norm: `${a}.norm`, q: `${a}.q`, k: `${a}.k`, v: `${a}.v`, out: `${a}.proj_out`, projection: 'conv1x1' },
      block2: resKeys(`${p}.block_2`, 'nin_shortcut'),
    };
  },
  normOut: (half) => `${half}.norm_out`,
  quantConv: null,
  postQuantConv: null,
};

/** diffusers numbers decoder blocks in execution order: resolution level i is up_blocks[levels-1-i]. */
const DIFFUSERS_LAYOUT: VaeLayout = {
  format: 'diffusers',
  encLevels: 'encoder.down_blocks',
  decLevels: 'decoder.up_blocks',
  encBlocks: (i) => `encoder.down_blocks.${i}.resnets`,
  decBlocks: (i, levels) => `decoder.up_blocks.${levels - 1 - i}.resnets`,
  encRes: (i, b) => resKeys(`encoder.down_blocks.${i}.resnets.${b}`, 'conv_shortcut'),
  decRes: (i, b, levels) => resKeys(`decoder.up_blocks.${levels - 1 - i}.resnets.${b}`, 'conv_shortcut'),
  encDownsample: (i) => `encoder.down_blocks.${i}.downsamplers.0.conv`,
  decUpsample: (i, levels) => `decoder.up_blocks.${levels - 1 - i}.upsamplers.0.conv`,
  mid: (half) => {
    const p = `${half}.mid_block`;
    const a = `${p}.attentions.0`;
    return {
      path: p,
      block1: resKeys(`${p}.resnets.0`, 'conv_shortcut'),
      attn: { path: a, norm: `${a}.group_norm`, q: `${a}.to_q`, k: `${a}.to_k`, v: `${a}.to_v`, out: `${a}.to_out.0`, projection: 'linear' },
      block2: resKeys(`${p}.resnets.1`, 'conv_shortcut'),
    };
  },
  normOut: (half) => `${half}.conv_norm_out`,
  quantConv: 'quant_conv',
  postQuantConv: 'post_quant_conv',
};

export function vaeLayout(format: VaeKeyFormat): VaeLayout {
  return format === 'bfl' ? BFL_LAYOUT : DIFFUSERS_LAYOUT;
}

const PROBE = {
  bfl: ['encoder.down.0.block.0.conv1.weight', 'decoder.up.0.block.0.conv1.weight'],
  diffusers: ['encoder.down_blocks.0.resnets.0.conv1.weight', 'decoder.up_blocks.0.resnets.0.conv1.weight'],
} as const;

/**
 * The key layout of a VAE checkpoint: BFL when it has `encoder.down.*` / `decoder.up.*`
 * tensors, diffusers when it has `encoder.down_blocks.*` / `decoder.up_blocks.*`.
 */
export function detectVaeFormat(w: Weights): VaeKeyFormat {
  const keys = w.keys();
  const bfl = keys.some((k) => k.startsWith('encoder.down.') || k.startsWith('decoder.up.'));
  const diffusers = keys.some((k) => k.startsWith('encoder.down_blocks.') || k.startsWith('decoder.up_blocks.'));
  if (bfl && diffusers) {
    throw new SafetensorsError(w.path, 'mixes BFL (encoder.down.*) and diffusers (encoder.down_blocks.*) VAE keys; not a single autoencoder checkpoint');
  }
  if (bfl) return 'bfl';
  if (diffusers) return 'diffusers';
  const sample = keys.slice(0, 3).map((k) => `"${k}"`).join(', ');
  throw new SafetensorsError(w.path,
    `is not a VAE checkpoint: missing tensor "${PROBE.bfl[0]}" (BFL ae.safetensors keys) and "${PROBE.diffusers[0]}" `
    + `(diffusers AutoencoderKL keys)${sample ? `; it has keys like ${sample}` : ''}`);
}

/** Out/in channels of a conv weight [out, in, kh, kw] with the given kernel size. */
function convShape(w: Weights, key: string, kernel: number): { out: number; in: number } {
  const s = shapeOfRank(w, `${key}.weight`, 4);
  if (s[2] !== kernel || s[3] !== kernel) {
    throw new SafetensorsError(w.path, `tensor "${key}.weight" has shape [${s.join(', ')}], expected a ${kernel}×${kernel} convolution`);
  }
  return { out: s[0], in: s[1] };
}

function readHalf(w: Weights, layout: VaeLayout, half: 'encoder' | 'decoder'): VaeHalfConfig | null {
  if (!w.keys().some((k) => k.startsWith(`${half}.`))) return null;
  const container = half === 'encoder' ? layout.encLevels : layout.decLevels;
  const levels = countNumberedModules(w, container);
  if (levels === 0) throw new SafetensorsError(w.path, `has no "${container}.*" tensors; the ${half} is incomplete`);
  const blocksOf = (i: number) => (half === 'encoder' ? layout.encBlocks(i) : layout.decBlocks(i, levels));
  const resOf = (i: number, b: number) => (half === 'encoder' ? layout.encRes(i, b) : layout.decRes(i, b, levels));
  const resBlocks = countNumberedModules(w, blocksOf(0));
  if (resBlocks === 0) throw new SafetensorsError(w.path, `has no "${blocksOf(0)}.*" tensors; the ${half} is incomplete`);
  const channels: number[] = [];
  for (let i = 0; i < levels; i++) channels.push(convShape(w, resOf(i, 0).conv1, 3).out);
  const convInChannels = convShape(w, `${half}.conv_in`, 3).out;
  const midAttention = w.has(`${layout.mid(half).attn.norm}.weight`);
  return { channels, convInChannels, resBlocks, midAttention };
}

export interface VaeConfigOptions {
  /** config.json to read; default: the one beside the checkpoint when present; null: none. */
  configFile?: string | null;
}

function numberArray(cfg: HfConfig, key: string): number[] | undefined {
  const v = cfg.data[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && (x as number) > 0)) {
    throw new Error(`${cfg.file}: "${key}" must be a list of positive integers, got ${JSON.stringify(v)}`);
  }
  return v as number[];
}

function expectList(cfg: HfConfig, key: string, stated: number[] | undefined, fromWeights: number[], what: string): void {
  if (stated && (stated.length !== fromWeights.length || stated.some((x, i) => x !== fromWeights[i]))) {
    throw new Error(`${cfg.file}: "${key}" is [${stated.join(', ')}] but ${what} gives [${fromWeights.join(', ')}]; the config does not belong to these weights`);
  }
}

function booleanField(cfg: HfConfig, key: string): boolean | undefined {
  const v = cfg.data[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new Error(`${cfg.file}: "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Every size of a VAE from tensor shapes; scale, shift and GroupNorm groups from config.json
 * when present (BFL: `AutoEncoderParams` {scale_factor, shift_factor, ...}, top level or nested;
 * diffusers: scaling_factor, shift_factor, norm_num_groups), otherwise FLUX_VAE_DEFAULTS. Sizes
 * a config states are checked against the weights.
 */
export function readVaeConfig(w: Weights, opts: VaeConfigOptions = {}): VaeConfig {
  const format = detectVaeFormat(w);
  const layout = vaeLayout(format);
  const encoder = readHalf(w, layout, 'encoder');
  const decoder = readHalf(w, layout, 'decoder');
  if (!encoder && !decoder) throw new SafetensorsError(w.path, 'has neither encoder.* nor decoder.* tensors');

  let inChannels = 0;
  let outChannels = 0;
  let zChannels = 0;
  if (encoder) {
    const co = convShape(w, 'encoder.conv_out', 3).out;
    if (co % 2 !== 0) throw new SafetensorsError(w.path, `tensor "encoder.conv_out.weight" has ${co} output channels, expected an even number (mean | logvar)`);
    zChannels = co / 2;
    inChannels = convShape(w, 'encoder.conv_in', 3).in;
  }
  if (decoder) {
    const zDec = convShape(w, 'decoder.conv_in', 3).in;
    if (encoder && zDec !== zChannels) {
      throw new SafetensorsError(w.path, `tensor "decoder.conv_in.weight" reads ${zDec} latent channels but "encoder.conv_out.weight" gives ${zChannels} (= ${2 * zChannels} / 2)`);
    }
    zChannels = zDec;
    outChannels = convShape(w, 'decoder.conv_out', 3).out;
  }
  if (encoder && decoder && encoder.channels.length !== decoder.channels.length) {
    throw new SafetensorsError(w.path, `has ${encoder.channels.length} encoder levels but ${decoder.channels.length} decoder levels`);
  }
  const quantConv = layout.quantConv !== null && w.has(`${layout.quantConv}.weight`);
  const postQuantConv = layout.postQuantConv !== null && w.has(`${layout.postQuantConv}.weight`);

  let scale: number = FLUX_VAE_DEFAULTS.scale;
  let shift: number = FLUX_VAE_DEFAULTS.shift;
  let groups: number = FLUX_VAE_DEFAULTS.groups;
  let source = `no config.json: FLUX values scale ${scale}, shift ${shift}, ${groups} groups, eps ${FLUX_VAE_DEFAULTS.eps}`;
  const file = opts.configFile === undefined ? hfConfigBeside(w.path) : opts.configFile;
  if (file) {
    const root = HfConfig.read(file, 'VAE');
    const className = root.string('_class_name');
    if (className !== undefined && className !== 'AutoencoderKL') {
      throw new Error(`${file}: "_class_name" is "${className}", expected "AutoencoderKL" (or a BFL AutoEncoderParams config) for the VAE ${w.path}`);
    }
    const params = root.section('AutoEncoderParams');
    const c = params ?? root;
    const isBflConfig = params !== null || 'scale_factor' in c.data || 'ch_mult' in c.data;
    const isDiffusersConfig = className !== undefined || 'scaling_factor' in c.data || 'block_out_channels' in c.data;
    if (!isBflConfig && !isDiffusersConfig) {
      throw new Error(`${file}: not a VAE config (no "AutoEncoderParams", "scale_factor" or "scaling_factor"); it sits beside ${w.path}`);
    }
    if (isBflConfig) {
      if (inChannels) c.expectSize('in_channels', inChannels, '"encoder.conv_in.weight"');
      if (outChannels) c.expectSize('out_ch', outChannels, '"decoder.conv_out.weight"');
      c.expectSize('z_channels', zChannels, 'the latent convolutions');
      const half = encoder ?? decoder!;
      if (encoder) c.expectSize('ch', encoder.convInChannels, '"encoder.conv_in.weight"');
      if (encoder) c.expectSize('num_res_blocks', encoder.resBlocks, 'the encoder residual blocks');
      else c.expectSize('num_res_blocks', decoder!.resBlocks - 1, 'the decoder residual blocks (num_res_blocks + 1)');
      const ch = c.number('ch', { integer: true, positive: true });
      const mult = numberArray(c, 'ch_mult');
      if (ch !== undefined && mult) expectList(c, 'ch_mult', mult.map((m) => m * ch), half.channels, 'ch × ch_mult vs the level widths');
      scale = c.number('scale_factor') ?? scale;
      shift = c.number('shift_factor') ?? shift;
    } else {
      if (inChannels) c.expectSize('in_channels', inChannels, '"encoder.conv_in.weight"');
      if (outChannels) c.expectSize('out_channels', outChannels, '"decoder.conv_out.weight"');
      c.expectSize('latent_channels', zChannels, 'the latent convolutions');
      if (encoder) {
        c.expectSize('layers_per_block', encoder.resBlocks, 'the encoder resnets per block');
        expectList(c, 'block_out_channels', numberArray(c, 'block_out_channels'), encoder.channels, 'the encoder block widths');
      } else if (decoder) {
        c.expectSize('layers_per_block', decoder.resBlocks - 1, 'the decoder resnets per block (layers_per_block + 1)');
        expectList(c, 'block_out_channels', numberArray(c, 'block_out_channels'), decoder.channels, 'the decoder block widths');
      }
      for (const [key, present] of [['use_quant_conv', quantConv], ['use_post_quant_conv', postQuantConv]] as const) {
        const stated = booleanField(c, key);
        if (stated !== undefined && stated !== present) {
          throw new Error(`${file}: "${key}" is ${stated} but the weights ${present ? 'have' : 'have no'} ${key.slice(4)} tensors`);
        }
      }
      // diffusers semantics: a config without scaling_factor means the class default; a null
      // shift_factor means no shift.
      scale = c.number('scaling_factor', { positive: true }) ?? DIFFUSERS_DEFAULTS.scale;
      shift = c.number('shift_factor') ?? 0;
      groups = c.number('norm_num_groups', { integer: true, positive: true }) ?? DIFFUSERS_DEFAULTS.groups;
    }
    if (scale === 0) throw new Error(`${file}: the latent scale factor is 0`);
    source = file;
  }
  const cfg: VaeConfig = {
    format, inChannels, outChannels, zChannels, encoder, decoder, quantConv, postQuantConv,
    groups, eps: FLUX_VAE_DEFAULTS.eps, scale, shift, clampLogvar: format === 'diffusers', source,
  };
  for (const h of [encoder, decoder]) {
    for (const c of h ? [h.convInChannels, ...h.channels] : []) {
      if (c % groups !== 0) throw new Error(`${w.path}: ${c} channels cannot be split into ${groups} GroupNorm groups (${source})`);
    }
  }
  return cfg;
}

// ---------------------------------------------------------------------------------------------
// Expected shapes

function convSpec(m: Map<string, number[]>, key: string, out: number, inp: number, k: number): void {
  m.set(`${key}.weight`, [out, inp, k, k]);
  m.set(`${key}.bias`, [out]);
}

function normSpec(m: Map<string, number[]>, key: string, c: number): void {
  m.set(`${key}.weight`, [c]);
  m.set(`${key}.bias`, [c]);
}

function resSpec(m: Map<string, number[]>, r: ResBlockKeys, cin: number, cout: number): void {
  normSpec(m, r.norm1, cin);
  convSpec(m, r.conv1, cout, cin, 3);
  normSpec(m, r.norm2, cout);
  convSpec(m, r.conv2, cout, cout, 3);
  if (cin !== cout) convSpec(m, r.shortcut, cout, cin, 1);
}

function midSpec(m: Map<string, number[]>, layout: VaeLayout, half: 'encoder' | 'decoder', c: number, attn: boolean): void {
  const mid = layout.mid(half);
  resSpec(m, mid.block1, c, c);
  if (attn) {
    normSpec(m, mid.attn.norm, c);
    for (const p of [mid.attn.q, mid.attn.k, mid.attn.v, mid.attn.out]) {
      m.set(`${p}.weight`, mid.attn.projection === 'conv1x1' ? [c, c, 1, 1] : [c, c]);
      m.set(`${p}.bias`, [c]);
    }
  }
  resSpec(m, mid.block2, c, c);
}

/** Shape of every encoder tensor the graph reads. */
export function vaeEncoderTensorShapes(cfg: VaeConfig): Map<string, number[]> {
  const e = cfg.encoder;
  if (!e) throw new Error('vaeEncoderTensorShapes: the config has no encoder');
  const layout = vaeLayout(cfg.format);
  const m = new Map<string, number[]>();
  const levels = e.channels.length;
  convSpec(m, 'encoder.conv_in', e.convInChannels, cfg.inChannels, 3);
  let cin = e.convInChannels;
  for (let i = 0; i < levels; i++) {
    for (let b = 0; b < e.resBlocks; b++) {
      resSpec(m, layout.encRes(i, b), cin, e.channels[i]);
      cin = e.channels[i];
    }
    if (i !== levels - 1) convSpec(m, layout.encDownsample(i), cin, cin, 3);
  }
  midSpec(m, layout, 'encoder', cin, e.midAttention);
  normSpec(m, layout.normOut('encoder'), cin);
  convSpec(m, 'encoder.conv_out', 2 * cfg.zChannels, cin, 3);
  if (cfg.quantConv && layout.quantConv) convSpec(m, layout.quantConv, 2 * cfg.zChannels, 2 * cfg.zChannels, 1);
  return m;
}

/** Shape of every decoder tensor the graph reads. */
export function vaeDecoderTensorShapes(cfg: VaeConfig): Map<string, number[]> {
  const d = cfg.decoder;
  if (!d) throw new Error('vaeDecoderTensorShapes: the config has no decoder');
  const layout = vaeLayout(cfg.format);
  const m = new Map<string, number[]>();
  const levels = d.channels.length;
  if (cfg.postQuantConv && layout.postQuantConv) convSpec(m, layout.postQuantConv, cfg.zChannels, cfg.zChannels, 1);
  convSpec(m, 'decoder.conv_in', d.convInChannels, cfg.zChannels, 3);
  midSpec(m, layout, 'decoder', d.convInChannels, d.midAttention);
  let cin = d.convInChannels;
  for (let i = levels - 1; i >= 0; i--) {
    for (let b = 0; b < d.resBlocks; b++) {
      resSpec(m, layout.decRes(i, b, levels), cin, d.channels[i]);
      cin = d.channels[i];
    }
    if (i !== 0) convSpec(m, layout.decUpsample(i, levels), cin, cin, 3);
  }
  normSpec(m, layout.normOut('decoder'), cin);
  convSpec(m, 'decoder.conv_out', cfg.outChannels, cin, 3);
  return m;
}

// ---------------------------------------------------------------------------------------------
// Graphs

/** Graph input/output names. */
export const VAE_IO = {
  /** Encoder input: image [B, in, H, W] in [-1, 1]. */
  image: 'image',
  /** Encoder output: [B, 2z, ceil(H/f), ceil(W/f)], mean | logvar along channels. */
  moments: 'moments',
  /** Decoder input: decoder-space latent z (already unscaled) [B, z, h, w]. */
  latent: 'z',
  /** Decoder output: image [B, out, h·f, w·f] (not clamped). */
  decoded: 'decoded',
} as const;

export interface VaeBuildOptions {
  config?: VaeConfig;
  /** Mid-block attention form (see attention.ts). Default 'fused' (com.microsoft.MultiHeadAttention). */
  attention?: AttentionKind;
}

interface Ctx {
  b: GraphBuilder;
  w: Weights;
  cfg: VaeConfig;
  attention: AttentionKind;
}

function normAct(ctx: Ctx, modulePath: string, x: Value): Value {
  const h = groupNorm(ctx.b, ctx.w, modulePath, x, ctx.cfg.groups, ctx.cfg.eps);
  return ctx.b.scope(modulePath, () => silu(ctx.b, h));
}

function resBlock(ctx: Ctx, path: string, r: ResBlockKeys, x: Value): Value {
  const { b, w } = ctx;
  let h = normAct(ctx, r.norm1, x);
  h = conv2d(b, w, r.conv1, h);
  h = normAct(ctx, r.norm2, h);
  h = conv2d(b, w, r.conv2, h);
  const skip = w.has(`${r.shortcut}.weight`) ? conv2d(b, w, r.shortcut, x) : x;
  return b.scope(path, () => b.op('Add', [skip, h], {}, { name: 'Residual' }));
}

/**
 * softmax(scale · q kᵀ) v over the h·w positions of NCHW q, k, v [B, C, H, W] (one head of width
 * C); returns [B, C, H, W].
 *
 * - 'fused': com.microsoft.MultiHeadAttention on [B, H·W, C] (tiled on CPU: never materialises
 *   the (H·W)² scores), back to NCHW with the input's Shape.
 * - 'unfused': MatMul -> Softmax -> MatMul with the queries kept 4-D ([B, H, W, C] @ [B, 1, C, S]
 *   -> [B, H, W, S]) so that no Shape op is needed: under the WebGPU EP's NHWC layout transform
 *   a Shape turns into Shape + an int64 Gather, which has no WebGPU kernel. Holds the scores.
 */
function spatialAttention(ctx: Ctx, q: Value, k: Value, v: Value, channels: number): Value {
  const { b } = ctx;
  const scale = 1 / Math.sqrt(channels);
  if (ctx.attention === 'fused') {
    const toTokens = (x: Value, name: string) => b.op('Transpose', [
      b.op('Reshape', [x, b.ints([0, channels, -1])], {}, { name: `Reshape_${name}` }),
    ], { perm: [0, 2, 1] }, { name: `Transpose_${name}` });
    const o = attention(b, toTokens(q, 'q'), toTokens(k, 'k'), toTokens(v, 'v'), { kind: 'fused', heads: 1, scale });
    const shape = b.op('Shape', [q], {}, { name: 'Shape_q' });
    return b.op('Reshape', [b.op('Transpose', [o], { perm: [0, 2, 1] }, { name: 'Transpose_out' }), shape], {}, { name: 'Reshape_out' });
  }
  const flat = b.ints([0, 1, channels, -1]);
  const qh = b.op('Transpose', [q], { perm: [0, 2, 3, 1] }, { name: 'Transpose_q' });
  const kf = b.op('Reshape', [k, flat], {}, { name: 'Reshape_k' });
  const vf = b.op('Transpose', [b.op('Reshape', [v, flat], {}, { name: 'Reshape_v' })], { perm: [0, 1, 3, 2] }, { name: 'Transpose_v' });
  const scores = b.op('Mul', [b.op('MatMul', [qh, kf], {}, { name: 'MatMul_qk' }), b.scalar(scale)], {}, { name: 'Scale_qk' });
  const probs = b.op('Softmax', [scores], { axis: -1 });
  const o = b.op('MatMul', [probs, vf], {}, { name: 'MatMul_v' });
  return b.op('Transpose', [o], { perm: [0, 3, 1, 2] }, { name: 'Transpose_out' });
}

/** Single-head self-attention over the h·w positions, with the residual (x + out(attn(norm(x)))). */
function midAttention(ctx: Ctx, a: AttnKeys, x: Value, channels: number): Value {
  const { b, w } = ctx;
  const h = groupNorm(b, w, a.norm, x, ctx.cfg.groups, ctx.cfg.eps);
  const toHwc = (v: Value, name: string) => b.scope(a.path, () => b.op('Transpose', [v], { perm: [0, 2, 3, 1] }, { name: `Transpose_${name}_hwc` }));
  const toChw = (v: Value, name: string) => b.scope(a.path, () => b.op('Transpose', [v], { perm: [0, 3, 1, 2] }, { name: `Transpose_${name}_chw` }));
  // Projections: BFL 1×1 convs on NCHW; diffusers Linear layers on the channel-last view.
  const hwc = a.projection === 'linear' ? toHwc(h, 'norm') : null;
  const project = (path: string, name: string) => (hwc ? toChw(linear(b, w, path, hwc), name) : conv2d(b, w, path, h));
  const q = project(a.q, 'q');
  const k = project(a.k, 'k');
  const v = project(a.v, 'v');
  const o = b.scope(a.path, () => spatialAttention(ctx, q, k, v, channels));
  const out = a.projection === 'linear' ? toChw(linear(b, w, a.out, toHwc(o, 'attn')), 'out') : conv2d(b, w, a.out, o);
  return b.scope(a.path, () => b.op('Add', [x, out], {}, { name: 'Residual' }));
}

function midBlock(ctx: Ctx, half: 'encoder' | 'decoder', x: Value, channels: number, withAttention: boolean): Value {
  const mid = vaeLayout(ctx.cfg.format).mid(half);
  let h = resBlock(ctx, pathOf(mid.block1), mid.block1, x);
  if (withAttention) h = midAttention(ctx, mid.attn, h, channels);
  return resBlock(ctx, pathOf(mid.block2), mid.block2, h);
}

function pathOf(r: ResBlockKeys): string {
  return r.norm1.slice(0, r.norm1.lastIndexOf('.'));
}

/** Build the encoder: image [B, in, H, W] -> moments [B, 2z, h, w] (mean | logvar). */
export function buildVaeEncoder(w: Weights, opts: VaeBuildOptions = {}): BuiltModel {
  const cfg = opts.config ?? readVaeConfig(w);
  if (!cfg.encoder) throw new SafetensorsError(w.path, 'has no encoder: missing tensor "encoder.conv_in.weight"');
  validateShapes(w, vaeEncoderTensorShapes(cfg));
  const e = cfg.encoder;
  const layout = vaeLayout(cfg.format);
  const b = new GraphBuilder('vae_encoder', { architecture: `AutoEncoder.encoder (${cfg.format} keys)`, config: JSON.stringify(cfg) });
  const ctx: Ctx = { b, w, cfg, attention: opts.attention ?? 'fused' };
  const image = b.input(VAE_IO.image, 'float32', ['batch', cfg.inChannels, 'height', 'width']);
  let h = conv2d(b, w, 'encoder.conv_in', image);
  const levels = e.channels.length;
  for (let i = 0; i < levels; i++) {
    for (let r = 0; r < e.resBlocks; r++) {
      const keys = layout.encRes(i, r);
      h = resBlock(ctx, pathOf(keys), keys, h);
    }
    // Zero padding right and bottom by one, then a 3×3 stride-2 conv: Conv pads [top, left, bottom, right].
    if (i !== levels - 1) h = conv2d(b, w, layout.encDownsample(i), h, { stride: 2, pads: [0, 0, 1, 1] });
  }
  const top = e.channels[levels - 1];
  h = midBlock(ctx, 'encoder', h, top, e.midAttention);
  h = normAct(ctx, layout.normOut('encoder'), h);
  h = conv2d(b, w, 'encoder.conv_out', h);
  if (cfg.quantConv && layout.quantConv) h = conv2d(b, w, layout.quantConv, h);
  b.output(h, VAE_IO.moments, 'float32', ['batch', 2 * cfg.zChannels, 'latent_height', 'latent_width']);
  return b.build();
}

/** Build the decoder: decoder-space latent z [B, z, h, w] -> image [B, out, h·f, w·f]. */
export function buildVaeDecoder(w: Weights, opts: VaeBuildOptions = {}): BuiltModel {
  const cfg = opts.config ?? readVaeConfig(w);
  if (!cfg.decoder) throw new SafetensorsError(w.path, 'has no decoder: missing tensor "decoder.conv_in.weight"');
  validateShapes(w, vaeDecoderTensorShapes(cfg));
  const d = cfg.decoder;
  const layout = vaeLayout(cfg.format);
  const b = new GraphBuilder('vae_decoder', { architecture: `AutoEncoder.decoder (${cfg.format} keys)`, config: JSON.stringify(cfg) });
  const ctx: Ctx = { b, w, cfg, attention: opts.attention ?? 'fused' };
  const z = b.input(VAE_IO.latent, 'float32', ['batch', cfg.zChannels, 'latent_height', 'latent_width']);
  let h: Value = z;
  if (cfg.postQuantConv && layout.postQuantConv) h = conv2d(b, w, layout.postQuantConv, h);
  h = conv2d(b, w, 'decoder.conv_in', h);
  h = midBlock(ctx, 'decoder', h, d.convInChannels, d.midAttention);
  const levels = d.channels.length;
  const scales = b.floats([1, 1, 2, 2]);
  for (let i = levels - 1; i >= 0; i--) {
    for (let r = 0; r < d.resBlocks; r++) {
      const keys = layout.decRes(i, r, levels);
      h = resBlock(ctx, pathOf(keys), keys, h);
    }
    if (i !== 0) {
      const conv = layout.decUpsample(i, levels);
      // torch `interpolate(scale_factor=2, mode="nearest")`: out[y, x] = in[floor(y/2), floor(x/2)].
      const up = b.scope(conv.slice(0, conv.lastIndexOf('.')), () => b.op('Resize', [h, null, scales], {
        mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor',
      }, { name: 'Resize_nearest_x2' }));
      h = conv2d(b, w, conv, up);
    }
  }
  h = normAct(ctx, layout.normOut('decoder'), h);
  h = conv2d(b, w, 'decoder.conv_out', h);
  b.output(h, VAE_IO.decoded, 'float32', ['batch', cfg.outChannels, 'height', 'width']);
  return b.build();
}

// ---------------------------------------------------------------------------------------------
// Posterior and latent scaling (host side)

export interface VaePosterior {
  /** [B, z, h, w]. */
  mean: Float32Array;
  /** [B, z, h, w]; clamped to [-30, 20] for diffusers checkpoints (as DiagonalGaussianDistribution). */
  logvar: Float32Array;
  shape: [number, number, number, number];
}

/**
 * Split moments [B, 2z, h, w] into mean and logvar (torch.chunk along channels). diffusers'
 * `DiagonalGaussianDistribution` clamps logvar to [-30, 20]; BFL's `DiagonalGaussian` does not.
 */
export function splitMoments(moments: Float32Array, shape: readonly number[], clampLogvar: boolean): VaePosterior {
  if (shape.length !== 4 || shape[1] % 2 !== 0) throw new Error(`splitMoments: moments shape [${shape.join(', ')}] is not [B, 2z, h, w]`);
  const [batch, c2, hh, ww] = shape;
  if (moments.length !== batch * c2 * hh * ww) throw new Error(`splitMoments: ${moments.length} values for shape [${shape.join(', ')}]`);
  const z = c2 / 2;
  const plane = z * hh * ww;
  const mean = new Float32Array(batch * plane);
  const logvar = new Float32Array(batch * plane);
  const [lo, hi] = DIFFUSERS_LOGVAR_RANGE;
  for (let s = 0; s < batch; s++) {
    mean.set(moments.subarray(s * 2 * plane, s * 2 * plane + plane), s * plane);
    const lv = moments.subarray(s * 2 * plane + plane, (s + 1) * 2 * plane);
    if (clampLogvar) for (let i = 0; i < plane; i++) logvar[s * plane + i] = Math.min(hi, Math.max(lo, lv[i]));
    else logvar.set(lv, s * plane);
  }
  return { mean, logvar, shape: [batch, z, hh, ww] };
}

/** A posterior sample z = mean + exp(0.5·logvar)·eps for a given standard-normal draw eps. */
export function samplePosterior(p: Pick<VaePosterior, 'mean' | 'logvar'>, eps: Float32Array): Float32Array {
  if (eps.length !== p.mean.length) throw new Error(`samplePosterior: eps has ${eps.length} values, the posterior ${p.mean.length}`);
  const out = new Float32Array(p.mean.length);
  for (let i = 0; i < out.length; i++) {
    const std = Math.fround(Math.exp(Math.fround(0.5 * p.logvar[i])));
    out[i] = p.mean[i] + Math.fround(std * eps[i]);
  }
  return out;
}

/** The latent the DiT works in: scale·(z − shift). */
export function scaleLatent(z: Float32Array, cfg: Pick<VaeConfig, 'scale' | 'shift'>): Float32Array {
  return z.map((v) => cfg.scale * Math.fround(v - cfg.shift));
}

/** Back to decoder space: latent/scale + shift. */
export function unscaleLatent(latent: Float32Array, cfg: Pick<VaeConfig, 'scale' | 'shift'>): Float32Array {
  return latent.map((v) => Math.fround(v / cfg.scale) + cfg.shift);
}

// ---------------------------------------------------------------------------------------------
// Runtime wrappers

export interface VaeCreateOptions extends Partial<Omit<SessionOptions, 'ep'>> {
  ep: ExecutionProvider;
  config?: VaeConfig;
  /** Default: `defaultAttentionFor(ep)` (unfused on WebGPU, whose MultiHeadAttention is wrong from S = 32). */
  attention?: AttentionKind;
}

type ModelSummary = Pick<BuiltModel, 'name' | 'parameterCount' | 'externalBytes' | 'nodeCount'>;

function summary(m: BuiltModel): ModelSummary {
  return { name: m.name, parameterCount: m.parameterCount, externalBytes: m.externalBytes, nodeCount: m.nodeCount };
}

function checkImageShape(where: string, shape: readonly number[], channels: number, length: number): void {
  if (shape.length !== 4 || shape[1] !== channels || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new Error(`${where}: shape [${shape.join(', ')}] is not [batch, ${channels}, height, width]`);
  }
  const n = shape.reduce((a, c) => a * c, 1);
  if (n !== length) throw new Error(`${where}: ${length} values for shape [${shape.join(', ')}]`);
}

export interface VaeEncoding extends VaePosterior {
  /** Raw encoder output [B, 2z, h, w]. */
  moments: Float32Array;
}

/** A built and loaded VAE encoder. */
export class VaeEncoder {
  private constructor(readonly config: VaeConfig, readonly model: ModelSummary, private readonly session: NetSession) {}

  static async create(w: Weights, opts: VaeCreateOptions): Promise<VaeEncoder> {
    const { config, attention: kind, ...sessionOpts } = opts;
    const cfg = config ?? readVaeConfig(w);
    const built = buildVaeEncoder(w, { config: cfg, attention: kind ?? defaultAttentionFor(opts.ep) });
    const session = await createSession(built, sessionOpts);
    return new VaeEncoder(cfg, summary(built), session);
  }

  get ep(): ExecutionProvider {
    return this.session.ep;
  }

  /** Image [B, in, H, W] in [-1, 1] -> moments and the posterior mean / logvar. */
  async encode(image: Float32Array, shape: readonly number[]): Promise<VaeEncoding> {
    checkImageShape('VaeEncoder.encode: image', shape, this.config.inChannels, image.length);
    const out = await this.session.run({ [VAE_IO.image]: new ort.Tensor('float32', image, [...shape]) }, [VAE_IO.moments]);
    const t = out[VAE_IO.moments];
    const moments = t.data as Float32Array;
    return { moments, ...splitMoments(moments, t.dims, this.config.clampLogvar) };
  }

  /**
   * The latent the DiT consumes: scale·(z − shift) with z the posterior mean (eps omitted) or the
   * sample mean + std·eps (what UNO's `ae.encode` and OmniGen2's `latent_dist.sample()` do).
   */
  async encodeLatent(image: Float32Array, shape: readonly number[], eps?: Float32Array): Promise<{ latent: Float32Array; shape: [number, number, number, number] }> {
    const enc = await this.encode(image, shape);
    const z = eps ? samplePosterior(enc, eps) : enc.mean;
    return { latent: scaleLatent(z, this.config), shape: enc.shape };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** A built and loaded VAE decoder. */
export class VaeDecoder {
  private constructor(readonly config: VaeConfig, readonly model: ModelSummary, private readonly session: NetSession) {}

  static async create(w: Weights, opts: VaeCreateOptions): Promise<VaeDecoder> {
    const { config, attention: kind, ...sessionOpts } = opts;
    const cfg = config ?? readVaeConfig(w);
    const built = buildVaeDecoder(w, { config: cfg, attention: kind ?? defaultAttentionFor(opts.ep) });
    const session = await createSession(built, sessionOpts);
    return new VaeDecoder(cfg, summary(built), session);
  }

  get ep(): ExecutionProvider {
    return this.session.ep;
  }

  /** Decoder-space z [B, z, h, w] -> image [B, out, H, W] (unclamped). Pass a DiT latent through `unscaleLatent` first, or use `decodeLatent`. */
  async decode(z: Float32Array, shape: readonly number[]): Promise<{ image: Float32Array; shape: number[] }> {
    checkImageShape('VaeDecoder.decode: latent', shape, this.config.zChannels, z.length);
    const out = await this.session.run({ [VAE_IO.latent]: new ort.Tensor('float32', z, [...shape]) }, [VAE_IO.decoded]);
    const t = out[VAE_IO.decoded];
    return { image: t.data as Float32Array, shape: [...t.dims] };
  }

  /** A DiT latent (scale·(z − shift)) -> image: unscales (latent/scale + shift), then decodes. */
  async decodeLatent(latent: Float32Array, shape: readonly number[]): Promise<{ image: Float32Array; shape: number[] }> {
    return this.decode(unscaleLatent(latent, this.config), shape);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
