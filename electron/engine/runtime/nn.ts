// Building blocks shared by the networks in engine/models/: each emits a few ONNX nodes under
// the checkpoint module path of the weights it uses. Compute is float32; weights stored as
// bf16/f16 are cast inside the graph (constant-folded by ORT at session creation).
// Linear layers follow the storage of the Weights they are given (runtime/quantized-bake.ts):
// a quantized `<module>.weight` becomes one com.microsoft.MatMulNBits node, and a bake made for
// fp16 GPU graphs runs the other Linears as fp16 MatMuls between two Casts.
import { type Weights } from './safetensors.js';
import { type GraphBuilder, type Value, float } from './graph.js';
import { TensorDataType } from './onnx-proto.js';
import { type QuantizedLinearInfo, accuracyLevelFor, linearComputeOf, quantizedLinearOf } from './matmul-nbits.js';

export const FLOAT = TensorDataType.FLOAT;
export const FLOAT16 = TensorDataType.FLOAT16;
export const INT64 = TensorDataType.INT64;

/** The checkpoint tensor `key` as float32 (Cast node when stored in another float dtype). */
export function weightF32(b: GraphBuilder, ck: Weights, key: string): Value {
  const info = ck.info(key);
  const w = b.weight(info);
  if (info.dtype === 'F32') return w;
  return b.scope(key.slice(0, key.lastIndexOf('.')), () => b.op('Cast', [w], { to: FLOAT }, { name: `Cast_${key.slice(key.lastIndexOf('.') + 1)}` }));
}

/** `x @ W^T` for a quantized weight: one MatMulNBits node (float32 A, float32 scales). */
function matMulNBits(b: GraphBuilder, ck: Weights, q: QuantizedLinearInfo, x: Value): Value {
  const inputs: Array<Value | null> = [x, b.weight(ck.info(q.qweightKey)), b.weight(ck.info(q.scalesKey))];
  if (q.zeroPointsKey) inputs.push(b.weight(ck.info(q.zeroPointsKey)));
  return b.op('MatMulNBits', inputs,
    { K: q.k, N: q.n, bits: q.bits, block_size: q.blockSize, accuracy_level: accuracyLevelFor(q.bits) },
    { domain: 'com.microsoft' });
}

/**
 * `x @ W^T` in float16 (GPU graphs only: the CPU EP has no fp16 MatMul on x64): x is cast to
 * fp16, the weight is cast to fp16 (constant-folded at session creation when stored otherwise),
 * and the product is cast back to float32, so the precision islands around it stay fp32.
 */
function matMulF16(b: GraphBuilder, ck: Weights, wKey: string, x: Value): Value {
  const info = ck.info(wKey);
  let w = b.weight(info);
  if (info.dtype !== 'F16') w = b.op('Cast', [w], { to: FLOAT16 }, { name: 'Cast_weight_f16' });
  const wt = b.op('Transpose', [w], { perm: [1, 0] }, { name: 'Transpose' });
  const xh = b.op('Cast', [x], { to: FLOAT16 }, { name: 'Cast_input_f16' });
  const y = b.op('MatMul', [xh, wt], {}, { name: 'MatMul' });
  return b.op('Cast', [y], { to: FLOAT }, { name: 'Cast_output_f32' });
}

/**
 * torch `nn.Linear` at `modulePath` (weight [out, in], optional bias [out]): y = x W^T + b.
 * The weight's storage in `ck` decides the product: MatMulNBits when quantized, an fp16 MatMul in
 * fp16 GPU bakes, else a float32 MatMul. The bias is always added in float32.
 */
export function linear(b: GraphBuilder, ck: Weights, modulePath: string, x: Value): Value {
  return b.scope(modulePath, () => {
    const wKey = `${modulePath}.weight`;
    const shape = ck.info(wKey).shape;
    if (shape.length !== 2) throw new Error(`${ck.path}: "${wKey}" has shape [${shape.join(', ')}], expected a 2-D Linear weight`);
    const q = quantizedLinearOf(ck, wKey);
    let y: Value;
    if (q) {
      y = matMulNBits(b, ck, q, x);
    } else if (linearComputeOf(ck) === 'float16') {
      y = matMulF16(b, ck, wKey, x);
    } else {
      const w = weightF32(b, ck, wKey);
      const wt = b.op('Transpose', [w], { perm: [1, 0] });
      y = b.op('MatMul', [x, wt]);
    }
    const bKey = `${modulePath}.bias`;
    if (ck.has(bKey)) y = b.op('Add', [y, weightF32(b, ck, bKey)]);
    return y;
  });
}

/** LayerNorm over the last axis of size `dim`; affine from `modulePath` when given, else none. */
export function layerNorm(b: GraphBuilder, ck: Weights | null, x: Value, dim: number, eps: number, modulePath?: string): Value {
  const run = () => {
    const scale = modulePath && ck ? weightF32(b, ck, `${modulePath}.weight`) : b.floats(new Array(dim).fill(1));
    const bias = modulePath && ck && ck.has(`${modulePath}.bias`) ? weightF32(b, ck, `${modulePath}.bias`) : null;
    return b.op('LayerNormalization', bias ? [x, scale, bias] : [x, scale], { axis: -1, epsilon: float(eps) });
  };
  return modulePath ? b.scope(modulePath, run) : run();
}

