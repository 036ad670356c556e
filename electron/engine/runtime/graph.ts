// A small typed DSL that builds an ONNX ModelProto in memory. Weights are initializers stored as
// external data pointing into the original safetensors files (memory-mapped by ORT); node names
// follow checkpoint module paths (`/double_blocks.3/img_attn/qkv/MatMul`).
import path from 'node:path';
import { type DType, type TensorInfo, elementCount } from './safetensors.js';
import {
  type AttributeObj, type ModelObj, type NodeObj, type TensorObj, type ValueInfoObj,
  AttributeType, TensorDataType, type TensorDataTypeName, encodeModel,
} from './onnx-proto.js';

export const ONNX_OPSET = 23;
export const MS_OPSET = 1;
/** IR version 11 goes with opset 23 (onnx 1.18); ORT 1.30 accepts IR <= 13. */
export const ONNX_IR_VERSION = 11;
export const PRODUCER = 'umo-studio';

export type ElemType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

const ELEM: Record<ElemType, TensorDataTypeName> = {
  float32: 'FLOAT', float16: 'FLOAT16', bfloat16: 'BFLOAT16', float64: 'DOUBLE',
  int64: 'INT64', int32: 'INT32', int8: 'INT8', uint8: 'UINT8', bool: 'BOOL',
};

export function elemTypeCode(t: ElemType): number {
  return TensorDataType[ELEM[t]];
}

/** safetensors dtype -> ONNX element type (only those ONNX can hold). */
export function elemTypeOfDType(d: DType): ElemType {
  const map: Partial<Record<DType, ElemType>> = {
    F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64',
    I64: 'int64', I32: 'int32', I8: 'int8', U8: 'uint8', BOOL: 'bool',
  };
  const t = map[d];
  if (!t) throw new Error(`safetensors dtype ${d} has no ONNX equivalent supported here`);
  return t;
}

/** A tensor-valued edge in the graph. `type` is known for inputs, weights and constants. */
export interface Value {
  readonly name: string;
  readonly type?: ElemType;
}

/** Attribute values: integers become INT(S), strings STRING; wrap floats with `float()`/`floats()`. */
export type Attr =
  | number | string | readonly number[]
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'floats'; readonly value: readonly number[] };

export const float = (value: number): Attr => ({ kind: 'float', value });
export const floats = (value: readonly number[]): Attr => ({ kind: 'floats', value });

export type Dim = number | string;

export interface OpOptions {
  domain?: string;
  /** Last path segment of the node name (defaults to the op type). */
  name?: string;
}

/** The result of `GraphBuilder.build()`: model bytes plus where ORT finds the external data. */
export interface BuiltModel {
  readonly name: string;
  readonly bytes: Uint8Array;
  /** Folder that every external-data `location` is relative to (real path). */
  readonly externalDataDir: string | null;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Elements held by initializers (external and inline). */
  readonly parameterCount: number;
  /** Bytes of external weights as stored on disk. */
  readonly externalBytes: number;
  readonly nodeCount: number;
}

function toNumberArray(v: readonly number[]): number[] {
  return v.map((x) => x);
}

function attrObj(name: string, v: Attr): AttributeObj {
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: Buffer.from(v, 'utf8') };
  if (typeof v === 'number') {
    return Number.isInteger(v) ? { name, type: AttributeType.INT, i: v } : { name, type: AttributeType.FLOAT, f: v };
  }
  if (Array.isArray(v)) {
    const arr = v as readonly number[];
    if (arr.every((x) => Number.isInteger(x))) return { name, type: AttributeType.INTS, ints: toNumberArray(arr) };
    return { name, type: AttributeType.FLOATS, floats: toNumberArray(arr) };
  }
  const w = v as { kind: 'float' | 'floats'; value: number | readonly number[] };
  if (w.kind === 'float') return { name, type: AttributeType.FLOAT, f: w.value as number };
  return { name, type: AttributeType.FLOATS, floats: toNumberArray(w.value as readonly number[]) };
}

/** "double_blocks.3.img_attn.qkv" -> ["double_blocks.3", "img_attn", "qkv"]. */
export function modulePathSegments(modulePath: string): string[] {
  const parts = modulePath.split('.').filter((p) => p.length > 0);
  const out: string[] = [];
  for (const p of parts) {
    if (/^\d+$/.test(p) && out.length > 0) out[out.length - 1] += `.${p}`;
    else out.push(p);
  }
  return out;
}

