// Token-id handling shared by the text encoders: id validation and the embedding lookup.
import { type Weights } from '../runtime/safetensors.js';
import { type GraphBuilder, type Value } from '../runtime/graph.js';
import { FLOAT, weightF32 } from '../runtime/nn.js';

/**
 * Rows of the embedding table `key` for `ids`, as float32. With `inStoredDtype` a bf16/f16 table
 * is gathered as stored and only the gathered rows are cast (no fp32 copy of the whole table);
 * otherwise the table is cast first (constant-folded; for EPs without bf16 Gather, e.g. WebGPU).
 */
export function embeddingLookup(b: GraphBuilder, w: Weights, key: string, ids: Value, inStoredDtype: boolean): Value {
  const info = w.info(key);
  const modulePath = key.slice(0, key.lastIndexOf('.'));
  if (info.dtype !== 'F32' && !inStoredDtype) {
    const table = weightF32(b, w, key);
    return b.scope(modulePath, () => b.op('Gather', [table, ids]));
  }
  return b.scope(modulePath, () => {
    const rows = b.op('Gather', [b.weight(info), ids]);
    return info.dtype === 'F32' ? rows : b.op('Cast', [rows], { to: FLOAT });
  });
}

/** Check token ids against the vocabulary (ORT's Gather would fail with a less helpful message). */
export function checkTokenIds(where: string, ids: BigInt64Array, batch: number, len: number, vocab: number): void {
  if (!Number.isInteger(batch) || !Number.isInteger(len) || batch < 1 || len < 1) {
    throw new Error(`${where}: batch ${batch} and length ${len} must be positive integers`);
  }
  if (ids.length !== batch * len) throw new Error(`${where}: ${ids.length} token ids, expected batch ${batch} × length ${len} = ${batch * len}`);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0n || ids[i] >= BigInt(vocab)) {
      throw new Error(`${where}: token id ${ids[i]} at position ${i} is outside the vocabulary [0, ${vocab})`);
    }
  }
}
