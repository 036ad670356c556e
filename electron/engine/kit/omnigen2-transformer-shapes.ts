// Key names and shapes of a diffusers `OmniGen2Transformer2DModel` checkpoint (OmniGen2's
// `transformer/` folder) and the matching config.json, generated from architecture sizes. Used for
// header-only checkpoints with the real OmniGen2 sizes and for tiny model kits.
import type { DType } from '../runtime/safetensors.js';
import type { CheckpointSpec } from './checkpoint-shapes.js';

export interface OmniGen2TransformerSizes {
  patchSize: number;
  inChannels: number;
  hidden: number;
  layers: number;
  refinerLayers: number;
  heads: number;
  kvHeads: number;
  multipleOf: number;
  textDim: number;
  axesDim: readonly number[];
  axesLens: readonly number[];
  timestepScale: number;
  normEps: number;
}

/** OmniGen2/OmniGen2 `transformer/config.json` (spec/pipelines.md §2.4). */
export const OMNIGEN2_TRANSFORMER_SIZES: OmniGen2TransformerSizes = {
  patchSize: 2, inChannels: 16, hidden: 2520, layers: 32, refinerLayers: 2, heads: 21, kvHeads: 7,
  multipleOf: 256, textDim: 2048, axesDim: [40, 40, 40], axesLens: [1024, 1664, 1664], timestepScale: 1000, normEps: 1e-5,
};

/** Rows of `image_index_embedding` (the reference model supports five references). */
const IMAGE_INDEX_ROWS = 5;
/** Sinusoidal timestep projection width. */
const TIME_FREQ_DIM = 256;

export function omniGen2TransformerSpec(s: OmniGen2TransformerSizes, dtype: DType = 'BF16'): CheckpointSpec {
  const spec: CheckpointSpec = {};
  const lin = (p: string, out: number, inp: number, bias: boolean) => {
    spec[`${p}.weight`] = { shape: [out, inp], dtype, init: 'matrix' };
    if (bias) spec[`${p}.bias`] = { shape: [out], dtype, init: 'bias' };
  };
  const scale = (key: string, n: number) => { spec[key] = { shape: [n], dtype, init: 'scale' }; };
  const h = s.hidden;
  const hd = h / s.heads;
  const tokenDim = s.patchSize * s.patchSize * s.inChannels;
  const temb = Math.min(h, 1024);
  const ffn = s.multipleOf * Math.ceil((4 * h) / s.multipleOf);
  lin('x_embedder', h, tokenDim, true);
  lin('ref_image_patch_embedder', h, tokenDim, true);
  spec.image_index_embedding = { shape: [IMAGE_INDEX_ROWS, h], dtype, init: 'bias' };
  lin('time_caption_embed.timestep_embedder.linear_1', temb, TIME_FREQ_DIM, true);
  lin('time_caption_embed.timestep_embedder.linear_2', temb, temb, true);
  scale('time_caption_embed.caption_embedder.0.weight', s.textDim);
  lin('time_caption_embed.caption_embedder.1', h, s.textDim, true);
  const block = (p: string, modulated: boolean) => {
    lin(`${p}.attn.to_q`, h, h, false);
    lin(`${p}.attn.to_k`, s.kvHeads * hd, h, false);
    lin(`${p}.attn.to_v`, s.kvHeads * hd, h, false);
    lin(`${p}.attn.to_out.0`, h, h, false);
    scale(`${p}.attn.norm_q.weight`, hd);
    scale(`${p}.attn.norm_k.weight`, hd);
    lin(`${p}.feed_forward.linear_1`, ffn, h, false);
    lin(`${p}.feed_forward.linear_2`, h, ffn, false);
    lin(`${p}.feed_forward.linear_3`, ffn, h, false);
    if (modulated) {
      lin(`${p}.norm1.linear`, 4 * h, temb, true);
      scale(`${p}.norm1.norm.weight`, h);
    } else {
      scale(`${p}.norm1.weight`, h);
    }
    for (const n of ['norm2', 'ffn_norm1', 'ffn_norm2']) scale(`${p}.${n}.weight`, h);
  };
  for (let i = 0; i < s.refinerLayers; i++) {
    block(`noise_refiner.${i}`, true);
    block(`ref_image_refiner.${i}`, true);
    block(`context_refiner.${i}`, false);
  }
  for (let i = 0; i < s.layers; i++) block(`layers.${i}`, true);
  lin('norm_out.linear_1', h, temb, true);
  lin('norm_out.linear_2', tokenDim, h, true);
  return spec;
}

/** The `transformer/config.json` diffusers writes for these sizes. */
export function omniGen2TransformerConfigJson(s: OmniGen2TransformerSizes): Record<string, unknown> {
  return {
    _class_name: 'OmniGen2Transformer2DModel',
    axes_dim_rope: [...s.axesDim],
    axes_lens: [...s.axesLens],
    ffn_dim_multiplier: null,
    hidden_size: s.hidden,
    in_channels: s.inChannels,
    multiple_of: s.multipleOf,
    norm_eps: s.normEps,
    num_attention_heads: s.heads,
    num_kv_heads: s.kvHeads,
    num_layers: s.layers,
    num_refiner_layers: s.refinerLayers,
    out_channels: null,
    patch_size: s.patchSize,
    text_feat_dim: s.textDim,
    timestep_scale: s.timestepScale,
  };
}
