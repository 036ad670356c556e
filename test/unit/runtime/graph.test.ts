// GraphBuilder: build models, decode the bytes with the ONNX schema and check what ORT will read
// (opsets, IR version, node names from module scopes, attributes, symbolic dims, inline
// constants, external-data initializers); then run a model whose weights live in two folders and
// a Hugging Face cache blob on the CPU EP and compare with a JS reference.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GraphBuilder, MS_OPSET, ONNX_IR_VERSION, ONNX_OPSET, PRODUCER,
  commonDirectory, elemTypeOfDType, float, floats, modulePathSegments,
} from '../../../electron/engine/runtime/graph.js';
import { AttributeType, TensorDataType, decodeModel, type ModelObj, type TensorObj } from '../../../electron/engine/runtime/onnx-proto.js';
import { Checkpoint, writeSafetensorsFile, f32ToBf16Bits, f32ToF16Bits, bf16ToF32, f16BitsToF32 } from '../../../electron/engine/runtime/safetensors.js';
import { createSession } from '../../../electron/engine/runtime/sessions.js';

let tmp: string;
beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'umo-graph-test-')));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function nodeNames(m: ModelObj): string[] {
  return m.graph.node.map((n) => n.name);
}

function initializer(m: ModelObj, name: string): TensorObj {
  const t = m.graph.initializer.find((i) => i.name === name);
  if (!t) throw new Error(`no initializer ${name} (have ${m.graph.initializer.map((i) => i.name).join(', ')})`);
  return t;
}

/** A fresh ArrayBuffer with the bytes (decoded fields may be views into a shared pool). */
function copy(bytes: Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}

function externalData(t: TensorObj): Record<string, string> {
  return Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
}

describe('model header', () => {
  it('imports ai.onnx 23 only, IR version 11, producer and metadata', () => {
    const b = new GraphBuilder('plain', { 'umo.kind': 'test' });
    const x = b.input('x', 'float32', [2]);
    b.output(b.op('Relu', [x]), 'y', 'float32', [2]);
    const built = b.build();
    const m = decodeModel(built.bytes);
    expect(m.irVersion).toBe(ONNX_IR_VERSION);
    expect(m.irVersion).toBe(11);
    expect(m.opsetImport).toEqual([{ domain: '', version: ONNX_OPSET }]);
    expect(ONNX_OPSET).toBe(23);
    expect(m.producerName).toBe(PRODUCER);
    expect(m.metadataProps).toEqual([{ key: 'umo.kind', value: 'test' }]);
    expect(m.graph.name).toBe('plain');
    expect(built.name).toBe('plain');
    expect(built.externalDataDir).toBeNull();
    expect(built.inputNames).toEqual(['x']);
    expect(built.outputNames).toEqual(['y']);
  });

  it('imports com.microsoft 1 exactly when a node uses it', () => {
    const b = new GraphBuilder('ms');
    const x = b.input('x', 'float32', [2]);
    b.output(b.op('QuickGelu', [x], { alpha: float(1.702) }, { domain: 'com.microsoft' }), 'y', 'float32', [2]);
    const m = decodeModel(b.build().bytes);
    expect(m.opsetImport).toEqual([{ domain: '', version: 23 }, { domain: 'com.microsoft', version: MS_OPSET }]);
    expect(MS_OPSET).toBe(1);
    expect(m.graph.node[0].domain).toBe('com.microsoft');
  });
});

