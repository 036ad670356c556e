// Key names and shapes of the official checkpoints, generated from architecture sizes. Used to
// write the tiny model kits (seeded random weights in the real layouts) and header-only
// checkpoints with the real sizes (graph-building and memory-planning tests).
import type { DType } from '../runtime/safetensors.js';

export interface TensorSpec {
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** How to initialise random weights: 'matrix' ~ N(0, 1/sqrt(fan_in)), 'scale' ~ 1 + N(0, 0.1), 'bias' ~ N(0, 0.05). */
  readonly init: 'matrix' | 'scale' | 'bias';
}

export type CheckpointSpec = Record<string, TensorSpec>;

function linear(spec: CheckpointSpec, prefix: string, out: number, inp: number, dtype: DType, bias = true): void {
  spec[`${prefix}.weight`] = { shape: [out, inp], dtype, init: 'matrix' };
  if (bias) spec[`${prefix}.bias`] = { shape: [out], dtype, init: 'bias' };
}

function scale(spec: CheckpointSpec, key: string, n: number, dtype: DType): void {
  spec[key] = { shape: [n], dtype, init: 'scale' };
}

export interface FluxDitSizes {
  hidden: number;
  heads: number;
  depth: number;
  depthSingle: number;
  mlpRatio: number;
  inChannels: number;
  contextDim: number;
  vecDim: number;
  guidance: boolean;
}

export const FLUX1_DEV_SIZES: FluxDitSizes = {
  hidden: 3072, heads: 24, depth: 19, depthSingle: 38, mlpRatio: 4, inChannels: 64, contextDim: 4096, vecDim: 768, guidance: true,
};

/** `flux1-dev.safetensors` (BFL key format). */
export function fluxDitSpec(s: FluxDitSizes, dtype: DType = 'BF16'): CheckpointSpec {
  const spec: CheckpointSpec = {};
  const h = s.hidden;
  const hd = h / s.heads;
  const mlp = Math.round(h * s.mlpRatio);
  linear(spec, 'img_in', h, s.inChannels, dtype);
  linear(spec, 'txt_in', h, s.contextDim, dtype);
  for (const e of ['time_in', 'vector_in', ...(s.guidance ? ['guidance_in'] : [])]) {
    linear(spec, `${e}.in_layer`, h, e === 'vector_in' ? s.vecDim : 256, dtype);
    linear(spec, `${e}.out_layer`, h, h, dtype);
  }
  for (let i = 0; i < s.depth; i++) {
    for (const st of ['img', 'txt']) {
      const p = `double_blocks.${i}.${st}`;
      linear(spec, `${p}_mod.lin`, 6 * h, h, dtype);
      linear(spec, `${p}_attn.qkv`, 3 * h, h, dtype);
      scale(spec, `${p}_attn.norm.query_norm.scale`, hd, dtype);
      scale(spec, `${p}_attn.norm.key_norm.scale`, hd, dtype);
      linear(spec, `${p}_attn.proj`, h, h, dtype);
      linear(spec, `${p}_mlp.0`, mlp, h, dtype);
      linear(spec, `${p}_mlp.2`, h, mlp, dtype);
    }
  }
  for (let j = 0; j < s.depthSingle; j++) {
    const p = `single_blocks.${j}`;
    linear(spec, `${p}.linear1`, 3 * h + mlp, h, dtype);
    linear(spec, `${p}.linear2`, h, h + mlp, dtype);
    scale(spec, `${p}.norm.query_norm.scale`, hd, dtype);
    scale(spec, `${p}.norm.key_norm.scale`, hd, dtype);
    linear(spec, `${p}.modulation.lin`, 3 * h, h, dtype);
  }
  linear(spec, 'final_layer.linear', s.inChannels, h, dtype);
  linear(spec, 'final_layer.adaLN_modulation.1', 2 * h, h, dtype);
  return spec;
}

