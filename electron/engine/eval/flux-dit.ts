// Placeholder: being implemented (see the engine foundation issue).
import type { TensorMap } from '../runtime/tensor.js';
import type { EvalOptions } from './networks.js';
export async function evalFluxDit(_checkpoint: string, _inputs: TensorMap, _opts: EvalOptions): Promise<TensorMap> {
  throw new Error('evalFluxDit: not implemented yet');
}
