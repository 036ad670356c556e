// The weights one network runs with, as its memory plan says: quantized bakes (int8 / int4
// MatMulNBits, with the LoRA merged in float32 first) or fp16 Linears on a GPU through
// quantizedWeights; at full precision the LoRA bake in the checkpoint's own dtype (what the
// reference pipelines run) or the checkpoint itself, memory-mapped.
import type { Weights } from '../runtime/safetensors.js';
import type { BakeCache } from '../runtime/bake-cache.js';
import type { DeviceKind, PrecisionChoice } from '../runtime/weight-bytes.js';
import { QuantizedWeights, type QuantLoraSource, type RoleOf, quantizedWeights } from '../runtime/quantized-bake.js';
import type { ExecutionProvider } from '../runtime/sessions.js';

export interface PreparedWeights {
  weights: Weights;
  /** End the use of any bake file (it becomes evictable). */
  release(): void;
}

export interface ComponentWeightsArgs {
  base: Weights;
  choice: PrecisionChoice;
  device: DeviceKind;
  roleOf: RoleOf;
  /** Opened only when something is baked. */
  cache: () => BakeCache;
  lora?: QuantLoraSource | null;
  /** The full-precision LoRA bake (the checkpoint's dtype), used when nothing is quantized. */
  floatLoraBake?: () => Promise<PreparedWeights>;
  onProgress?: (done: number, total: number) => void;
}

/** Whether a precision choice needs weights rewritten for the graph (MatMulNBits or fp16 Linears). */
export function needsPrecisionBake(choice: PrecisionChoice, device: DeviceKind): boolean {
  return choice.precision === 'int8' || choice.precision === 'int4' || choice.quantizeModulation === true
    || (choice.precision === 'fp16' && device === 'gpu');
}

export async function componentWeights(a: ComponentWeightsArgs): Promise<PreparedWeights> {
  if (needsPrecisionBake(a.choice, a.device)) {
    const q = await quantizedWeights({
      base: a.base, lora: a.lora ?? null, choice: a.choice, roleOf: a.roleOf, cache: a.cache(), device: a.device,
      onProgress: a.onProgress ? (done, total) => a.onProgress!(done, total) : undefined,
    });
    return { weights: q.weights, release: () => q.release() };
  }
  if (a.lora && a.floatLoraBake) return a.floatLoraBake();
  return { weights: a.base, release: () => undefined };
}

/**
 * The weights to build a graph for `ep`: fp16 Linears exist only for GPU EPs (the CPU EP has no
 * fp16 MatMul on x64), so a GPU job that fell back to the CPU builds float32 Linears instead.
 */
export function weightsForEp(w: Weights, ep: ExecutionProvider): Weights {
  return ep === 'cpu' && w instanceof QuantizedWeights ? w.withLinearCompute('float32') : w;
}