describe('node names', () => {
  it('follow checkpoint module paths, numeric segments stay with their parent', () => {
    expect(modulePathSegments('double_blocks.3.img_attn.qkv')).toEqual(['double_blocks.3', 'img_attn', 'qkv']);
    expect(modulePathSegments('a.0.1.b')).toEqual(['a.0.1', 'b']);
    expect(modulePathSegments('0.a')).toEqual(['0', 'a']);
    expect(modulePathSegments('a..b.')).toEqual(['a', 'b']);
    expect(modulePathSegments('')).toEqual([]);

    const b = new GraphBuilder('names');
    const x = b.input('x', 'float32', [2, 2]);
    let y = b.scope('double_blocks.3.img_attn.qkv', () => b.op('MatMul', [x, x]));
    y = b.scope('double_blocks.3', () => b.scope('img_attn', () => b.scope('qkv', () => b.op('MatMul', [y, x]))));
    y = b.scope('double_blocks.3.img_attn.qkv', () => b.op('MatMul', [y, x]));
    y = b.scope('double_blocks.3.img_attn.qkv', () => b.op('Add', [y, x], {}, { name: 'MatMul' }));
    y = b.scope('double_blocks.3.img_attn.qkv', () => b.op('Relu', [y], {}, { name: 'MatMul_1' }));
    const z = b.op('Relu', [y]);
    const w = b.op('Relu', [z]);
    b.output(w, 'out', 'float32', [2, 2]);
    const m = decodeModel(b.build().bytes);
    expect(nodeNames(m)).toEqual([
      '/double_blocks.3/img_attn/qkv/MatMul',
      '/double_blocks.3/img_attn/qkv/MatMul_1',
      '/double_blocks.3/img_attn/qkv/MatMul_2',
      '/double_blocks.3/img_attn/qkv/MatMul_3',
      '/double_blocks.3/img_attn/qkv/MatMul_1_1', // explicit name that collides is suffixed too
      '/Relu',
      '/Relu_1',
      '/out/Identity',
    ]);
    expect(new Set(nodeNames(m)).size).toBe(m.graph.node.length);
    // Outputs are named after their node, so they are unique as well, and wired in order.
    expect(m.graph.node[1].input).toEqual(['/double_blocks.3/img_attn/qkv/MatMul/output_0', 'x']);
    expect(m.graph.node[7]).toMatchObject({ opType: 'Identity', input: ['/Relu_1/output_0'], output: ['out'] });
  });

  it('Identity nodes inserted for outputs take part in name de-duplication', () => {
    const b = new GraphBuilder('identity-names');
    const x = b.input('x', 'float32', [1]);
    b.output(x, 'out', 'float32', [1]);
    const y = b.scope('out', () => b.op('Identity', [x]));
    b.output(y, 'out2', 'float32', [1]);
    const names = nodeNames(decodeModel(b.build().bytes));
    expect(names).toEqual(['/out/Identity', '/out/Identity_1', '/out2/Identity']);
  });

  it('the scope is popped even when the body throws', () => {
    const b = new GraphBuilder('throws');
    expect(() => b.scope('blocks.1.attn', () => { throw new Error('boom'); })).toThrow('boom');
    expect(b.currentScope).toBe('/');
    b.scope('a.b', () => expect(b.currentScope).toBe('/a/b'));
  });

  it('an output that already has its name gets no Identity; multi-output nodes name outputs by index', () => {
    const b = new GraphBuilder('multi');
    const x = b.input('x', 'float32', [4]);
    const [p, q] = b.scope('split', () => b.opN('Split', [x, b.ints([2, 2])], 2, { axis: 0 }));
    b.output(p, 'p', 'float32', [2]);
    b.output(q, q.name, 'float32', [2]);
    const m = decodeModel(b.build().bytes);
    expect(m.graph.node.map((n) => n.opType)).toEqual(['Split', 'Identity']);
    expect(m.graph.node[0].output).toEqual(['/split/Split/output_0', '/split/Split/output_1']);
    expect(m.graph.output.map((o) => o.name)).toEqual(['p', '/split/Split/output_1']);
    expect(m.graph.node[0].input[1]).toBe('/split/const_0');
  });

  it('omitted optional inputs are empty strings', () => {
    const b = new GraphBuilder('opt');
    const x = b.input('x', 'float32', [4]);
    b.output(b.op('Clip', [x, null, b.scalar(1)]), 'y', 'float32', [4]);
    expect(decodeModel(b.build().bytes).graph.node[0].input).toEqual(['x', '', '/const_0']);
  });
});

