// What each backbone needs on disk: components, the Hugging Face repos and files that hold them,
// their approximate sizes, and where users get them. Used by model resolution (engine), the
// setup view (renderer) and the CLI's error messages.

export type BackboneId = 'uno' | 'omnigen2';

export interface ManifestComponent {
  /** Stable id used for overrides and messages ("dit", "ae", "t5", ...). */
  readonly id: string;
  readonly label: string;
  /** Hugging Face repo (`org/name`) as published. */
  readonly repo: string;
  /** A single file inside the repo, or a folder (`''` = repo root, `'transformer'` = sub-folder). */
  readonly kind: 'file' | 'folder';
  readonly path: string;
  /** Files that must be present in a folder component (relative to it); any one of each alternative group. */
  readonly requiredFiles?: ReadonlyArray<readonly string[]>;
  /** Approximate download size in bytes (what the setup view shows and sums). */
  readonly approxBytes: number;
  /** Optional components (LoRAs) do not block generation. */
  readonly optional?: boolean;
  readonly downloadUrl: string;
  /** A key (or key prefix) every valid checkpoint of this component holds. */
  readonly probeKey?: string;
  /**
   * Header-only shape sanity checks: each listed tensor, when the checkpoint holds it, must have this
   * many dimensions (catches wrongly converted or mismatched files before any graph is built).
   */
  readonly shapeChecks?: ReadonlyArray<{ readonly key: string; readonly rank: number }>;
  /** False for folders that hold no weights (tokenizer/processor, scheduler config): not opened as a checkpoint. */
  readonly holdsWeights?: boolean;
  readonly note?: string;
}

export interface BackboneManifest {
  readonly backbone: BackboneId;
  readonly label: string;
  readonly components: readonly ManifestComponent[];
}

const GB = 1e9;
const MB = 1e6;

export const UNO_MANIFEST: BackboneManifest = {
  backbone: 'uno',
  label: 'UNO (FLUX.1-dev)',
  components: [
    {
      id: 'dit', label: 'FLUX.1-dev transformer', repo: 'black-forest-labs/FLUX.1-dev', kind: 'file',
      path: 'flux1-dev.safetensors', approxBytes: 23.8 * GB, probeKey: 'double_blocks.0.img_attn.qkv.weight',
      shapeChecks: [{ key: 'img_in.weight', rank: 2 }, { key: 'txt_in.weight', rank: 2 }, { key: 'vector_in.in_layer.weight', rank: 2 }],
      downloadUrl: 'https://huggingface.co/black-forest-labs/FLUX.1-dev',
      note: 'gated repo: accept the FLUX.1-dev licence on Hugging Face first',
    },
    {
      id: 'ae', label: 'FLUX autoencoder', repo: 'black-forest-labs/FLUX.1-dev', kind: 'file',
      path: 'ae.safetensors', approxBytes: 335 * MB, probeKey: 'decoder.conv_in.weight',
      shapeChecks: [{ key: 'decoder.conv_in.weight', rank: 4 }, { key: 'encoder.conv_in.weight', rank: 4 }],
      downloadUrl: 'https://huggingface.co/black-forest-labs/FLUX.1-dev',
    },
    {
      id: 't5', label: 'T5-XXL text encoder', repo: 'xlabs-ai/xflux_text_encoders', kind: 'folder', path: '',
      requiredFiles: [['config.json'], ['model.safetensors.index.json', 'model.safetensors'], ['spiece.model', 'tokenizer.json']],
      approxBytes: 9.52 * GB, probeKey: 'encoder.final_layer_norm.weight',
      shapeChecks: [{ key: 'encoder.final_layer_norm.weight', rank: 1 }, { key: 'shared.weight', rank: 2 }],
      downloadUrl: 'https://huggingface.co/XLabs-AI/xflux_text_encoders',
    },
    {
      id: 'clip', label: 'CLIP ViT-L/14 text encoder', repo: 'openai/clip-vit-large-patch14', kind: 'folder', path: '',
      requiredFiles: [['config.json'], ['model.safetensors'], ['tokenizer.json', 'vocab.json']],
      approxBytes: 1.71 * GB, probeKey: 'text_model.final_layer_norm.weight',
      shapeChecks: [{ key: 'text_model.final_layer_norm.weight', rank: 1 }, { key: 'text_model.embeddings.token_embedding.weight', rank: 2 }],
      downloadUrl: 'https://huggingface.co/openai/clip-vit-large-patch14',
    },
    {
      id: 'uno_lora', label: 'UNO LoRA', repo: 'bytedance-research/UNO', kind: 'file', path: 'dit_lora.safetensors',
      approxBytes: 1.91 * GB, optional: true, probeKey: 'double_blocks.0.processor.qkv_lora1.down.weight',
      downloadUrl: 'https://huggingface.co/bytedance-research/UNO',
    },
    {
      id: 'umo_lora', label: 'UMO LoRA for UNO', repo: 'bytedance-research/UMO', kind: 'file', path: 'UMO_UNO.safetensors',
      approxBytes: 1.91 * GB, optional: true, probeKey: 'double_blocks.0.processor.qkv_lora1.down.weight',
      downloadUrl: 'https://huggingface.co/bytedance-research/UMO',
    },
  ],
};

