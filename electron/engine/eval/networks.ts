// The networks `umo-studio eval` can run, each reading named input tensors (the names the golden
// case files use) and returning named outputs under the golden names.
import type { ExecutionProvider } from '../runtime/sessions.js';
import type { TensorMap } from '../runtime/tensor.js';

export interface EvalOptions {
  ep: ExecutionProvider;
}

export interface EvalNetwork {
  readonly summary: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  run(checkpoint: string, inputs: TensorMap, opts: EvalOptions): Promise<TensorMap>;
}

export const EVAL_NETWORKS = {
  'flux-dit': {
    summary: 'FLUX DiT (BFL keys) with UNO reference tokens',
    inputs: ['img', 'img_ids', 'txt', 'txt_ids', 'vec', 'timesteps', 'guidance', 'ref_img.<i>', 'ref_img_ids.<i>'],
    outputs: ['output'],
    run: async (ck, inputs, opts) => (await import('./flux-dit.js')).evalFluxDit(ck, inputs, opts),
  },
  t5: {
    summary: 'T5 v1.1 encoder (HF T5EncoderModel keys)',
    inputs: ['input_ids'],
    outputs: ['last_hidden_state'],
    run: async (ck, inputs, opts) => (await import('./text-encoders.js')).evalT5(ck, inputs, opts),
  },
  clip: {
    summary: 'CLIP text encoder (HF CLIPTextModel / CLIPModel keys)',
    inputs: ['input_ids'],
    outputs: ['pooler_output', 'last_hidden_state'],
    run: async (ck, inputs, opts) => (await import('./text-encoders.js')).evalClip(ck, inputs, opts),
  },
  'vae-encode': {
    summary: 'FLUX VAE encoder (BFL ae.safetensors or diffusers AutoencoderKL); optional randn_eps samples the posterior',
    inputs: ['image', 'randn_eps (optional)'],
    outputs: ['encoder_moments', 'latent_dist_mean', 'latent_dist_logvar', 'latent_mean_scaled', 'latent_sampled_scaled', 'encode_vae_output'],
    run: async (ck, inputs, opts) => (await import('./autoencoder.js')).evalVaeEncode(ck, inputs, opts),
  },
  'vae-decode': {
    summary: 'FLUX VAE decoder (BFL ae.safetensors or diffusers AutoencoderKL)',
    inputs: ['decode_input_latent | decode_input'],
    outputs: ['decoded', 'decoded_from_latent_mean (when latent_mean_scaled is given)'],
    run: async (ck, inputs, opts) => (await import('./autoencoder.js')).evalVaeDecode(ck, inputs, opts),
  },
  'qwen25vl-text': {
    summary: 'Qwen2.5-VL language model, text only (HF Qwen2_5_VLForConditionalGeneration keys), as OmniGen2 conditions on it',
    inputs: ['input_ids', 'attention_mask (optional)'],
    outputs: ['hidden_states_last', 'hidden_states_first'],
    run: async (ck, inputs, opts) => (await import('./qwen2-text.js')).evalQwen2Text(ck, inputs, opts),
  },
  'omnigen2-transformer': {
    summary: 'OmniGen2 transformer (diffusers keys): refiners, Omni-RoPE, references, padded batches',
    inputs: ['latents', 'timestep', 'text_hidden_states', 'text_attention_mask (optional)', 'ref.<i>.<j>'],
    outputs: ['output'],
    run: async (ck, inputs, opts) => (await import('./omnigen2-transformer.js')).evalOmniGen2Transformer(ck, inputs, opts),
  },
} satisfies Record<string, EvalNetwork>;

export type EvalNetworkName = keyof typeof EVAL_NETWORKS;

export function isEvalNetwork(s: string): s is EvalNetworkName {
  return Object.prototype.hasOwnProperty.call(EVAL_NETWORKS, s);
}
