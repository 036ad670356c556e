// Placeholder: being implemented (see the engine foundation issue).
import type { TensorMap } from '../runtime/tensor.js';
import type { EvalOptions } from './networks.js';
export async function evalT5(_checkpoint: string, _inputs: TensorMap, _opts: EvalOptions): Promise<TensorMap> {
  throw new Error('evalT5: not implemented yet');
}
export async function evalClip(_checkpoint: string, _inputs: TensorMap, _opts: EvalOptions): Promise<TensorMap> {
  throw new Error('evalClip: not implemented yet');
}