/** OmniGen2 (spec/pipelines.md §1.3, §1.4): the `OmniGen2/OmniGen2` repo's sub-folders plus UMO's PEFT LoRA. */
export const OMNIGEN2_MANIFEST: BackboneManifest = {
  backbone: 'omnigen2',
  label: 'OmniGen2',
  components: [
    {
      id: 'transformer', label: 'OmniGen2 transformer', repo: 'OmniGen2/OmniGen2', kind: 'folder', path: 'transformer',
      requiredFiles: [['config.json'], ['diffusion_pytorch_model.safetensors', 'diffusion_pytorch_model.safetensors.index.json']],
      approxBytes: 7.9 * GB, probeKey: 'x_embedder.weight',
      downloadUrl: 'https://huggingface.co/OmniGen2/OmniGen2',
    },
    {
      id: 'vae', label: 'OmniGen2 VAE (FLUX, diffusers format)', repo: 'OmniGen2/OmniGen2', kind: 'folder', path: 'vae',
      requiredFiles: [['config.json'], ['diffusion_pytorch_model.safetensors']],
      approxBytes: 168 * MB, probeKey: 'decoder.conv_in.weight',
      downloadUrl: 'https://huggingface.co/OmniGen2/OmniGen2',
    },
    {
      id: 'mllm', label: 'Qwen2.5-VL (OmniGen2 mllm)', repo: 'OmniGen2/OmniGen2', kind: 'folder', path: 'mllm',
      requiredFiles: [['config.json'], ['model.safetensors.index.json', 'model.safetensors']],
      approxBytes: 7.5 * GB, probeKey: 'model.norm.weight',
      downloadUrl: 'https://huggingface.co/OmniGen2/OmniGen2',
    },
    {
      id: 'processor', label: 'Qwen2.5-VL processor (tokenizer)', repo: 'OmniGen2/OmniGen2', kind: 'folder', path: 'processor',
      requiredFiles: [['tokenizer.json']], holdsWeights: false, approxBytes: 15.9 * MB,
      downloadUrl: 'https://huggingface.co/OmniGen2/OmniGen2',
    },
    {
      id: 'scheduler', label: 'OmniGen2 scheduler config', repo: 'OmniGen2/OmniGen2', kind: 'folder', path: 'scheduler',
      requiredFiles: [['scheduler_config.json']], holdsWeights: false, approxBytes: 1e3, optional: true,
      downloadUrl: 'https://huggingface.co/OmniGen2/OmniGen2',
    },
    {
      id: 'umo_lora', label: 'UMO LoRA for OmniGen2', repo: 'bytedance-research/UMO', kind: 'file', path: 'UMO_OmniGen2.safetensors',
      approxBytes: 0.65 * GB, optional: true,
      downloadUrl: 'https://huggingface.co/bytedance-research/UMO',
    },
  ],
};

export const MANIFESTS: Record<BackboneId, BackboneManifest | undefined> = {
  uno: UNO_MANIFEST,
  omnigen2: OMNIGEN2_MANIFEST,
};