/** RMSNorm over the last axis, in float32, with a learnable scale tensor `scaleKey`. */
export function rmsNorm(b: GraphBuilder, ck: Weights, x: Value, scaleKey: string, eps: number): Value {
  const scale = weightF32(b, ck, scaleKey);
  return b.scope(scaleKey.slice(0, scaleKey.lastIndexOf('.')), () =>
    b.op('SimplifiedLayerNormalization', [x, scale], { axis: -1, epsilon: float(eps), stash_type: 1 }));
}

export function silu(b: GraphBuilder, x: Value): Value {
  return b.op('Mul', [x, b.op('Sigmoid', [x])], {}, { name: 'SiLU' });
}

export function geluTanh(b: GraphBuilder, x: Value): Value {
  return b.op('Gelu', [x], { approximate: 'tanh' });
}

export function geluErf(b: GraphBuilder, x: Value): Value {
  return b.op('Gelu', [x]);
}

/** x * sigmoid(1.702 x), CLIP's quick_gelu. */
export function quickGelu(b: GraphBuilder, x: Value): Value {
  return b.op('QuickGelu', [x], { alpha: float(1.702) }, { domain: 'com.microsoft' });
}

/**
 * com.microsoft.MultiHeadAttention with separate Q, K, V of shape [B, S, heads*headDim]
 * (tiled on CPU, never materialises S x S). Optional key padding mask [B, S_kv] int32 (1 = keep).
 */
export function multiHeadAttention(b: GraphBuilder, q: Value, k: Value, v: Value, heads: number, scale?: number, keyPaddingMask?: Value): Value {
  const attrs: Record<string, ReturnType<typeof float> | number> = { num_heads: heads };
  if (scale !== undefined) attrs.scale = float(scale);
  const inputs: Array<Value | null> = [q, k, v];
  if (keyPaddingMask) inputs.push(null, keyPaddingMask);
  return b.op('MultiHeadAttention', inputs, attrs, { domain: 'com.microsoft' });
}

/** Conv2d at `modulePath` (weight [out, in, kh, kw], optional bias), NCHW. */
export function conv2d(b: GraphBuilder, ck: Weights, modulePath: string, x: Value,
  opts: { stride?: number; pads?: [number, number, number, number] } = {}): Value {
  return b.scope(modulePath, () => {
    const wKey = `${modulePath}.weight`;
    const shape = ck.info(wKey).shape;
    if (shape.length !== 4) throw new Error(`${ck.path}: "${wKey}" has shape [${shape.join(', ')}], expected a 4-D Conv2d weight`);
    const kh = shape[2];
    const kw = shape[3];
    const pads = opts.pads ?? [Math.floor(kh / 2), Math.floor(kw / 2), Math.floor(kh / 2), Math.floor(kw / 2)];
    const inputs = [x, weightF32(b, ck, wKey)];
    if (ck.has(`${modulePath}.bias`)) inputs.push(weightF32(b, ck, `${modulePath}.bias`));
    const s = opts.stride ?? 1;
    return b.op('Conv', inputs, { kernel_shape: [kh, kw], strides: [s, s], pads });
  });
}

/**
 * GroupNorm over a 4-D NCHW tensor as Reshape -> InstanceNormalization -> Reshape -> affine: the
 * CPU EP has no GroupNormalization kernel and this form measured faster than the decomposed
 * opset-21 op. [B, C, H, W] is viewed as [B, groups, C/groups·H, W] (InstanceNormalization
 * normalises over every axis after the second) and back with constant shapes only: a Shape of
 * the input would become Shape + an int64 Gather under the WebGPU EP's NHWC layout transform,
 * and that Gather has no WebGPU kernel.
 */
export function groupNorm(b: GraphBuilder, ck: Weights, modulePath: string, x: Value, groups: number, eps: number): Value {
  return b.scope(modulePath, () => {
    const channels = ck.info(`${modulePath}.weight`).shape[0];
    if (channels % groups !== 0) throw new Error(`${ck.path}: "${modulePath}" has ${channels} channels, not divisible into ${groups} groups`);
    const grouped = b.op('Reshape', [x, b.ints([0, groups, -1, 0])]);
    const ones = b.floats(new Array(groups).fill(1));
    const zeros = b.floats(new Array(groups).fill(0));
    const normed = b.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: float(eps) });
    const back = b.op('Reshape', [normed, b.ints([0, channels, -1, 0])]);
    const w = b.op('Reshape', [weightF32(b, ck, `${modulePath}.weight`), b.ints([1, channels, 1, 1])], {}, { name: 'ReshapeWeight' });
    const bias = b.op('Reshape', [weightF32(b, ck, `${modulePath}.bias`), b.ints([1, channels, 1, 1])], {}, { name: 'ReshapeBias' });
    return b.op('Add', [b.op('Mul', [back, w]), bias]);
  });
}

/** Split the last axis into `sizes` parts. */
export function splitLast(b: GraphBuilder, x: Value, sizes: readonly number[]): Value[] {
  return b.opN('Split', [x, b.ints(sizes)], sizes.length, { axis: -1 });
}
