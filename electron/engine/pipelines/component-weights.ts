// The weights one network runs with, as its memory plan says: quantized bakes (int8 / int4
// MatMulNBits, with the LoRA merged in float32 first) or fp16 Linears on a GPU through
// quantizedWeights; at full precision the LoRA bake in the checkpoint's own dtype (what the
// reference pipelines run) or the checkpoint itself, memory-mapped.
import path from 'node:path';
import type { Weights } from '../runtime/safetensors.js';
import { BakeCache } from '../runtime/bake-cache.js';
import type { DeviceKind, PrecisionChoice } from '../runtime/weight-bytes.js';
import { QuantizedWeights, type QuantLoraSource, type RoleOf, quantizedWeights } from '../runtime/quantized-bake.js';
import type { ExecutionProvider } from '../runtime/sessions.js';
import type { JobPlan } from './job-plan.js';
import type { PhaseTracker } from './pipeline-context.js';

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

export interface WeightPreparerOptions {
  job: JobPlan;
  tracker: PhaseTracker;
  cacheDir: string;
  cacheLimitBytes: number;
  /** The backbone's full-precision LoRA bake (UNO processor format or PEFT). */
  floatLoraBake: (base: Weights, lora: QuantLoraSource, cache: BakeCache, onProgress: (done: number, total: number) => void) => Promise<PreparedWeights>;
}

/** Step 2 of a pipeline: each network's weights at its planned precision, with progress; all bakes released together. */
export class WeightPreparer {
  private readonly held: PreparedWeights[] = [];

  constructor(private readonly o: WeightPreparerOptions) {}

  private cache = (): BakeCache => BakeCache.open({ dir: path.join(this.o.cacheDir, 'bakes'), maxBytes: this.o.cacheLimitBytes });

  async prepare(network: string, base: Weights, label: string, lora: QuantLoraSource | null = null): Promise<Weights> {
    const { job, tracker } = this.o;
    const choice = job.precision(network);
    const loraName = lora ? path.basename(lora.file) : null;
    if (lora || needsPrecisionBake(choice, job.device)) tracker.phase('loading', `${label}${loraName ? ` + LoRA ${loraName}` : ''} (${choice.precision})`);
    const prepared = await componentWeights({
      base, choice, device: job.device, roleOf: job.roleOf(network), cache: this.cache, lora,
      floatLoraBake: lora ? () => this.o.floatLoraBake(base, lora, this.cache(), tracker.bakeProgress(loraName!)) : undefined,
      onProgress: tracker.bakeProgress(`${label} ${choice.precision}${loraName ? ` + ${loraName}` : ''}`),
    });
    this.held.push(prepared);
    return prepared.weights;
  }

  releaseAll(): void {
    for (const p of this.held.splice(0)) p.release();
  }
}
