// `umo-studio eval vae-encode` / `eval vae-decode`: one VAE encoder or decoder forward from
// golden-named tensors. The checkpoint is a BFL `ae.safetensors` or a diffusers AutoencoderKL
// (file or folder; a config.json inside the folder or beside the file supplies scale/shift).
//
// vae-encode: image [B, 3, H, W] in [-1, 1] (+ optional randn_eps [B, z, h, w]) ->
//   encoder_moments, latent_dist_mean, latent_dist_logvar (clamped for diffusers keys),
//   latent_mean_scaled = scale·(mean − shift), and with randn_eps the scaled posterior sample
//   scale·(mean + exp(0.5·logvar)·eps − shift) under both golden names
//   (latent_sampled_scaled: UNO, encode_vae_output: OmniGen2).
// vae-decode: decode_input_latent (a scaled DiT latent, UNO's `ae.decode` input) -> decoded =
//   decoder(latent/scale + shift); or decode_input (OmniGen2: the tensor given to diffusers
//   `vae.decode`, already unscaled by the pipeline) -> decoded = decoder(decode_input). With
//   latent_mean_scaled (scaled) also decoded_from_latent_mean.
import { Checkpoint } from '../runtime/safetensors.js';
import { type HostTensor, type TensorMap, f32, requireF32 } from '../runtime/tensor.js';
import { VaeDecoder, VaeEncoder, samplePosterior, scaleLatent } from '../models/autoencoder.js';
import type { EvalOptions } from './networks.js';

export async function evalVaeEncode(checkpoint: string, inputs: TensorMap, opts: EvalOptions): Promise<TensorMap> {
  const where = 'eval vae-encode';
  const image = requireF32(inputs, 'image', where);
  const enc = await VaeEncoder.create(Checkpoint.open(checkpoint), { ep: opts.ep });
  try {
    const r = await enc.encode(image.data, image.shape);
    const [batch, z, h, w] = r.shape;
    const latentShape = [batch, z, h, w];
    const out: TensorMap = new Map([
      ['encoder_moments', f32(r.moments, [batch, 2 * z, h, w])],
      ['latent_dist_mean', f32(r.mean, latentShape)],
      ['latent_dist_logvar', f32(r.logvar, latentShape)],
      ['latent_mean_scaled', f32(scaleLatent(r.mean, enc.config), latentShape)],
    ]);
    if (inputs.has('randn_eps')) {
      const eps = requireF32(inputs, 'randn_eps', where);
      if (eps.shape.length !== 4 || eps.shape.some((d, i) => d !== latentShape[i])) {
        throw new Error(`${where}: input "randn_eps" has shape [${eps.shape.join(', ')}], expected the latent shape [${latentShape.join(', ')}]`);
      }
      const sampled = f32(scaleLatent(samplePosterior(r, eps.data), enc.config), latentShape);
      out.set('latent_sampled_scaled', sampled);
      out.set('encode_vae_output', sampled);
    }
    return out;
  } finally {
    await enc.release();
  }
}

/** The decode input and whether it is a scaled DiT latent (true) or decoder-space z (false). */
function latentInput(inputs: TensorMap, where: string): { t: HostTensor & { data: Float32Array }; scaled: boolean } {
  if (inputs.has('decode_input_latent')) return { t: requireF32(inputs, 'decode_input_latent', where), scaled: true };
  if (inputs.has('decode_input')) return { t: requireF32(inputs, 'decode_input', where), scaled: false };
  throw new Error(`${where}: missing input tensor "decode_input_latent" (scaled latent) or "decode_input" (decoder-space z) (have: ${[...inputs.keys()].join(', ') || 'none'})`);
}

export async function evalVaeDecode(checkpoint: string, inputs: TensorMap, opts: EvalOptions): Promise<TensorMap> {
  const where = 'eval vae-decode';
  const { t: latent, scaled } = latentInput(inputs, where);
  const dec = await VaeDecoder.create(Checkpoint.open(checkpoint), { ep: opts.ep });
  try {
    const out: TensorMap = new Map();
    const y = scaled ? await dec.decodeLatent(latent.data, latent.shape) : await dec.decode(latent.data, latent.shape);
    out.set('decoded', f32(y.image, y.shape));
    if (inputs.has('latent_mean_scaled')) {
      const m = requireF32(inputs, 'latent_mean_scaled', where);
      const ym = await dec.decodeLatent(m.data, m.shape);
      out.set('decoded_from_latent_mean', f32(ym.image, ym.shape));
    }
    return out;
  } finally {
    await dec.release();
  }
}