export class GraphBuilder {
  private readonly nodes: NodeObj[] = [];
  private readonly initializers: TensorObj[] = [];
  /** External initializers by (file, offset, length, dtype, shape). */
  private readonly initializerByKey = new Map<string, Value>();
  private readonly weightNames = new Set<string>();
  private readonly inputs: ValueInfoObj[] = [];
  private readonly outputs: ValueInfoObj[] = [];
  private readonly usedNodeNames = new Set<string>();
  private readonly externalFiles = new Set<string>();
  private readonly scopeStack: string[] = [];
  private readonly pending: Array<{ tensor: TensorObj; file: string; offset: number; length: number }> = [];
  private parameterCount = 0;
  private externalBytes = 0;
  private constCounter = 0;
  private usesMs = false;

  constructor(readonly name: string, private readonly metadata: Record<string, string> = {}) {}

  /** Run `fn` with a module path pushed onto the node-name scope ("double_blocks.3.img_attn"). */
  scope<T>(modulePath: string, fn: () => T): T {
    const segs = modulePathSegments(modulePath);
    this.scopeStack.push(...segs);
    try {
      return fn();
    } finally {
      this.scopeStack.splice(this.scopeStack.length - segs.length, segs.length);
    }
  }

  get currentScope(): string {
    return `/${this.scopeStack.join('/')}`;
  }

  input(name: string, type: ElemType, dims: readonly Dim[]): Value {
    this.inputs.push(valueInfo(name, type, dims));
    return { name, type };
  }

  /** Declare a graph output; inserts an Identity when the value has another name. */
  output(value: Value, name: string, type: ElemType, dims: readonly Dim[]): void {
    let v = value;
    if (v.name !== name) {
      const nodeName = this.uniqueNodeName(`/${name}/Identity`);
      this.nodes.push({ name: nodeName, opType: 'Identity', input: [v.name], output: [name], attribute: [], domain: '' });
      v = { name, type };
    }
    this.outputs.push(valueInfo(v.name, type, dims));
  }

  /**
   * An initializer backed by bytes in a safetensors file; the checkpoint key is its name. The same
   * bytes asked for twice give the same initializer; a different tensor under an already used key
   * (two checkpoints with overlapping key names) gets a suffixed name instead of aliasing.
   */
  weight(info: TensorInfo): Value {
    const identity = `${info.file}\0${info.byteOffset}\0${info.byteLength}\0${info.dtype}\0${info.shape.join(',')}`;
    const existing = this.initializerByKey.get(identity);
    if (existing) return existing;
    const type = elemTypeOfDType(info.dtype);
    let name = info.name;
    for (let k = 1; this.weightNames.has(name); k++) name = `${info.name}__${k}`;
    this.weightNames.add(name);
    const tensor: TensorObj = {
      name,
      dims: [...info.shape],
      dataType: elemTypeCode(type),
      dataLocation: 1,
      externalData: [],
    };
    this.pending.push({ tensor, file: info.file, offset: info.byteOffset, length: info.byteLength });
    this.externalFiles.add(info.file);
    this.initializers.push(tensor);
    this.parameterCount += elementCount(info.shape);
    this.externalBytes += info.byteLength;
    const v: Value = { name, type };
    this.initializerByKey.set(identity, v);
    return v;
  }

  /** An inline constant initializer. */
  constant(data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Int8Array | Uint16Array,
    dims: readonly number[], type?: ElemType, name?: string): Value {
    const t: ElemType = type ?? inferType(data);
    const n = elementCount(dims);
    if (n !== data.length) throw new Error(`constant ${name ?? ''}: ${data.length} values for dims [${dims.join(',')}]`);
    const nm = name ?? `${this.currentScope === '/' ? '' : this.currentScope}/const_${this.constCounter++}`;
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    this.initializers.push({ name: nm, dims: [...dims], dataType: elemTypeCode(t), rawData: raw });
    this.parameterCount += n;
    return { name: nm, type: t };
  }

