// Per-network memory models for the planner: for each network a pipeline runs (FLUX DiT, T5,
// CLIP, FLUX VAE halves, OmniGen2 transformer, Qwen2.5 text model) the role of every checkpoint
// tensor, the repeated blocks (for streaming), the precisions worth trying, and the activation
// estimate for a request. All sizes come from the checkpoint headers (and config.json where the
// shapes do not hold them, e.g. head counts); no tensor data is read.
import { type TensorInfo, type Weights, SafetensorsError, elementCount } from './safetensors.js';
import { type ComponentWeightBytes, type DeviceKind, type PrecisionChoice, type TensorRole, componentWeightBytes } from './weight-bytes.js';
import {
  type ActivationEstimate, type AttentionShape,
  encoderActivations, fluxDitActivations, omnigen2Activations, vaeDecoderActivations, vaeEncoderActivations,
} from './activation-bytes.js';
import { readFluxDitConfig } from '../models/flux-dit.js';
import { readT5EncoderConfig } from '../models/t5-encoder.js';
import { readClipTextConfig } from '../models/clip-text.js';
import { readVaeConfig } from '../models/autoencoder.js';
import { readOmniGen2TransformerConfig } from '../models/omnigen2-transformer.js';
import { readQwen2TextConfig } from '../models/qwen2-text.js';

/** Token and pixel counts one network sees for a request (filled in by the planner). */
export interface NetworkWorkload {
  /** Text tokens (T5: 512; CLIP: 77; MLLM / OmniGen2 caption: the prompt length). */
  textTokens: number;
  /** Noise tokens of the generated image. */
  noiseTokens: number;
  /** Tokens of each reference. */
  referenceTokens: readonly number[];
  /** Pixels (width × height) the VAE works on: each reference for the encoder, the output for the decoder. */
  images: ReadonlyArray<{ width: number; height: number }>;
}

export interface NetworkMemoryModel {
  /** Network id ('dit', 't5', 'clip', 'vae-encoder', 'vae-decoder', 'transformer', 'mllm'). */
  readonly id: string;
  readonly label: string;
  /** The role of each checkpoint tensor (decides what a quantized bake rewrites). */
  readonly roleOf: RoleOf;
  /** Bytes of the weights at a precision (cached per choice). */
  weights(choice: PrecisionChoice, device: DeviceKind): ComponentWeightBytes;
  /** Weight bytes of each repeated block in execution order (streamable networks only; where the groups split). */
  blockBytes?(choice: PrecisionChoice, device: DeviceKind): number[];
  /** The same per block, by tensor role (the planner prices quantized and float parts differently on CPU). */
  blockWeights?(choice: PrecisionChoice, device: DeviceKind): ComponentWeightBytes[];
  /** Peak activation elements of one run. */
  activations(work: NetworkWorkload, attention: AttentionShape): ActivationEstimate;
  /** The dtype most of the weights are stored in (decides the lossless precision). */
  readonly storedDtype: 'F32' | 'F16' | 'BF16';
  /** Parameters the network reads. */
  readonly parameters: number;
  /** Has modulation projections (the planner may quantize them as a last resort). */
  readonly hasModulation: boolean;
  /** The network is worth quantizing (large Linear layers); small ones stay float. */
  readonly quantizable: boolean;
}

type RoleOf = (key: string, t: TensorInfo) => TensorRole;

const QUANTIZE_MIN_PARAMETERS = 500e6;

function dominantFloatDtype(w: Weights, include: (k: string) => boolean): 'F32' | 'F16' | 'BF16' {
  const count: Record<string, number> = {};
  for (const k of w.keys()) {
    if (!include(k)) continue;
    const t = w.info(k);
    count[t.dtype] = (count[t.dtype] ?? 0) + elementCount(t.shape);
  }
  const best = Object.entries(count).sort((a, b) => b[1] - a[1])[0]?.[0];
  if (best === 'F32' || best === 'F16' || best === 'BF16') return best;
  throw new SafetensorsError(w.path, `holds ${best ?? 'no'} weights; the memory planner expects F32, F16 or BF16 checkpoints`);
}

