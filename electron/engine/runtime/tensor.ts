// Host-side tensors: what pipelines, the eval CLI and tests pass around, convertible to and from
// ORT tensors and safetensors files.
import ort from 'onnxruntime-node';
import { type Checkpoint, type DType, type TensorToWrite, elementCount } from './safetensors.js';

export type HostDType = 'float32' | 'int64' | 'float16' | 'int32' | 'uint8' | 'bool';
export type HostData = Float32Array | BigInt64Array | Uint16Array | Int32Array | Uint8Array;

export interface HostTensor {
  readonly dtype: HostDType;
  readonly shape: readonly number[];
  readonly data: HostData;
}

export type TensorMap = Map<string, HostTensor>;

export function f32(data: Float32Array, shape: readonly number[]): HostTensor {
  if (elementCount(shape) !== data.length) throw new Error(`f32: ${data.length} values for shape [${shape.join(',')}]`);
  return { dtype: 'float32', shape, data };
}

export function i64(data: BigInt64Array, shape: readonly number[]): HostTensor {
  if (elementCount(shape) !== data.length) throw new Error(`i64: ${data.length} values for shape [${shape.join(',')}]`);
  return { dtype: 'int64', shape, data };
}

export function toOrt(t: HostTensor): ort.Tensor {
  return new ort.Tensor(t.dtype, t.data as never, t.shape as number[]);
}

export function fromOrt(t: ort.Tensor): HostTensor {
  return { dtype: t.type as HostDType, shape: [...t.dims], data: t.data as HostData };
}

const TO_ST: Record<HostDType, DType> = { float32: 'F32', int64: 'I64', float16: 'F16', int32: 'I32', uint8: 'U8', bool: 'BOOL' };

export function toSafetensors(map: TensorMap): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  for (const [k, t] of map) out[k] = { dtype: TO_ST[t.dtype], shape: t.shape, data: t.data };
  return out;
}

/** Read every tensor of a checkpoint: floats as float32, integers as int64. */
export function readAllTensors(ck: Checkpoint): TensorMap {
  const out: TensorMap = new Map();
  for (const k of ck.keys()) {
    const info = ck.info(k);
    if (['I64', 'I32', 'U8', 'BOOL'].includes(info.dtype)) out.set(k, i64(ck.readInt64(k), info.shape));
    else out.set(k, f32(ck.readFloat32(k), info.shape));
  }
  return out;
}

/** Get a float32 tensor by name or explain which name was expected. */
export function requireF32(map: TensorMap, name: string, where: string): HostTensor & { data: Float32Array } {
  const t = map.get(name);
  if (!t) throw new Error(`${where}: missing input tensor "${name}" (have: ${[...map.keys()].join(', ') || 'none'})`);
  if (t.dtype !== 'float32') throw new Error(`${where}: input "${name}" is ${t.dtype}, expected float32`);
  return t as HostTensor & { data: Float32Array };
}

export function requireI64(map: TensorMap, name: string, where: string): HostTensor & { data: BigInt64Array } {
  const t = map.get(name);
  if (!t) throw new Error(`${where}: missing input tensor "${name}" (have: ${[...map.keys()].join(', ') || 'none'})`);
  if (t.dtype !== 'int64') throw new Error(`${where}: input "${name}" is ${t.dtype}, expected int64`);
  return t as HostTensor & { data: BigInt64Array };
}