describe('attributes', () => {
  it('encodes int, float, ints, floats and string attributes with their types', () => {
    const b = new GraphBuilder('attrs');
    const x = b.input('x', 'float32', [1]);
    b.output(b.op('Custom', [x], {
      axis: -1,
      big: 2 ** 40,
      eps: float(1e-6),
      one: float(1),
      half: 0.5,
      perm: [0, 2, 1, 3],
      empty: [],
      scales: floats([1, 2.5, -3]),
      mixed: [1, 2.5],
      mode: 'linear',
      unicode: 'größe',
      skipped: undefined,
    }), 'y', 'float32', [1]);
    const attrs = Object.fromEntries(decodeModel(b.build().bytes).graph.node[0].attribute.map((a) => [a.name, a]));
    expect(Object.keys(attrs).sort()).toEqual(['axis', 'big', 'empty', 'eps', 'half', 'mixed', 'mode', 'one', 'perm', 'scales', 'unicode']);
    expect(attrs.axis).toMatchObject({ type: AttributeType.INT, i: -1 });
    expect(attrs.big).toMatchObject({ type: AttributeType.INT, i: 2 ** 40 });
    expect(attrs.eps.type).toBe(AttributeType.FLOAT);
    expect(attrs.eps.f).toBe(Math.fround(1e-6));
    expect(attrs.one).toMatchObject({ type: AttributeType.FLOAT, f: 1 });
    expect(attrs.half).toMatchObject({ type: AttributeType.FLOAT, f: 0.5 });
    expect(attrs.perm).toMatchObject({ type: AttributeType.INTS, ints: [0, 2, 1, 3] });
    expect(attrs.empty).toMatchObject({ type: AttributeType.INTS, ints: [] });
    expect(attrs.scales).toMatchObject({ type: AttributeType.FLOATS, floats: [1, 2.5, -3] });
    expect(attrs.mixed).toMatchObject({ type: AttributeType.FLOATS, floats: [1, 2.5] });
    expect(attrs.mode.type).toBe(AttributeType.STRING);
    expect(Buffer.from(attrs.mode.s!).toString('utf8')).toBe('linear');
    expect(Buffer.from(attrs.unicode.s!).toString('utf8')).toBe('größe');
  });
});

describe('inputs, outputs and inline constants', () => {
  it('symbolic and fixed dims with element types', () => {
    const b = new GraphBuilder('io');
    const x = b.input('latents', 'float16', ['batch', 'seq', 64]);
    const ids = b.input('ids', 'int64', ['batch', 3]);
    b.output(x, 'latents_out', 'float16', ['batch', 'seq', 64]);
    b.output(ids, 'ids_out', 'int64', []);
    const m = decodeModel(b.build().bytes);
    const [lat, idv] = m.graph.input;
    expect(lat.name).toBe('latents');
    expect(lat.type.tensorType.elemType).toBe(TensorDataType.FLOAT16);
    const dims = lat.type.tensorType.shape!.dim;
    expect(dims[0].dimParam).toBe('batch');
    expect(dims[1].dimParam).toBe('seq');
    expect(dims[2].dimValue).toBe(64);
    expect(idv.type.tensorType.elemType).toBe(TensorDataType.INT64);
    expect(idv.type.tensorType.shape!.dim.map((d) => d.dimParam || d.dimValue)).toEqual(['batch', 3]);
    expect(m.graph.output[1].type.tensorType.shape!.dim).toEqual([]);
  });

  it('inline constants hold raw little-endian bytes, named inside the current scope', () => {
    const b = new GraphBuilder('consts');
    const c0 = b.ints([1, -2, 3]);
    const c1 = b.scope('blocks.2.norm', () => b.floats([0.5, -1.25], [2, 1]));
    const c2 = b.scalar(7, 'int64');
    const c3 = b.constant(Uint16Array.from([0x3c00]), [1], 'float16', 'one_half');
    const c4 = b.scalar(2.5);
    expect([c0.type, c1.type, c2.type, c3.type, c4.type]).toEqual(['int64', 'float32', 'int64', 'float16', 'float32']);
    const x = b.input('x', 'float32', [1]);
    b.output(b.op('Add', [x, c4]), 'y', 'float32', [1]);
    const built = b.build();
    expect(built.parameterCount).toBe(3 + 2 + 1 + 1 + 1);
    const m = decodeModel(built.bytes);
    expect(m.graph.initializer.map((i) => i.name)).toEqual(['/const_0', '/blocks.2/norm/const_1', '/const_2', 'one_half', '/const_3']);
    const t0 = initializer(m, '/const_0');
    expect(t0).toMatchObject({ dims: [3], dataType: TensorDataType.INT64 });
    expect([...new BigInt64Array(copy(t0.rawData!))]).toEqual([1n, -2n, 3n]);
    const t1 = initializer(m, '/blocks.2/norm/const_1');
    expect(t1).toMatchObject({ dims: [2, 1], dataType: TensorDataType.FLOAT });
    expect([...new Float32Array(copy(t1.rawData!))]).toEqual([0.5, -1.25]);
    expect(initializer(m, '/const_2').dims).toEqual([]);
    expect(initializer(m, 'one_half').dataType).toBe(TensorDataType.FLOAT16);
    expect(t0.externalData ?? []).toEqual([]);
    expect(t0.dataLocation ?? 0).toBe(0);
  });

  it('constants copy their data and check the element count', () => {
    const b = new GraphBuilder('copy');
    const data = Float32Array.from([1, 2]);
    b.constant(data, [2]);
    data[0] = 99;
    expect([...new Float32Array(copy(decodeModel(b.build().bytes).graph.initializer[0].rawData!))]).toEqual([1, 2]);
    expect(() => b.constant(Float32Array.from([1, 2, 3]), [2, 2], undefined, 'bad')).toThrow(/constant bad: 3 values for dims \[2,2\]/);
    expect(() => b.constant(new Uint16Array(1), [1])).toThrow(/explicit element type/);
    expect(() => b.scalar(1, 'bool')).toThrow(/unsupported type bool/);
  });

  it('maps safetensors dtypes to ONNX element types and refuses the rest', () => {
    expect(elemTypeOfDType('BF16')).toBe('bfloat16');
    expect(elemTypeOfDType('F16')).toBe('float16');
    expect(elemTypeOfDType('I64')).toBe('int64');
    expect(() => elemTypeOfDType('F8_E4M3')).toThrow(/F8_E4M3 has no ONNX equivalent/);
    expect(() => elemTypeOfDType('U16')).toThrow(/U16/);
  });
});

