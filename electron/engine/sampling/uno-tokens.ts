// UNO's latent packing and position ids ("UnoPE", spec/pipelines.md §3.2): 2×2 patches with the
// channel slowest, noise ids (0, row, col), and each reference offset diagonally below-right of
// the previous canvas (pe = 'd').

import { patchify, unpatchify } from './patchify.js';

/** [C, H, W] latent (batch 1) -> [(H/2)(W/2), C*4] tokens, `c (h ph) (w pw) -> (h w) (c ph pw)`. */
export function packLatent(latent: Float32Array, channels: number, height: number, width: number): Float32Array {
  return patchify(latent, channels, height, width, 2, 'channel-slowest', 'packLatent');
}

/** Inverse of packLatent. */
export function unpackLatent(tokens: Float32Array, channels: number, height: number, width: number): Float32Array {
  return unpatchify(tokens, channels, height, width, 2, 'channel-slowest', 'unpackLatent');
}

/** Position ids [(H/2)(W/2), 3] = (0, row + rowOffset, col + colOffset) for a latent of H×W. */
export function latentIds(height: number, width: number, rowOffset = 0, colOffset = 0): Float32Array {
  const h2 = height / 2;
  const w2 = width / 2;
  const ids = new Float32Array(h2 * w2 * 3);
  for (let i = 0; i < h2; i++) {
    for (let j = 0; j < w2; j++) {
      const k = (i * w2 + j) * 3;
      ids[k + 1] = i + rowOffset;
      ids[k + 2] = j + colOffset;
    }
  }
  return ids;
}

export interface LatentSize {
  readonly height: number;
  readonly width: number;
}

/**
 * Ids of each reference (pe = 'd'): the first starts at (h/2, w/2) of the target latent, each next
 * one further by the previous reference's (h_k/2, w_k/2).
 */
export function referenceIds(target: LatentSize, refs: readonly LatentSize[]): Float32Array[] {
  let dRow = target.height / 2;
  let dCol = target.width / 2;
  return refs.map((r) => {
    const ids = latentIds(r.height, r.width, dRow, dCol);
    dRow += r.height / 2;
    dCol += r.width / 2;
    return ids;
  });
}

/** Text ids: zeros [tokens, 3]. */
export function textIds(tokens: number): Float32Array {
  return new Float32Array(tokens * 3);
}
