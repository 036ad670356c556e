// The tiny OmniGen2 model kit: `OmniGen2/OmniGen2` in the real Hugging Face repo layout
// (`transformer/`, `vae/`, `mllm/`, `processor/`, `scheduler/`, `model_index.json`) with diffusers /
// transformers key names, plus a tiny UMO PEFT LoRA at `bytedance-research/UMO/UMO_OmniGen2.safetensors`,
// all from seeded random weights. The tokenizer is a byte-level BPE tokenizer.json built like
// Qwen2's (NFC, Qwen's split regex, ByteLevel) with Qwen's special tokens as added tokens, so every
// prompt tokenizes. Small enough to generate a 64×64 image in seconds on CPU.
import fs from 'node:fs';
import path from 'node:path';
import type { DType } from '../runtime/safetensors.js';
import { type VaeConfig, vaeDecoderTensorShapes, vaeEncoderTensorShapes } from '../models/autoencoder.js';
import type { CheckpointSpec } from './checkpoint-shapes.js';
import { type OmniGen2TransformerSizes, omniGen2TransformerConfigJson, omniGen2TransformerSpec } from './omnigen2-transformer-shapes.js';
import { type Qwen25VlSizes, qwen25VlConfigJson, qwen25VlSpec } from './qwen25vl-shapes.js';
import { writeRandomCheckpoint } from './write-checkpoint.js';
import { TINY_KIT_MARKER } from './tiny-uno-kit.js';

export interface TinyOmniGen2KitOptions {
  seed?: number;
  loraRank?: number;
  /** Override transformer sizes (e.g. a mid-size transformer for benchmarks); defaults are the tiny ones. */
  transformer?: Partial<OmniGen2TransformerSizes>;
}

export interface TinyOmniGen2Kit {
  /** `<root>/OmniGen2/OmniGen2`. */
  repoDir: string;
  loraFile: string;
  transformer: OmniGen2TransformerSizes;
  mllm: Qwen25VlSizes;
  vocabSize: number;
}

/** The VAE sizes of the kit: 4 levels of 32 channels (8× downsample), 16 latent channels, FLUX scale/shift. */
export function tinyDiffusersVaeConfig(): VaeConfig {
  const half = (resBlocks: number) => ({ channels: [32, 32, 32, 32], convInChannels: 32, resBlocks, midAttention: true });
  return {
    format: 'diffusers', inChannels: 3, outChannels: 3, zChannels: 16, encoder: half(1), decoder: half(2),
    quantConv: false, postQuantConv: false, groups: 32, eps: 1e-6, scale: 0.3611, shift: 0.1159, clampLogvar: true,
    source: 'tiny kit',
  };
}

/**
 * A diffusers `AutoencoderKL` checkpoint spec (encoder and decoder) from a VAE config: the key
 * names and shapes are the ones the VAE graph builders read; rank-1 `.weight` tensors are
 * GroupNorm scales.
 */
export function diffusersAutoencoderSpec(cfg: VaeConfig, dtype: DType = 'F32'): CheckpointSpec {
  const spec: CheckpointSpec = {};
  for (const shapes of [vaeEncoderTensorShapes(cfg), vaeDecoderTensorShapes(cfg)]) {
    for (const [key, shape] of shapes) {
      const init = shape.length > 1 ? 'matrix' : key.endsWith('.weight') ? 'scale' : 'bias';
      spec[key] = { shape, dtype, init };
    }
  }
  return spec;
}

/** diffusers `AutoencoderKL` config.json for `diffusersAutoencoderSpec(cfg)`. */
function diffusersVaeConfigJson(cfg: VaeConfig): Record<string, unknown> {
  const enc = cfg.encoder!;
  const levels = enc.channels.length;
  return {
    _class_name: 'AutoencoderKL', act_fn: 'silu', block_out_channels: [...enc.channels],
    down_block_types: Array(levels).fill('DownEncoderBlock2D'), up_block_types: Array(levels).fill('UpDecoderBlock2D'),
    force_upcast: true, in_channels: cfg.inChannels, out_channels: cfg.outChannels, latent_channels: cfg.zChannels,
    latents_mean: null, latents_std: null, layers_per_block: enc.resBlocks, mid_block_add_attention: true,
    norm_num_groups: cfg.groups, sample_size: 64, scaling_factor: cfg.scale, shift_factor: cfg.shift,
    use_post_quant_conv: cfg.postQuantConv, use_quant_conv: cfg.quantConv,
  };
}

