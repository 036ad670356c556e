// Size discovery from checkpoint keys and shapes, with errors that name the checkpoint and key.
import { type Weights, SafetensorsError } from '../runtime/safetensors.js';

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Number of numbered sub-modules `<prefix>.<i>.*` (e.g. `encoder.block`). The indices must run
 * 0..n-1 without gaps; a gap means a truncated or mixed checkpoint.
 */
export function countNumberedModules(w: Weights, prefix: string): number {
  const re = new RegExp(`^${escapeRegExp(prefix)}\\.(\\d+)\\.`);
  const found = new Set<number>();
  for (const k of w.keys()) {
    const m = re.exec(k);
    if (m) found.add(Number(m[1]));
  }
  const n = found.size === 0 ? 0 : Math.max(...found) + 1;
  for (let i = 0; i < n; i++) {
    if (!found.has(i)) {
      const have = [...found].sort((a, b) => a - b).join(', ');
      throw new SafetensorsError(w.path, `has no tensors for "${prefix}.${i}" (found ${prefix}.{${have}}); the checkpoint is incomplete`);
    }
  }
  return n;
}

/** The shape of `key`, which must have `rank` dimensions. */
export function shapeOfRank(w: Weights, key: string, rank: number): readonly number[] {
  const s = w.shape(key);
  if (s.length !== rank) {
    throw new SafetensorsError(w.path, `tensor "${key}" has shape [${s.join(', ')}], expected a ${rank}-D tensor`);
  }
  return s;
}

/** Check every tensor of `expected` exists with exactly that shape (errors name the key). */
export function validateShapes(w: Weights, expected: ReadonlyMap<string, readonly number[]>): void {
  for (const [key, shape] of expected) w.expectShape(key, shape);
}