/** Weights in three places: two sibling folders and a Hugging Face cache blob behind a symlink. */
interface WeightSet {
  a: Checkpoint;
  b: Checkpoint;
  hf: Checkpoint;
  blob: string;
  W: Float32Array;
  bias: Float32Array;
  scale: Float32Array;
  shift: Float32Array;
}

function writeWeights(root: string): WeightSet {
  const dirA = path.join(root, 'models', 'a');
  const dirB = path.join(root, 'models', 'b');
  const repo = path.join(root, 'hf', 'models--org--tiny');
  const snap = path.join(repo, 'snapshots', 'abc123');
  for (const d of [dirA, dirB, path.join(repo, 'blobs'), snap]) fs.mkdirSync(d, { recursive: true });
  const W = Float32Array.from({ length: 12 }, (_, i) => (i - 5) / 4); // [3 out, 4 in]
  const biasF = [0.5, -1, 2];
  const scaleF = [1, 0.5, -2];
  const shift = Float32Array.from([0.25, 0, -0.75]);
  // A 3-byte tensor sorts first so the weight after it starts at an unaligned offset.
  writeSafetensorsFile(path.join(dirA, 'w1.safetensors'), {
    'a_pad': { dtype: 'U8', shape: [3], data: Uint8Array.from([1, 2, 3]) },
    'lin.weight': { dtype: 'F32', shape: [3, 4], data: W },
  });
  const biasBits = Uint16Array.from(biasF, f32ToBf16Bits);
  const scaleBits = Uint16Array.from(scaleF, f32ToF16Bits);
  writeSafetensorsFile(path.join(dirB, 'w2.safetensors'), {
    'lin.bias': { dtype: 'BF16', shape: [3], data: biasBits },
    'scale': { dtype: 'F16', shape: [3], data: scaleBits },
  });
  const blob = path.join(repo, 'blobs', '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08');
  writeSafetensorsFile(blob, { shift: { dtype: 'F32', shape: [3], data: shift } });
  fs.symlinkSync(path.relative(snap, blob), path.join(snap, 'extra.safetensors'));
  return {
    a: Checkpoint.open(path.join(dirA, 'w1.safetensors')),
    b: Checkpoint.open(dirB),
    hf: Checkpoint.open(path.join(snap, 'extra.safetensors')),
    blob,
    W,
    bias: bf16ToF32(biasBits),
    scale: Float32Array.from(scaleBits, f16BitsToF32),
    shift,
  };
}