/** Shared plumbing: weight bytes cached per (precision choice, device), streaming blocks by key prefix. */
function makeModel(opts: {
  id: string;
  label: string;
  w: Weights;
  roleOf: RoleOf;
  include?: (key: string) => boolean;
  /** Repeated-block index of a key (execution order), or null for the rest. */
  blockOf?: (key: string) => number | null;
  hasModulation: boolean;
  /** Token-embedding rows looked up per run. */
  lookedUpTokens: number;
  activations: (work: NetworkWorkload, attention: AttentionShape) => ActivationEstimate;
  quantizable?: boolean;
}): NetworkMemoryModel {
  const include = opts.include ?? (() => true);
  const cache = new Map<string, ComponentWeightBytes>();
  const blockCache = new Map<string, ComponentWeightBytes[]>();
  const keyOf = (c: PrecisionChoice, d: DeviceKind) => `${c.precision}|${c.quantizeModulation ? 1 : 0}|${d}`;
  let parameters = 0;
  for (const k of opts.w.keys()) {
    if (include(k) && opts.roleOf(k, opts.w.info(k)) !== 'unused') parameters += elementCount(opts.w.info(k).shape);
  }
  const used = (k: string) => include(k) && opts.roleOf(k, opts.w.info(k)) !== 'unused';
  const model: NetworkMemoryModel = {
    id: opts.id,
    label: opts.label,
    roleOf: opts.roleOf,
    storedDtype: dominantFloatDtype(opts.w, used),
    parameters,
    hasModulation: opts.hasModulation,
    quantizable: opts.quantizable ?? parameters >= QUANTIZE_MIN_PARAMETERS,
    weights(choice, device) {
      const key = keyOf(choice, device);
      let v = cache.get(key);
      if (!v) {
        v = componentWeightBytes(opts.w, opts.roleOf, choice, { device, lookedUpTokens: opts.lookedUpTokens }, include);
        cache.set(key, v);
      }
      return v;
    },
    activations: opts.activations,
  };
  const blockOf = opts.blockOf;
  if (blockOf) {
    model.blockWeights = (choice, device) => {
      const key = keyOf(choice, device);
      let v = blockCache.get(key);
      if (!v) {
        const keysByBlock = new Map<number, Set<string>>();
        for (const k of opts.w.keys()) {
          const b = include(k) ? blockOf(k) : null;
          if (b === null) continue;
          if (!keysByBlock.has(b)) keysByBlock.set(b, new Set());
          keysByBlock.get(b)!.add(k);
        }
        v = [...keysByBlock.entries()].sort((a, b) => a[0] - b[0])
          .map(([, keys]) => componentWeightBytes(opts.w, opts.roleOf, choice, { device, lookedUpTokens: opts.lookedUpTokens }, (x) => keys.has(x)));
        blockCache.set(key, v);
      }
      return v;
    };
    model.blockBytes = (choice, device) => model.blockWeights!(choice, device).map((b) => b.total);
  }
  return model;
}

const rank2Weight = (key: string, t: TensorInfo) => t.shape.length === 2 && key.endsWith('.weight');

// ---------------------------------------------------------------------------------------------
// FLUX DiT (BFL keys)

const FLUX_MODULATION = /(_mod\.lin|\.modulation\.lin|adaLN_modulation\.1)\.weight$/;
const FLUX_EMBEDDER = /^(img_in|txt_in|time_in|vector_in|guidance_in|final_layer\.linear)\./;

export function fluxDitMemoryModel(w: Weights): NetworkMemoryModel {
  const cfg = readFluxDitConfig(w);
  const roleOf: RoleOf = (key, t) => {
    if (FLUX_MODULATION.test(key)) return 'modulation';
    if (FLUX_EMBEDDER.test(key)) return rank2Weight(key, t) ? 'embedder' : 'small';
    return rank2Weight(key, t) ? 'matmul' : 'small';
  };
  const blockOf = (key: string): number | null => {
    const m = /^(double_blocks|single_blocks)\.(\d+)\./.exec(key);
    if (!m) return null;
    return m[1] === 'double_blocks' ? Number(m[2]) : cfg.depth + Number(m[2]);
  };
  return makeModel({
    id: 'dit', label: `FLUX DiT (${cfg.depth}+${cfg.depthSingle} blocks, hidden ${cfg.hidden})`, w, roleOf, blockOf,
    hasModulation: true, lookedUpTokens: 0,
    activations: (work, attention) => fluxDitActivations({
      hidden: cfg.hidden, heads: cfg.heads, mlpHidden: cfg.mlpHidden, textTokens: work.textTokens,
      imageTokens: work.noiseTokens + work.referenceTokens.reduce((a, b) => a + b, 0), attention,
    }),
  });
}

