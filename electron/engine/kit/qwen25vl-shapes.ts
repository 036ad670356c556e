// Key names and shapes of a `Qwen2_5_VLForConditionalGeneration` checkpoint (transformers 4.51
// layout: `model.*` language model, `visual.*` vision tower, `lm_head`), and the matching
// config.json, generated from architecture sizes. Used for header-only checkpoints with the real
// Qwen2.5-VL-3B sizes (OmniGen2's `mllm/`) and for tiny model kits.
import type { DType } from '../runtime/safetensors.js';
import type { CheckpointSpec } from './checkpoint-shapes.js';

export interface Qwen25VlSizes {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  ropeTheta: number;
  mropeSection: readonly number[];
  eps: number;
  /** False when the output head is tied to the embedding (no `lm_head.weight` stored). */
  lmHead: boolean;
  vision: {
    hidden: number;
    depth: number;
    heads: number;
    intermediate: number;
    outHidden: number;
    patch: number;
    temporalPatch: number;
    spatialMerge: number;
    inChannels: number;
  };
}

/** Qwen2.5-VL-3B-Instruct (the base of OmniGen2's `mllm/`). */
export const QWEN25VL_3B_SIZES: Qwen25VlSizes = {
  vocab: 151936, hidden: 2048, layers: 36, heads: 16, kvHeads: 2, intermediate: 11008,
  ropeTheta: 1_000_000, mropeSection: [16, 24, 24], eps: 1e-6, lmHead: false,
  vision: { hidden: 1280, depth: 32, heads: 16, intermediate: 3420, outHidden: 2048, patch: 14, temporalPatch: 2, spatialMerge: 2, inChannels: 3 },
};

export function qwen25VlSpec(s: Qwen25VlSizes, dtype: DType = 'BF16'): CheckpointSpec {
  const spec: CheckpointSpec = {};
  const mat = (key: string, out: number, inp: number) => { spec[key] = { shape: [out, inp], dtype, init: 'matrix' }; };
  const bias = (key: string, n: number) => { spec[key] = { shape: [n], dtype, init: 'bias' }; };
  const scale = (key: string, n: number) => { spec[key] = { shape: [n], dtype, init: 'scale' }; };
  const hd = s.hidden / s.heads;
  spec['model.embed_tokens.weight'] = { shape: [s.vocab, s.hidden], dtype, init: 'bias' };
  for (let i = 0; i < s.layers; i++) {
    const l = `model.layers.${i}`;
    scale(`${l}.input_layernorm.weight`, s.hidden);
    for (const [k, rows] of [['q_proj', s.heads * hd], ['k_proj', s.kvHeads * hd], ['v_proj', s.kvHeads * hd]] as const) {
      mat(`${l}.self_attn.${k}.weight`, rows, s.hidden);
      bias(`${l}.self_attn.${k}.bias`, rows);
    }
    mat(`${l}.self_attn.o_proj.weight`, s.hidden, s.heads * hd);
    scale(`${l}.post_attention_layernorm.weight`, s.hidden);
    mat(`${l}.mlp.gate_proj.weight`, s.intermediate, s.hidden);
    mat(`${l}.mlp.up_proj.weight`, s.intermediate, s.hidden);
    mat(`${l}.mlp.down_proj.weight`, s.hidden, s.intermediate);
  }
  scale('model.norm.weight', s.hidden);
  if (s.lmHead) mat('lm_head.weight', s.vocab, s.hidden);

  const v = s.vision;
  spec['visual.patch_embed.proj.weight'] = { shape: [v.hidden, v.inChannels, v.temporalPatch, v.patch, v.patch], dtype, init: 'matrix' };
  for (let i = 0; i < v.depth; i++) {
    const p = `visual.blocks.${i}`;
    scale(`${p}.norm1.weight`, v.hidden);
    scale(`${p}.norm2.weight`, v.hidden);
    mat(`${p}.attn.qkv.weight`, 3 * v.hidden, v.hidden);
    bias(`${p}.attn.qkv.bias`, 3 * v.hidden);
    mat(`${p}.attn.proj.weight`, v.hidden, v.hidden);
    bias(`${p}.attn.proj.bias`, v.hidden);
    for (const k of ['gate_proj', 'up_proj']) {
      mat(`${p}.mlp.${k}.weight`, v.intermediate, v.hidden);
      bias(`${p}.mlp.${k}.bias`, v.intermediate);
    }
    mat(`${p}.mlp.down_proj.weight`, v.hidden, v.intermediate);
    bias(`${p}.mlp.down_proj.bias`, v.hidden);
  }
  const merged = v.hidden * v.spatialMerge * v.spatialMerge;
  scale('visual.merger.ln_q.weight', v.hidden);
  mat('visual.merger.mlp.0.weight', merged, merged);
  bias('visual.merger.mlp.0.bias', merged);
  mat('visual.merger.mlp.2.weight', v.outHidden, merged);
  bias('visual.merger.mlp.2.bias', v.outHidden);
  return spec;
}

/** The config.json of such a checkpoint (transformers 4.51 flat layout, or with `text_config` nested). */
export function qwen25VlConfigJson(s: Qwen25VlSizes, opts: { nestedTextConfig?: boolean } = {}): Record<string, unknown> {
  const text = {
    vocab_size: s.vocab, hidden_size: s.hidden, num_hidden_layers: s.layers, num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads, intermediate_size: s.intermediate, hidden_act: 'silu', rms_norm_eps: s.eps,
    rope_theta: s.ropeTheta, rope_scaling: { type: 'mrope', rope_type: 'default', mrope_section: [...s.mropeSection] },
    use_sliding_window: false, tie_word_embeddings: !s.lmHead, torch_dtype: 'bfloat16',
  };
  const v = s.vision;
  const vision = {
    depth: v.depth, hidden_size: v.hidden, num_heads: v.heads, intermediate_size: v.intermediate, out_hidden_size: v.outHidden,
    patch_size: v.patch, temporal_patch_size: v.temporalPatch, spatial_merge_size: v.spatialMerge, in_chans: v.inChannels, hidden_act: 'silu',
  };
  const base = { architectures: ['Qwen2_5_VLForConditionalGeneration'], model_type: 'qwen2_5_vl', vision_config: vision };
  return opts.nestedTextConfig ? { ...base, text_config: { ...text, model_type: 'qwen2_5_vl_text' } } : { ...base, ...text };
}
