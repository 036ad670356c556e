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
      downloadUrl: 'https://huggingface.co/black-forest-labs/FLUX.1-dev',
      note: 'gated repo: accept the FLUX.1-dev licence on Hugging Face first',
    },
    {
      id: 'ae', label: 'FLUX autoencoder', repo: 'black-forest-labs/FLUX.1-dev', kind: 'file',
      path: 'ae.safetensors', approxBytes: 335 * MB, probeKey: 'decoder.conv_in.weight',
      downloadUrl: 'https://huggingface.co/black-forest-labs/FLUX.1-dev',
    },
    {
      id: 't5', label: 'T5-XXL text encoder', repo: 'xlabs-ai/xflux_text_encoders', kind: 'folder', path: '',
      requiredFiles: [['config.json'], ['model.safetensors.index.json', 'model.safetensors'], ['spiece.model', 'tokenizer.json']],
      approxBytes: 9.52 * GB, probeKey: 'encoder.final_layer_norm.weight',
      downloadUrl: 'https://huggingface.co/XLabs-AI/xflux_text_encoders',
    },
    {
      id: 'clip', label: 'CLIP ViT-L/14 text encoder', repo: 'openai/clip-vit-large-patch14', kind: 'folder', path: '',
      requiredFiles: [['config.json'], ['model.safetensors'], ['tokenizer.json', 'vocab.json']],
      approxBytes: 1.71 * GB, probeKey: 'text_model.final_layer_norm.weight',
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

export const MANIFESTS: Record<BackboneId, BackboneManifest | undefined> = {
  uno: UNO_MANIFEST,
  omnigen2: undefined,
};
