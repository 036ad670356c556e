// `umo-studio eval t5` / `eval clip`: one text-encoder forward from golden-named tensors.
// The checkpoint is an HF folder (config.json + model.safetensors, or shards + index) or a
// safetensors file / index with config.json beside it. Input: input_ids [B, L] (int64).
// Outputs: t5 -> last_hidden_state [B, L, d_model]; clip -> pooler_output [B, hidden] and
// last_hidden_state [B, L, hidden].
import { Checkpoint } from '../runtime/safetensors.js';
import { type TensorMap, f32, requireI64 } from '../runtime/tensor.js';
import { T5Encoder } from '../models/t5-encoder.js';
import { ClipTextEncoder } from '../models/clip-text.js';
import type { EvalOptions } from './networks.js';

function tokenIds(inputs: TensorMap, where: string): { ids: BigInt64Array; batch: number; len: number } {
  const t = requireI64(inputs, 'input_ids', where);
  if (t.shape.length !== 2) throw new Error(`${where}: input "input_ids" has shape [${t.shape.join(', ')}], expected [batch, length]`);
  return { ids: t.data, batch: t.shape[0], len: t.shape[1] };
}

export async function evalT5(checkpoint: string, inputs: TensorMap, opts: EvalOptions): Promise<TensorMap> {
  const { ids, batch, len } = tokenIds(inputs, 'eval t5');
  const enc = await T5Encoder.create(Checkpoint.open(checkpoint), { ep: opts.ep });
  try {
    const y = await enc.encode(ids, batch, len);
    return new Map([['last_hidden_state', f32(y, [batch, len, enc.config.dModel])]]);
  } finally {
    await enc.release();
  }
}

export async function evalClip(checkpoint: string, inputs: TensorMap, opts: EvalOptions): Promise<TensorMap> {
  const { ids, batch, len } = tokenIds(inputs, 'eval clip');
  const enc = await ClipTextEncoder.create(Checkpoint.open(checkpoint), { ep: opts.ep });
  try {
    const { pooled, hidden } = await enc.encode(ids, batch, len);
    const d = enc.config.hidden;
    return new Map([
      ['pooler_output', f32(pooled, [batch, d])],
      ['last_hidden_state', f32(hidden, [batch, len, d])],
    ]);
  } finally {
    await enc.release();
  }
}
