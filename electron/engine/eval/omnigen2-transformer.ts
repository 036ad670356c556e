// `umo-studio eval omnigen2-transformer`: one OmniGen2 transformer forward from golden-named
// tensors, called as `OmniGen2Pipeline.predict` calls the model. The checkpoint is the diffusers
// `transformer/` folder (config.json + safetensors) or a safetensors file with config.json beside it.
// Inputs: latents [B, C, h, w], timestep [B] (0 = noise → 1 = data), text_hidden_states [B, L, D],
// text_attention_mask [B, L] (right-padded; optional, default all ones), ref.<i>.<j> [C, h_j, w_j]
// (reference j of sample i, no batch axis; numbered from 0 without gaps per sample).
// Output: output [B, C_out, h, w].
import { Checkpoint } from '../runtime/safetensors.js';
import { type HostTensor, type TensorMap, f32, requireF32 } from '../runtime/tensor.js';
import { type OmniGen2ForwardInputs, type OmniGen2Latent, OmniGen2Transformer } from '../models/omnigen2-transformer.js';
import type { EvalOptions } from './networks.js';

const WHERE = 'eval omnigen2-transformer';

function shapeError(name: string, t: HostTensor, expected: string): Error {
  return new Error(`${WHERE}: input "${name}" has shape [${t.shape.join(', ')}], expected ${expected}`);
}

/** `ref.<i>.<j>` tensors grouped per sample, checked for gaps. */
function referencesOf(inputs: TensorMap, batch: number): OmniGen2Latent[][] {
  const found = new Map<number, Set<number>>();
  for (const k of inputs.keys()) {
    if (!k.startsWith('ref.')) continue;
    const m = /^ref\.(\d+)\.(\d+)$/.exec(k);
    if (!m) throw new Error(`${WHERE}: input "${k}" is not named ref.<sample>.<index>`);
    const i = Number(m[1]);
    if (i >= batch) throw new Error(`${WHERE}: input "${k}" is for sample ${i}, but the batch has ${batch} samples`);
    if (!found.has(i)) found.set(i, new Set());
    found.get(i)!.add(Number(m[2]));
  }
  return Array.from({ length: batch }, (_, i) => {
    const idx = found.get(i) ?? new Set<number>();
    return Array.from({ length: idx.size }, (_, j) => {
      const name = `ref.${i}.${j}`;
      if (!idx.has(j)) throw new Error(`${WHERE}: references of sample ${i} must be numbered from 0 without gaps; "${name}" is missing`);
      const t = requireF32(inputs, name, WHERE);
      if (t.shape.length !== 3) throw shapeError(name, t, '[channels, height, width] (no batch axis)');
      return { data: t.data, height: t.shape[1], width: t.shape[2] };
    });
  });
}

function textMaskOf(inputs: TensorMap, batch: number, len: number): ArrayLike<number | bigint> {
  const t = inputs.get('text_attention_mask');
  if (!t) return new Uint8Array(batch * len).fill(1);
  if (t.shape.length !== 2 || t.shape[0] !== batch || t.shape[1] !== len) throw shapeError('text_attention_mask', t, `[${batch}, ${len}] like text_hidden_states`);
  if (t.dtype === 'float16') throw new Error(`${WHERE}: input "text_attention_mask" must be an integer or float32 tensor, got float16`);
  return t.data as ArrayLike<number | bigint>;
}

/** The transformer's forward inputs from golden-named tensors (validated; names as in the header). */
export function omniGen2ForwardInputsOf(inputs: TensorMap): OmniGen2ForwardInputs {
  const latents = requireF32(inputs, 'latents', WHERE);
  if (latents.shape.length !== 4) throw shapeError('latents', latents, '[batch, channels, height, width]');
  const [batch, , height, width] = latents.shape;
  const timestep = requireF32(inputs, 'timestep', WHERE);
  if (timestep.data.length !== batch) throw shapeError('timestep', timestep, `[${batch}] (one per sample)`);
  const text = requireF32(inputs, 'text_hidden_states', WHERE);
  if (text.shape.length !== 3 || text.shape[0] !== batch) throw shapeError('text_hidden_states', text, `[${batch}, length, text_dim]`);
  const textLen = text.shape[1];
  return {
    latents: latents.data, height, width,
    timesteps: Array.from(timestep.data),
    text: text.data, textLen, textMask: textMaskOf(inputs, batch, textLen),
    refs: referencesOf(inputs, batch),
  };
}

export async function evalOmniGen2Transformer(checkpoint: string, inputs: TensorMap, opts: EvalOptions): Promise<TensorMap> {
  const fwd = omniGen2ForwardInputsOf(inputs);
  const latents = inputs.get('latents')!;
  const text = inputs.get('text_hidden_states')!;
  const [batch, , height, width] = latents.shape;
  const model = await OmniGen2Transformer.create(Checkpoint.open(checkpoint), { ep: opts.ep });
  try {
    const cfg = model.config;
    if (latents.shape[1] !== cfg.inChannels) throw shapeError('latents', latents, `${cfg.inChannels} channels (in_channels of the checkpoint)`);
    if (text.shape[2] !== cfg.textDim) throw shapeError('text_hidden_states', text, `width ${cfg.textDim} (text_feat_dim of the checkpoint)`);
    const out = await model.forward(fwd);
    return new Map([['output', f32(out, [batch, cfg.outChannels, height, width])]]);
  } finally {
    await model.release();
  }
}