/** UNO processor-format LoRA (`dit_lora.safetensors`, `UMO_UNO.safetensors`). */
export function unoLoraSpec(s: FluxDitSizes, rank: number, dtype: DType = 'BF16'): CheckpointSpec {
  const spec: CheckpointSpec = {};
  const h = s.hidden;
  const mlp = Math.round(h * s.mlpRatio);
  const pair = (p: string, out: number, inp: number) => {
    spec[`${p}.down.weight`] = { shape: [rank, inp], dtype, init: 'matrix' };
    spec[`${p}.up.weight`] = { shape: [out, rank], dtype, init: 'matrix' };
  };
  for (let i = 0; i < s.depth; i++) {
    for (const k of ['1', '2']) {
      pair(`double_blocks.${i}.processor.qkv_lora${k}`, 3 * h, h);
      pair(`double_blocks.${i}.processor.proj_lora${k}`, h, h);
    }
  }
  for (let j = 0; j < s.depthSingle; j++) {
    pair(`single_blocks.${j}.processor.qkv_lora`, 3 * h, h);
    pair(`single_blocks.${j}.processor.proj_lora`, h, h + mlp);
  }
  return spec;
}

export interface AutoencoderSizes {
  ch: number;
  chMult: readonly number[];
  numResBlocks: number;
  zChannels: number;
  inChannels: number;
}

export const FLUX_AE_SIZES: AutoencoderSizes = { ch: 128, chMult: [1, 2, 4, 4], numResBlocks: 2, zChannels: 16, inChannels: 3 };

function conv(spec: CheckpointSpec, prefix: string, out: number, inp: number, k: number, dtype: DType): void {
  spec[`${prefix}.weight`] = { shape: [out, inp, k, k], dtype, init: 'matrix' };
  spec[`${prefix}.bias`] = { shape: [out], dtype, init: 'bias' };
}

function norm(spec: CheckpointSpec, prefix: string, c: number, dtype: DType): void {
  spec[`${prefix}.weight`] = { shape: [c], dtype, init: 'scale' };
  spec[`${prefix}.bias`] = { shape: [c], dtype, init: 'bias' };
}

function resBlock(spec: CheckpointSpec, p: string, cin: number, cout: number, dtype: DType): void {
  norm(spec, `${p}.norm1`, cin, dtype);
  conv(spec, `${p}.conv1`, cout, cin, 3, dtype);
  norm(spec, `${p}.norm2`, cout, dtype);
  conv(spec, `${p}.conv2`, cout, cout, 3, dtype);
  if (cin !== cout) conv(spec, `${p}.nin_shortcut`, cout, cin, 1, dtype);
}

function midBlock(spec: CheckpointSpec, p: string, c: number, dtype: DType): void {
  resBlock(spec, `${p}.block_1`, c, c, dtype);
  norm(spec, `${p}.attn_1.norm`, c, dtype);
  for (const k of ['q', 'k', 'v', 'proj_out']) conv(spec, `${p}.attn_1.${k}`, c, c, 1, dtype);
  resBlock(spec, `${p}.block_2`, c, c, dtype);
}

/** `ae.safetensors` (BFL AutoEncoder key format). */
export function bflAutoencoderSpec(s: AutoencoderSizes, dtype: DType = 'F32'): CheckpointSpec {
  const spec: CheckpointSpec = {};
  const chans = s.chMult.map((m) => s.ch * m);
  const levels = chans.length;
  conv(spec, 'encoder.conv_in', s.ch, s.inChannels, 3, dtype);
  let cin = s.ch;
  for (let i = 0; i < levels; i++) {
    for (let b = 0; b < s.numResBlocks; b++) {
      resBlock(spec, `encoder.down.${i}.block.${b}`, cin, chans[i], dtype);
      cin = chans[i];
    }
    if (i !== levels - 1) conv(spec, `encoder.down.${i}.downsample.conv`, cin, cin, 3, dtype);
  }
  midBlock(spec, 'encoder.mid', cin, dtype);
  norm(spec, 'encoder.norm_out', cin, dtype);
  conv(spec, 'encoder.conv_out', 2 * s.zChannels, cin, 3, dtype);

  const top = chans[levels - 1];
  conv(spec, 'decoder.conv_in', top, s.zChannels, 3, dtype);
  midBlock(spec, 'decoder.mid', top, dtype);
  cin = top;
  for (let i = levels - 1; i >= 0; i--) {
    for (let b = 0; b < s.numResBlocks + 1; b++) {
      resBlock(spec, `decoder.up.${i}.block.${b}`, cin, chans[i], dtype);
      cin = chans[i];
    }
    if (i !== 0) conv(spec, `decoder.up.${i}.upsample.conv`, cin, cin, 3, dtype);
  }
  norm(spec, 'decoder.norm_out', cin, dtype);
  conv(spec, 'decoder.conv_out', s.inChannels, cin, 3, dtype);
  return spec;
}

