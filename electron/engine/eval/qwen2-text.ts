// `umo-studio eval qwen25vl-text`: one forward of the Qwen2.5-VL language model on text only, from
// golden-named tensors. The checkpoint is an HF folder (config.json + model.safetensors or shards +
// index) or a safetensors file / index with config.json beside it.
// Inputs: input_ids [B, L] int64, attention_mask [B, L] (int64; optional, default all ones).
// Outputs: hidden_states_last [B, L, hidden] (final-norm states) and hidden_states_first [B, L,
// hidden] (token embeddings). Positions and the causal + padding mask are derived from the mask.
// Image/video inputs (the chat pipeline's path) are refused.
import { Checkpoint } from '../runtime/safetensors.js';
import { type HostTensor, type TensorMap, f32, requireI64 } from '../runtime/tensor.js';
import { Qwen2TextModel } from '../models/qwen2-text.js';
import type { EvalOptions } from './networks.js';

const WHERE = 'eval qwen25vl-text';

function maskOf(inputs: TensorMap, batch: number, len: number): ArrayLike<number | bigint> {
  const t: HostTensor | undefined = inputs.get('attention_mask');
  if (!t) return new Uint8Array(batch * len).fill(1);
  const sameShape = t.shape.length === 2 && t.shape[0] === batch && t.shape[1] === len;
  if (!sameShape) throw new Error(`${WHERE}: input "attention_mask" has shape [${t.shape.join(', ')}], expected [${batch}, ${len}] like input_ids`);
  if (t.dtype === 'float16') throw new Error(`${WHERE}: input "attention_mask" must be an integer or float32 tensor, got float16`);
  return t.data as ArrayLike<number | bigint>;
}

export async function evalQwen2Text(checkpoint: string, inputs: TensorMap, opts: EvalOptions): Promise<TensorMap> {
  for (const name of ['pixel_values', 'image_grid_thw', 'pixel_values_videos', 'video_grid_thw']) {
    if (inputs.has(name)) throw new Error(`${WHERE}: input "${name}" given, but only the text-only path is implemented (OmniGen2's generation pipeline feeds the MLLM text only)`);
  }
  const ids = requireI64(inputs, 'input_ids', WHERE);
  if (ids.shape.length !== 2) throw new Error(`${WHERE}: input "input_ids" has shape [${ids.shape.join(', ')}], expected [batch, length]`);
  const [batch, len] = ids.shape;
  const mask = maskOf(inputs, batch, len);
  const model = await Qwen2TextModel.create(Checkpoint.open(checkpoint), { ep: opts.ep });
  try {
    const { lastHidden, embeddings } = await model.forward(ids.data, mask, batch, len, { embeddings: true });
    const shape = [batch, len, model.config.hidden];
    return new Map([
      ['hidden_states_last', f32(lastHidden, shape)],
      ['hidden_states_first', f32(embeddings!, shape)],
    ]);
  } finally {
    await model.release();
  }
}