// ---------------------------------------------------------------------------------------------
// T5 encoder (HF T5EncoderModel keys)

export function t5MemoryModel(w: Weights): NetworkMemoryModel {
  const cfg = readT5EncoderConfig(w);
  const inner = cfg.heads * cfg.dKv;
  const roleOf: RoleOf = (key, t) => {
    if (key.startsWith('decoder.')) return 'unused';
    if (key === cfg.embeddingKey || key === 'shared.weight' || key === 'encoder.embed_tokens.weight') return 'embedding-table';
    if (key.includes('relative_attention_bias')) return 'small';
    return rank2Weight(key, t) ? 'matmul' : 'small';
  };
  return makeModel({
    id: 't5', label: `T5 encoder (${cfg.layers} layers, d_model ${cfg.dModel})`, w, roleOf, hasModulation: false,
    lookedUpTokens: 512,
    activations: (work, attention) => encoderActivations({
      tokens: work.textTokens, hidden: cfg.dModel, heads: cfg.heads, attnWidth: inner, kvWidth: inner, ffn: cfg.dFf,
      gated: cfg.gated, persistentBiasElements: cfg.heads * work.textTokens * work.textTokens, attention,
    }),
  });
}

// ---------------------------------------------------------------------------------------------
// CLIP text tower (HF CLIPTextModel / CLIPModel keys)

export function clipTextMemoryModel(w: Weights): NetworkMemoryModel {
  const cfg = readClipTextConfig(w);
  const roleOf: RoleOf = (key, t) => {
    if (!key.startsWith('text_model.')) return 'unused'; // vision tower, projections, logit_scale
    if (key.startsWith('text_model.embeddings.')) return 'embedding-table';
    return rank2Weight(key, t) ? 'matmul' : 'small';
  };
  return makeModel({
    id: 'clip', label: `CLIP text (${cfg.layers} layers, hidden ${cfg.hidden})`, w, roleOf, hasModulation: false,
    lookedUpTokens: cfg.maxPositions,
    activations: (work, attention) => encoderActivations({
      tokens: cfg.maxPositions, hidden: cfg.hidden, heads: cfg.heads, attnWidth: cfg.hidden, kvWidth: cfg.hidden,
      ffn: cfg.intermediate, gated: false, persistentBiasElements: cfg.maxPositions * cfg.maxPositions, attention,
    }),
  });
}

// ---------------------------------------------------------------------------------------------
// VAE halves (BFL ae.safetensors or diffusers AutoencoderKL)

export function vaeMemoryModels(w: Weights): { encoder: NetworkMemoryModel; decoder: NetworkMemoryModel } {
  const cfg = readVaeConfig(w);
  if (!cfg.encoder || !cfg.decoder) throw new SafetensorsError(w.path, 'the memory planner needs a VAE with both encoder.* and decoder.* tensors');
  const roleOf: RoleOf = (_key, t) => (t.shape.length >= 2 ? 'conv' : 'small');
  const half = (id: 'vae-encoder' | 'vae-decoder') => {
    const enc = id === 'vae-encoder';
    const h = enc ? cfg.encoder! : cfg.decoder!;
    const prefixes = enc ? ['encoder.', 'quant_conv.'] : ['decoder.', 'post_quant_conv.'];
    return makeModel({
      id, label: `VAE ${enc ? 'encoder' : 'decoder'} (${h.channels.join('/')} channels)`, w, roleOf,
      include: (k) => prefixes.some((p) => k.startsWith(p)), hasModulation: false, lookedUpTokens: 0, quantizable: false,
      activations: (work, attention) => {
        let best: ActivationEstimate | null = null;
        for (const img of work.images) {
          const input = {
            channels: h.channels, convInChannels: h.convInChannels, resBlocks: h.resBlocks, midAttention: h.midAttention,
            imageChannels: enc ? cfg.inChannels : cfg.outChannels, zChannels: cfg.zChannels, width: img.width, height: img.height, attention,
          };
          const e = enc ? vaeEncoderActivations(input) : vaeDecoderActivations(input);
          if (!best || e.elements > best.elements) best = e;
        }
        return best ?? { elements: 0, worst: 'no image', moments: [] };
      },
    });
  };
  return { encoder: half('vae-encoder'), decoder: half('vae-decoder') };
}

