// The tiny UNO model kit: a complete models root in the real Hugging Face layouts and key names
// (FLUX single file, ae.safetensors with 4 levels so latent shapes match the real model, sharded T5
// and a full CLIPModel folder with tokenizer files, UNO and UMO LoRAs), from seeded random weights.
// Small enough to generate a 64×64 image in seconds on CPU. Tests, the demo model and benchmarks use it.
import fs from 'node:fs';
import path from 'node:path';
import { UNO_MANIFEST } from '../../../shared/model-manifests.js';
import { encodeSafetensors } from '../runtime/safetensors.js';
import {
  type AutoencoderSizes, type ClipTextSizes, type FluxDitSizes, type T5Sizes, type CheckpointSpec,
  bflAutoencoderSpec, clipTextSpec, fluxDitSpec, t5EncoderSpec, unoLoraSpec,
} from './checkpoint-shapes.js';
import { randomTensors, writeRandomCheckpoint } from './write-checkpoint.js';
import { writeTinyClipTokenizer, writeTinyT5Tokenizer } from './tiny-tokenizers.js';

export interface TinyUnoKitOptions {
  seed?: number;
  /** Override sizes (benchmarks use a mid-size DiT). */
  dit?: Partial<FluxDitSizes>;
  loraRank?: number;
}

export const TINY_KIT_MARKER = 'umo-tiny-kit.json';

function componentPath(root: string, id: string): string {
  const c = UNO_MANIFEST.components.find((x) => x.id === id);
  if (!c) throw new Error(`UNO manifest has no component ${id}`);
  return path.join(root, ...c.repo.split('/'), c.path);
}

function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Write a T5 encoder as two shards plus `model.safetensors.index.json`, as xlabs ships it. */
function writeShardedCheckpoint(dir: string, spec: CheckpointSpec, seed: number): void {
  const tensors = randomTensors(spec, seed);
  const keys = Object.keys(tensors).sort();
  const half = Math.ceil(keys.length / 2);
  const shards = [keys.slice(0, half), keys.slice(half)];
  const weightMap: Record<string, string> = {};
  shards.forEach((ks, i) => {
    const name = `model-0000${i + 1}-of-00002.safetensors`;
    const part = Object.fromEntries(ks.map((k) => [k, tensors[k]]));
    fs.writeFileSync(path.join(dir, name), encodeSafetensors(part, { format: 'pt' }));
    for (const k of ks) weightMap[k] = name;
  });
  writeJson(path.join(dir, 'model.safetensors.index.json'), { metadata: {}, weight_map: weightMap });
}

/** Writes the kit under `root` (Hugging Face repo layout); returns the sizes used. */
export async function writeTinyUnoKit(root: string, opts: TinyUnoKitOptions = {}): Promise<{ dit: FluxDitSizes }> {
  const seed = opts.seed ?? 20251123;
  const t5Dir = componentPath(root, 't5');
  const clipDir = componentPath(root, 'clip');
  for (const p of [path.dirname(componentPath(root, 'dit')), t5Dir, clipDir,
    path.dirname(componentPath(root, 'uno_lora')), path.dirname(componentPath(root, 'umo_lora'))]) {
    fs.mkdirSync(p, { recursive: true });
  }

  // Tokenizers first: their vocabulary sizes fix the embedding tables.
  const t5Vocab = await writeTinyT5Tokenizer(t5Dir);
  const clip = await writeTinyClipTokenizer(clipDir);

  const t5: T5Sizes = { vocab: t5Vocab, dModel: 32, heads: 4, dKv: 8, dFf: 64, layers: 2, buckets: 32 };
  const clipSizes: ClipTextSizes = { vocab: clip.vocabSize, positions: 77, hidden: 32, intermediate: 64, layers: 2 };
  const dit: FluxDitSizes = {
    hidden: 64, heads: 2, depth: 2, depthSingle: 2, mlpRatio: 4, inChannels: 64,
    contextDim: t5.dModel, vecDim: clipSizes.hidden, guidance: true, ...opts.dit,
  };
  const ae: AutoencoderSizes = { ch: 32, chMult: [1, 2, 4, 4], numResBlocks: 1, zChannels: 16, inChannels: 3 };

  writeRandomCheckpoint(componentPath(root, 'dit'), fluxDitSpec(dit, 'BF16'), seed + 1);
  writeRandomCheckpoint(componentPath(root, 'ae'), bflAutoencoderSpec(ae, 'F32'), seed + 2);

  writeShardedCheckpoint(t5Dir, t5EncoderSpec(t5, 'BF16'), seed + 3);
  writeJson(path.join(t5Dir, 'config.json'), {
    architectures: ['T5EncoderModel'], model_type: 't5', d_model: t5.dModel, d_kv: t5.dKv, d_ff: t5.dFf,
    num_layers: t5.layers, num_heads: t5.heads, vocab_size: t5.vocab, relative_attention_num_buckets: t5.buckets,
    relative_attention_max_distance: 128, layer_norm_epsilon: 1e-6, feed_forward_proj: 'gated-gelu',
    dense_act_fn: 'gelu_new', is_gated_act: true, pad_token_id: 0, eos_token_id: 1, torch_dtype: 'bfloat16',
  });

  // openai/clip-vit-large-patch14 ships a full CLIPModel: text tower plus a (here minimal) vision tower.
  const clipSpec: CheckpointSpec = {
    ...clipTextSpec(clipSizes, 'F32'),
    'vision_model.embeddings.class_embedding': { shape: [16], dtype: 'F32', init: 'bias' },
    'vision_model.post_layernorm.weight': { shape: [16], dtype: 'F32', init: 'scale' },
    'visual_projection.weight': { shape: [16, 16], dtype: 'F32', init: 'matrix' },
    'text_projection.weight': { shape: [16, clipSizes.hidden], dtype: 'F32', init: 'matrix' },
    logit_scale: { shape: [], dtype: 'F32', init: 'bias' },
  };
  writeRandomCheckpoint(path.join(clipDir, 'model.safetensors'), clipSpec, seed + 4);
  writeJson(path.join(clipDir, 'config.json'), {
    architectures: ['CLIPModel'], model_type: 'clip', projection_dim: 16,
    text_config: {
      model_type: 'clip_text_model', hidden_size: clipSizes.hidden, intermediate_size: clipSizes.intermediate,
      num_attention_heads: 4, num_hidden_layers: clipSizes.layers, max_position_embeddings: clipSizes.positions,
      vocab_size: clipSizes.vocab, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5,
      bos_token_id: clip.bosId, eos_token_id: 2, pad_token_id: 1,
    },
    vision_config: { model_type: 'clip_vision_model', hidden_size: 16 },
  });

  const rank = opts.loraRank ?? 4;
  writeRandomCheckpoint(componentPath(root, 'uno_lora'), unoLoraSpec(dit, rank, 'BF16'), seed + 5);
  writeRandomCheckpoint(componentPath(root, 'umo_lora'), unoLoraSpec(dit, rank, 'BF16'), seed + 6);

  writeJson(path.join(root, TINY_KIT_MARKER), {
    kind: 'umo-studio tiny UNO kit', seed, note: 'random weights: proves the install works, does not make pictures of anything',
  });
  return { dit };
}