/** PEFT LoRA (adapter `default`) on `attn.to_{q,k,v,out.0}` of every block of the transformer spec. */
export function omniGen2PeftLoraSpec(transformer: CheckpointSpec, rank: number, dtype: DType = 'BF16'): CheckpointSpec {
  const spec: CheckpointSpec = {};
  for (const [key, t] of Object.entries(transformer)) {
    const m = /^(.+\.attn\.(?:to_q|to_k|to_v|to_out\.0))\.weight$/.exec(key);
    if (!m) continue;
    const [out, inp] = t.shape;
    spec[`${m[1]}.lora_A.default.weight`] = { shape: [rank, inp], dtype, init: 'matrix' };
    spec[`${m[1]}.lora_B.default.weight`] = { shape: [out, rank], dtype, init: 'matrix' };
  }
  return spec;
}

// --- tokenizer ---------------------------------------------------------------------------------

/** GPT-2 / Qwen byte-to-unicode table. */
function byteChars(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(printable(b) ? b : 256 + n++);
  return out;
}

/** Qwen2's pre-tokenisation regex, as its tokenizer.json stores it. */
const QWEN_SPLIT = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/** Words made whole tokens (system prompt and chat roles), so the templated prompt stays short. */
const MERGED_WORDS = [
  'system', 'user', 'You', ' are', ' a', ' helpful', ' assistant', ' that', ' generates', ' high', '-quality', ' images',
  ' based', ' on', ' instructions', ' the', ' photo', ' of', ' man', ' woman', ' cat', ' dog', ' in', ' first', ' image',
];

/** Qwen's special tokens (in Qwen2.5's order), appended after the BPE vocabulary. */
const SPECIAL_TOKENS = [
  '<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|object_ref_start|>', '<|object_ref_end|>', '<|box_start|>', '<|box_end|>',
  '<|quad_start|>', '<|quad_end|>', '<|vision_start|>', '<|vision_end|>', '<|vision_pad|>', '<|image_pad|>', '<|video_pad|>', '<|img|>',
];

/** Writes processor/tokenizer.json + tokenizer_config.json; returns the vocabulary size (BPE + specials). */
export function writeTinyQwenTokenizer(dir: string): number {
  fs.mkdirSync(dir, { recursive: true });
  const chars = byteChars();
  const vocab: Record<string, number> = {};
  chars.forEach((c, i) => { vocab[c] = i; });
  const merges: string[] = [];
  for (const word of MERGED_WORDS) {
    const pieces = [...Buffer.from(word, 'utf8')].map((b) => chars[b]);
    let acc = pieces[0];
    for (const p of pieces.slice(1)) {
      const merged = acc + p;
      if (!(merged in vocab)) {
        merges.push(`${acc} ${p}`);
        vocab[merged] = Object.keys(vocab).length;
      }
      acc = merged;
    }
  }
  const base = Object.keys(vocab).length;
  const added = SPECIAL_TOKENS.map((content, i) => ({
    id: base + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  const json = {
    version: '1.0', truncation: null, padding: null, added_tokens: added,
    normalizer: { type: 'NFC' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: QWEN_SPLIT }, behavior: 'Isolated', invert: false }, byteLevel] },
    post_processor: byteLevel, decoder: byteLevel,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges,
    },
  };
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
  writeJson(path.join(dir, 'tokenizer_config.json'), {
    tokenizer_class: 'Qwen2Tokenizer', model_max_length: 32768, padding_side: 'right',
    pad_token: '<|endoftext|>', eos_token: '<|im_end|>', bos_token: null, unk_token: null, errors: 'replace',
    split_special_tokens: false, add_prefix_space: false,
  });
  return base + SPECIAL_TOKENS.length;
}