/** y = ((x W^T + bias) * scale) + shift, with bias (bf16) and scale (f16) cast to float32 in-graph. */
function buildAffine(ws: WeightSet, name = 'affine'): ReturnType<GraphBuilder['build']> {
  const b = new GraphBuilder(name);
  const x = b.input('x', 'float32', ['batch', 4]);
  const y = b.scope('lin', () => {
    const w = b.weight(ws.a.info('lin.weight'));
    const wt = b.op('Transpose', [w], { perm: [1, 0] });
    const mm = b.op('MatMul', [x, wt]);
    const bias = b.op('Cast', [b.weight(ws.b.info('lin.bias'))], { to: TensorDataType.FLOAT });
    return b.op('Add', [mm, bias]);
  });
  const scale = b.op('Cast', [b.weight(ws.b.info('scale'))], { to: TensorDataType.FLOAT });
  const shift = b.weight(ws.hf.info('shift'));
  b.weight(ws.a.info('lin.weight')); // the same key twice is one initializer
  b.output(b.op('Add', [b.op('Mul', [y, scale]), shift]), 'y', 'float32', ['batch', 3]);
  return b.build();
}

describe('external-data initializers', () => {
  let ws: WeightSet;
  beforeAll(() => {
    ws = writeWeights(path.join(tmp, 'ext'));
  });

  it('point into the safetensors files relative to externalDataDir (the common real directory)', () => {
    const built = buildAffine(ws);
    expect(built.externalDataDir).toBe(path.join(tmp, 'ext'));
    const m = decodeModel(built.bytes);
    expect(m.graph.initializer.map((i) => i.name).sort()).toEqual(['lin.bias', 'lin.weight', 'scale', 'shift']);
    const cases: Array<[string, Checkpoint, string, number]> = [
      ['lin.weight', ws.a, 'models/a/w1.safetensors', TensorDataType.FLOAT],
      ['lin.bias', ws.b, 'models/b/w2.safetensors', TensorDataType.BFLOAT16],
      ['scale', ws.b, 'models/b/w2.safetensors', TensorDataType.FLOAT16],
      ['shift', ws.hf, path.relative(built.externalDataDir!, ws.blob), TensorDataType.FLOAT],
    ];
    for (const [key, ck, location, dataType] of cases) {
      const t = initializer(m, key);
      const info = ck.info(key);
      expect(t.dataType).toBe(dataType);
      expect(t.dims).toEqual([...info.shape]);
      expect(t.dataLocation).toBe(1);
      expect(t.rawData?.length ?? 0).toBe(0);
      expect(externalData(t)).toEqual({ location, offset: String(info.byteOffset), length: String(info.byteLength) });
      expect(path.join(built.externalDataDir!, location)).toBe(info.file);
    }
    // The HF weight is addressed through blobs/, never through the snapshot symlink.
    expect(externalData(initializer(m, 'shift')).location).toBe('hf/models--org--tiny/blobs/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08');
    expect(ws.a.info('lin.weight').byteOffset % 4).not.toBe(0); // really unaligned
    expect(built.parameterCount).toBe(12 + 3 + 3 + 3);
    expect(built.externalBytes).toBe(48 + 6 + 6 + 12);
    expect(built.nodeCount).toBe(m.graph.node.length);
  });

  it('the same key from two different checkpoints gives two initializers, never an alias', () => {
    const other = path.join(tmp, 'ext-other', 'c.safetensors');
    fs.mkdirSync(path.dirname(other), { recursive: true });
    writeSafetensorsFile(other, { 'lin.bias': { dtype: 'F32', shape: [3], data: Float32Array.from([7, 8, 9]) } });
    const c = Checkpoint.open(other);
    const reopened = Checkpoint.open(path.join(tmp, 'ext', 'models', 'b'));
    const b = new GraphBuilder('two_keys');
    const v1 = b.weight(ws.b.info('lin.bias'));
    const v2 = b.weight(c.info('lin.bias'));
    const v3 = b.weight(reopened.info('lin.bias')); // same file and bytes as v1
    expect(v1.name).toBe('lin.bias');
    expect(v2.name).not.toBe(v1.name);
    expect(v3).toEqual(v1);
    const x = b.input('x', 'float32', [3]);
    b.output(b.op('Add', [x, v2]), 'y', 'float32', [3]);
    const built = b.build();
    const m = decodeModel(built.bytes);
    expect(m.graph.initializer.map((i) => i.name)).toEqual([v1.name, v2.name]);
    expect(externalData(initializer(m, v2.name)).location).toBe('ext-other/c.safetensors');
    expect(initializer(m, v2.name).dataType).toBe(TensorDataType.FLOAT);
    expect(built.externalDataDir).toBe(tmp);
  });

  it('a single HF-cache file: the folder is the real blobs/ folder and the location its basename', () => {
    const b = new GraphBuilder('hf_only');
    const x = b.input('x', 'float32', [3]);
    b.output(b.op('Add', [x, b.weight(ws.hf.info('shift'))]), 'y', 'float32', [3]);
    const built = b.build();
    expect(built.externalDataDir).toBe(path.dirname(ws.blob));
    expect(externalData(decodeModel(built.bytes).graph.initializer[0]).location).toBe(path.basename(ws.blob));
  });

  it('ORT on CPU runs the model with weights from two folders and the HF cache', async () => {
    const built = buildAffine(ws);
    const s = await createSession(built, { ep: 'cpu' });
    try {
      const batch = 2;
      const x = Float32Array.from({ length: batch * 4 }, (_, i) => Math.sin(i + 1) * 3);
      const out = await s.run({ x: new ort.Tensor('float32', x, [batch, 4]) });
      expect(out.y.dims).toEqual([batch, 3]);
      const y = out.y.data as Float32Array;
      let maxErr = 0;
      for (let r = 0; r < batch; r++) {
        for (let o = 0; o < 3; o++) {
          let acc = 0;
          for (let i = 0; i < 4; i++) acc += x[r * 4 + i] * ws.W[o * 4 + i];
          const ref = (acc + ws.bias[o]) * ws.scale[o] + ws.shift[o];
          maxErr = Math.max(maxErr, Math.abs(y[r * 3 + o] - ref));
        }
      }
      expect(maxErr).toBeLessThan(1e-5);
      // A wrong bf16 decode would move the result by far more than this.
      expect(Math.abs(ws.bias[1] - -1)).toBe(0);
    } finally {
      await s.release();
    }
  });
});

