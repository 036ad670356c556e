// Multi-axis rotary position embedding (FLUX "EmbedND" style): each token carries one position
// per axis, axis `a` owns `axesDim[a]` channels of every head, and channel pairs (2k, 2k+1)
// are rotated (interleaved layout). Tables are computed on the host in float64 from the
// position ids (as the reference does) and handed to the graph in float32.
import { type GraphBuilder, type Value } from '../runtime/graph.js';

/** Per-token rotation tables, row-major [tokens, sum(axesDim)/2]. */
export interface RopeTables {
  readonly cos: Float32Array;
  readonly sin: Float32Array;
  readonly tokens: number;
  /** Pairs per head: sum(axesDim) / 2. */
  readonly pairs: number;
}

/** Anything holding `tokens * axes` position values, token-major. */
export type PositionIds = ArrayLike<number> | BigInt64Array;

function positionAt(ids: PositionIds, i: number): number {
  return Number((ids as ArrayLike<number | bigint>)[i]);
}

/**
 * cos/sin tables for positions `ids` ([tokens, axes], token-major). For axis a with d = axesDim[a]
 * and k < d/2: omega_k = 1 / theta^(2k/d), angle = pos_a * omega_k, all in float64.
 */
export function ropeTables(ids: PositionIds, axesDim: readonly number[], theta: number): RopeTables {
  const axes = axesDim.length;
  if (ids.length % axes !== 0) {
    throw new Error(`ropeTables: ${ids.length} position values is not a whole number of ${axes}-axis tokens`);
  }
  for (const d of axesDim) {
    if (!Number.isInteger(d) || d <= 0 || d % 2 !== 0) throw new Error(`ropeTables: axis dims must be positive even integers, got [${axesDim.join(', ')}]`);
  }
  const tokens = ids.length / axes;
  const pairs = axesDim.reduce((a, d) => a + d, 0) / 2;
  const omegas = axesDim.map((d) => Float64Array.from({ length: d / 2 }, (_, k) => 1 / theta ** ((2 * k) / d)));
  const cos = new Float32Array(tokens * pairs);
  const sin = new Float32Array(tokens * pairs);
  for (let t = 0; t < tokens; t++) {
    let col = t * pairs;
    for (let a = 0; a < axes; a++) {
      const pos = positionAt(ids, t * axes + a);
      if (!Number.isFinite(pos)) throw new Error(`ropeTables: position of token ${t}, axis ${a} is not finite (${pos})`);
      for (const w of omegas[a]) {
        const angle = pos * w;
        cos[col] = Math.cos(angle);
        sin[col] = Math.sin(angle);
        col++;
      }
    }
  }
  return { cos, sin, tokens, pairs };
}

/**
 * Rotate the interleaved channel pairs of every head of `x` [B, S, heads*headDim] by per-token
 * tables `cos`/`sin` [S, headDim/2] (com.microsoft.RotaryEmbedding; `startPosition` is a
 * constant int64 [1] = 0, so row s of the tables serves token s).
 */
export function applyRope(b: GraphBuilder, x: Value, cos: Value, sin: Value, heads: number, startPosition: Value, name: string): Value {
  return b.op('RotaryEmbedding', [x, startPosition, cos, sin], { interleaved: 1, num_heads: heads }, { domain: 'com.microsoft', name });
}