function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Writes the kit under `root` (Hugging Face repo layout). */
export function writeTinyOmniGen2Kit(root: string, opts: TinyOmniGen2KitOptions = {}): TinyOmniGen2Kit {
  const seed = opts.seed ?? 20251124;
  const repoDir = path.join(root, 'OmniGen2', 'OmniGen2');
  const dirs = Object.fromEntries(['transformer', 'vae', 'mllm', 'processor', 'scheduler'].map((d) => [d, path.join(repoDir, d)]));
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
  const loraDir = path.join(root, 'bytedance-research', 'UMO');
  fs.mkdirSync(loraDir, { recursive: true });

  const vocabSize = writeTinyQwenTokenizer(dirs.processor);
  const mllm: Qwen25VlSizes = {
    vocab: vocabSize, hidden: 32, layers: 2, heads: 2, kvHeads: 1, intermediate: 64, ropeTheta: 1_000_000,
    mropeSection: [2, 3, 3], eps: 1e-6, lmHead: false,
    vision: { hidden: 16, depth: 1, heads: 2, intermediate: 32, outHidden: 32, patch: 14, temporalPatch: 2, spatialMerge: 2, inChannels: 3 },
  };
  writeRandomCheckpoint(path.join(dirs.mllm, 'model.safetensors'), qwen25VlSpec(mllm, 'BF16'), seed + 1, { format: 'pt' });
  writeJson(path.join(dirs.mllm, 'config.json'), qwen25VlConfigJson(mllm));

  const transformer: OmniGen2TransformerSizes = {
    patchSize: 2, inChannels: 16, hidden: 64, layers: 2, refinerLayers: 1, heads: 4, kvHeads: 2, multipleOf: 16,
    textDim: mllm.hidden, axesDim: [4, 6, 6], axesLens: [1024, 1664, 1664], timestepScale: 1000, normEps: 1e-5,
    ...opts.transformer,
  };
  const transformerSpec = omniGen2TransformerSpec(transformer, 'BF16');
  writeRandomCheckpoint(path.join(dirs.transformer, 'diffusion_pytorch_model.safetensors'), transformerSpec, seed + 2, { format: 'pt' });
  writeJson(path.join(dirs.transformer, 'config.json'), omniGen2TransformerConfigJson(transformer));

  const vae = tinyDiffusersVaeConfig();
  writeRandomCheckpoint(path.join(dirs.vae, 'diffusion_pytorch_model.safetensors'), diffusersAutoencoderSpec(vae, 'F32'), seed + 3, { format: 'pt' });
  writeJson(path.join(dirs.vae, 'config.json'), diffusersVaeConfigJson(vae));

  writeJson(path.join(dirs.scheduler, 'scheduler_config.json'), {
    _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, dynamic_time_shift: true,
  });
  writeJson(path.join(repoDir, 'model_index.json'), {
    _class_name: 'OmniGen2Pipeline',
    mllm: ['transformers', 'Qwen2_5_VLForConditionalGeneration'],
    processor: ['transformers', 'Qwen2_5_VLProcessor'],
    scheduler: ['omnigen2', 'FlowMatchEulerDiscreteScheduler'],
    transformer: ['omnigen2', 'OmniGen2Transformer2DModel'],
    vae: ['diffusers', 'AutoencoderKL'],
  });

  const loraFile = path.join(loraDir, 'UMO_OmniGen2.safetensors');
  writeRandomCheckpoint(loraFile, omniGen2PeftLoraSpec(transformerSpec, opts.loraRank ?? 4, 'BF16'), seed + 4);

  const marker = path.join(root, TINY_KIT_MARKER);
  const prev = fs.existsSync(marker) ? (JSON.parse(fs.readFileSync(marker, 'utf8')) as Record<string, unknown>) : {};
  writeJson(marker, {
    kind: 'umo-studio tiny kit', ...prev, omnigen2: { seed },
    note: 'random weights: proves the install works, does not make pictures of anything',
  });
  return { repoDir, loraFile, transformer, mllm, vocabSize };
}