// ---------------------------------------------------------------------------------------------
// OmniGen2 transformer (diffusers keys)

const OG2_MODULATION = /(\.norm1\.linear|^norm_out\.linear_1)\.weight$/;
const OG2_EMBEDDER = /^(x_embedder|ref_image_patch_embedder|time_caption_embed|norm_out\.linear_2)\./;
const OG2_BLOCK_ORDER = ['context_refiner', 'noise_refiner', 'ref_image_refiner', 'layers'];

export function omnigen2TransformerMemoryModel(w: Weights): NetworkMemoryModel {
  const cfg = readOmniGen2TransformerConfig(w);
  const counts = [cfg.contextRefiners, cfg.noiseRefiners, cfg.refRefiners, cfg.layers];
  const roleOf: RoleOf = (key, t) => {
    if (OG2_MODULATION.test(key)) return 'modulation';
    if (OG2_EMBEDDER.test(key)) return rank2Weight(key, t) ? 'embedder' : 'small';
    if (key === 'image_index_embedding') return 'small';
    return rank2Weight(key, t) ? 'matmul' : 'small';
  };
  const blockOf = (key: string): number | null => {
    const m = /^(context_refiner|noise_refiner|ref_image_refiner|layers)\.(\d+)\./.exec(key);
    if (!m) return null;
    const g = OG2_BLOCK_ORDER.indexOf(m[1]);
    return counts.slice(0, g).reduce((a, b) => a + b, 0) + Number(m[2]);
  };
  const refiners = cfg.noiseRefiners + cfg.refRefiners + cfg.contextRefiners;
  return makeModel({
    id: 'transformer', label: `OmniGen2 transformer (${cfg.layers}+${refiners} blocks, hidden ${cfg.hidden})`, w, roleOf, blockOf,
    hasModulation: true, lookedUpTokens: 0,
    activations: (work, attention) => omnigen2Activations({
      hidden: cfg.hidden, heads: cfg.heads, kvHeads: cfg.kvHeads, ffn: cfg.ffnDim, textTokens: work.textTokens,
      referenceTokens: work.referenceTokens, noiseTokens: work.noiseTokens, attention,
    }),
  });
}

// ---------------------------------------------------------------------------------------------
// Qwen2 / Qwen2.5-VL text model (OmniGen2's mllm; the vision tower and lm_head are not run)

export function qwen2TextMemoryModel(w: Weights): NetworkMemoryModel {
  const cfg = readQwen2TextConfig(w);
  const roleOf: RoleOf = (key, t) => {
    if (!key.startsWith(cfg.prefix)) return 'unused'; // visual.*, lm_head
    if (key === `${cfg.prefix}embed_tokens.weight`) return 'embedding-table';
    return rank2Weight(key, t) ? 'matmul' : 'small';
  };
  return makeModel({
    id: 'mllm', label: `Qwen2.5 text model (${cfg.layers} layers, hidden ${cfg.hidden})`, w, roleOf, hasModulation: false,
    // Two prompts (positive and negative) of ~200 tokens each.
    lookedUpTokens: 400,
    activations: (work, attention) => encoderActivations({
      tokens: work.textTokens, hidden: cfg.hidden, heads: cfg.heads, attnWidth: cfg.heads * cfg.headDim,
      kvWidth: cfg.kvHeads * cfg.headDim, ffn: cfg.intermediate, gated: true,
      // Causal + padding mask as an additive [1, 1, L, L] bias.
      persistentBiasElements: work.textTokens * work.textTokens, attention,
    }),
  });
}