  scalar(x: number, type: ElemType = 'float32'): Value {
    if (type === 'float32') return this.constant(new Float32Array([x]), [], 'float32');
    if (type === 'int64') return this.constant(new BigInt64Array([BigInt(x)]), [], 'int64');
    throw new Error(`scalar: unsupported type ${type}`);
  }

  /** A 1-D int64 constant (shapes, axes, starts/ends). */
  ints(values: readonly number[]): Value {
    return this.constant(BigInt64Array.from(values, (v) => BigInt(v)), [values.length], 'int64');
  }

  floats(values: readonly number[], dims?: readonly number[]): Value {
    return this.constant(Float32Array.from(values), dims ?? [values.length], 'float32');
  }

  /** Emit one node with a single output. Empty-string inputs mark omitted optional inputs. */
  op(opType: string, inputs: ReadonlyArray<Value | null>, attrs: Record<string, Attr | undefined> = {}, opts: OpOptions = {}): Value {
    return this.opN(opType, inputs, 1, attrs, opts)[0];
  }

  /** Emit one node with `nOutputs` outputs. */
  opN(opType: string, inputs: ReadonlyArray<Value | null>, nOutputs: number,
    attrs: Record<string, Attr | undefined> = {}, opts: OpOptions = {}): Value[] {
    const nodeName = this.uniqueNodeName(`${this.currentScope === '/' ? '' : this.currentScope}/${opts.name ?? opType}`);
    const domain = opts.domain ?? '';
    if (domain === 'com.microsoft') this.usesMs = true;
    const outputs = Array.from({ length: nOutputs }, (_, i) => `${nodeName}/output_${i}`);
    const attribute: AttributeObj[] = [];
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) attribute.push(attrObj(k, v));
    this.nodes.push({
      name: nodeName, opType, domain,
      input: inputs.map((v) => (v ? v.name : '')),
      output: outputs, attribute,
    });
    return outputs.map((name) => ({ name }));
  }

  /** `base`, or `base_1`, `base_2`, ... when taken; the result is reserved. */
  private uniqueNodeName(base: string): string {
    let nodeName = base;
    for (let k = 1; this.usedNodeNames.has(nodeName); k++) nodeName = `${base}_${k}`;
    this.usedNodeNames.add(nodeName);
    return nodeName;
  }

  build(): BuiltModel {
    let dir: string | null = null;
    if (this.externalFiles.size > 0) {
      dir = commonDirectory([...this.externalFiles].map((f) => path.dirname(f)));
      for (const p of this.pending) {
        const rel = path.relative(dir, p.file).split(path.sep).join('/');
        p.tensor.externalData = [
          { key: 'location', value: rel },
          { key: 'offset', value: String(p.offset) },
          { key: 'length', value: String(p.length) },
        ];
      }
    }
    const opsetImport = [{ domain: '', version: ONNX_OPSET }];
    if (this.usesMs) opsetImport.push({ domain: 'com.microsoft', version: MS_OPSET });
    const model: ModelObj = {
      irVersion: ONNX_IR_VERSION,
      producerName: PRODUCER,
      producerVersion: '0.1.0',
      opsetImport,
      metadataProps: Object.entries(this.metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
    return {
      name: this.name,
      bytes: encodeModel(model),
      externalDataDir: dir,
      inputNames: this.inputs.map((i) => i.name),
      outputNames: this.outputs.map((o) => o.name),
      parameterCount: this.parameterCount,
      externalBytes: this.externalBytes,
      nodeCount: this.nodes.length,
    };
  }
}

function inferType(data: ArrayBufferView): ElemType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  throw new Error('constant: pass an explicit element type for this array type');
}

function valueInfo(name: string, type: ElemType, dims: readonly Dim[]): ValueInfoObj {
  return {
    name,
    type: {
      tensorType: {
        elemType: elemTypeCode(type),
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** Deepest folder containing all of `dirs` (all absolute real paths). */
export function commonDirectory(dirs: readonly string[]): string {
  if (dirs.length === 0) throw new Error('commonDirectory: no directories given');
  const split = dirs.map((d) => path.resolve(d).split(path.sep));
  const first = split[0];
  let n = first.length;
  for (const s of split.slice(1)) {
    let i = 0;
    while (i < n && i < s.length && s[i] === first[i]) i++;
    n = i;
  }
  const joined = first.slice(0, n).join(path.sep);
  return joined === '' ? path.sep : joined;
}