export interface T5Sizes {
  vocab: number;
  dModel: number;
  heads: number;
  dKv: number;
  dFf: number;
  layers: number;
  buckets: number;
}

export const T5_XXL_SIZES: T5Sizes = { vocab: 32128, dModel: 4096, heads: 64, dKv: 64, dFf: 10240, layers: 24, buckets: 32 };

/** HF `T5EncoderModel` (gated-gelu v1.1). */
export function t5EncoderSpec(s: T5Sizes, dtype: DType = 'BF16'): CheckpointSpec {
  const spec: CheckpointSpec = {};
  spec['shared.weight'] = { shape: [s.vocab, s.dModel], dtype, init: 'matrix' };
  const inner = s.heads * s.dKv;
  for (let i = 0; i < s.layers; i++) {
    const p = `encoder.block.${i}.layer`;
    for (const k of ['q', 'k', 'v']) linear(spec, `${p}.0.SelfAttention.${k}`, inner, s.dModel, dtype, false);
    linear(spec, `${p}.0.SelfAttention.o`, s.dModel, inner, dtype, false);
    if (i === 0) spec[`${p}.0.SelfAttention.relative_attention_bias.weight`] = { shape: [s.buckets, s.heads], dtype, init: 'matrix' };
    scale(spec, `${p}.0.layer_norm.weight`, s.dModel, dtype);
    linear(spec, `${p}.1.DenseReluDense.wi_0`, s.dFf, s.dModel, dtype, false);
    linear(spec, `${p}.1.DenseReluDense.wi_1`, s.dFf, s.dModel, dtype, false);
    linear(spec, `${p}.1.DenseReluDense.wo`, s.dModel, s.dFf, dtype, false);
    scale(spec, `${p}.1.layer_norm.weight`, s.dModel, dtype);
  }
  scale(spec, 'encoder.final_layer_norm.weight', s.dModel, dtype);
  return spec;
}

export interface ClipTextSizes {
  vocab: number;
  positions: number;
  hidden: number;
  intermediate: number;
  layers: number;
}

export const CLIP_L_TEXT_SIZES: ClipTextSizes = { vocab: 49408, positions: 77, hidden: 768, intermediate: 3072, layers: 12 };

/** HF `CLIPTextModel` (`text_model.*` keys). */
export function clipTextSpec(s: ClipTextSizes, dtype: DType = 'F32'): CheckpointSpec {
  const spec: CheckpointSpec = {};
  spec['text_model.embeddings.token_embedding.weight'] = { shape: [s.vocab, s.hidden], dtype, init: 'matrix' };
  spec['text_model.embeddings.position_embedding.weight'] = { shape: [s.positions, s.hidden], dtype, init: 'matrix' };
  for (let i = 0; i < s.layers; i++) {
    const p = `text_model.encoder.layers.${i}`;
    for (const k of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) linear(spec, `${p}.self_attn.${k}`, s.hidden, s.hidden, dtype);
    norm(spec, `${p}.layer_norm1`, s.hidden, dtype);
    linear(spec, `${p}.mlp.fc1`, s.intermediate, s.hidden, dtype);
    linear(spec, `${p}.mlp.fc2`, s.hidden, s.intermediate, dtype);
    norm(spec, `${p}.layer_norm2`, s.hidden, dtype);
  }
  norm(spec, 'text_model.final_layer_norm', s.hidden, dtype);
  return spec;
}
