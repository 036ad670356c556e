// Placeholder: being implemented (see the engine foundation issue).
import type { TensorMap } from '../runtime/tensor.js';
import type { EvalOptions } from './networks.js';
export async function evalVaeEncode(_checkpoint: string, _inputs: TensorMap, _opts: EvalOptions): Promise<TensorMap> {
  throw new Error('evalVaeEncode: not implemented yet');
}
export async function evalVaeDecode(_checkpoint: string, _inputs: TensorMap, _opts: EvalOptions): Promise<TensorMap> {
  throw new Error('evalVaeDecode: not implemented yet');
}