describe('commonDirectory', () => {
  it('finds the deepest shared folder by whole path segments', () => {
    expect(commonDirectory(['/a/b/c'])).toBe('/a/b/c');
    expect(commonDirectory(['/a/b/c', '/a/b/c'])).toBe('/a/b/c');
    expect(commonDirectory(['/a/b/c', '/a/b/d'])).toBe('/a/b');
    expect(commonDirectory(['/a/b', '/a/bc'])).toBe('/a'); // not the string prefix "/a/b"
    expect(commonDirectory(['/a/b/c', '/a/b'])).toBe('/a/b');
    expect(commonDirectory(['/a/b', '/a/b/c/d', '/a/b/e'])).toBe('/a/b');
    expect(commonDirectory(['/a', '/b'])).toBe('/');
    expect(commonDirectory(['/', '/a'])).toBe('/');
    expect(commonDirectory(['/'])).toBe('/');
    expect(commonDirectory(['/a/b/', '/a/b/./c/..'])).toBe('/a/b');
  });

  it('resolves relative paths against the working directory', () => {
    expect(commonDirectory(['x/y', 'x/z'])).toBe(path.resolve('x'));
  });

  it('refuses an empty list with a clear error', () => {
    expect(() => commonDirectory([])).toThrow(/commonDirectory: no directories/);
  });
});
