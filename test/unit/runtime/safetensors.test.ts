// safetensors reader/writer: round trips through real files, sharded checkpoints, the Hugging Face
// cache layout, float conversions against known bit patterns, and one specific error (naming the
// file) for every kind of malformed input.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Checkpoint, SafetensorsError, SafetensorsFile, MAX_HEADER_BYTES,
  bf16ToF32, encodeSafetensors, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, writeSafetensorsFile,
  type TensorToWrite,
} from '../../../electron/engine/runtime/safetensors.js';

let tmp: string;
beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'umo-st-test-')));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

let dirCounter = 0;
function freshDir(label: string): string {
  const d = path.join(tmp, `${label}-${dirCounter++}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/** Raw file bytes: 8-byte little-endian header length, header text, data. */
function rawFile(header: string | object | Uint8Array, data: Uint8Array = new Uint8Array(0), headerLen?: bigint): Buffer {
  const text = header instanceof Uint8Array ? Buffer.from(header)
    : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLen ?? BigInt(text.length), 0);
  return Buffer.concat([len, text, data]);
}

function writeRaw(name: string, bytes: Uint8Array): string {
  const f = path.join(freshDir('raw'), name);
  fs.writeFileSync(f, bytes);
  return f;
}

/** Assert `fn` throws a SafetensorsError whose message starts with `file` and matches `re`. */
function expectStError(fn: () => unknown, file: string, re: RegExp): SafetensorsError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected a SafetensorsError matching ${re}`).toBeInstanceOf(SafetensorsError);
  const err = caught as SafetensorsError;
  expect(err.message.startsWith(`${file}: `), `"${err.message}" should start with "${file}: "`).toBe(true);
  expect(err.message).toMatch(re);
  expect(err.file).toBe(file);
  return err;
}

function u16(values: number[]): Uint16Array {
  return Uint16Array.from(values);
}

/** Header length and parsed header of a file on disk (independent of the reader under test). */
function readHeader(file: string): { len: number; header: Record<string, { data_offsets: [number, number] }> } {
  const b = fs.readFileSync(file);
  const len = Number(b.readBigUInt64LE(0));
  return { len, header: JSON.parse(b.subarray(8, 8 + len).toString('utf8')) };
}

// Known bit patterns.
const BF16_CASES: Array<[number, number]> = [
  [0x3f80, 1], [0xc000, -2], [0x4049, 3.140625], [0x0000, 0], [0x7f80, Infinity], [0xff80, -Infinity],
  [0x3e80, 0.25], [0x4780, 65536], [0x0001, 2 ** -133], [0x7f7f, 3.3895313892515355e38],
];
const F16_CASES: Array<[number, number]> = [
  [0x3c00, 1], [0xc000, -2], [0x3555, 0.333251953125], [0x7bff, 65504], [0x0001, 2 ** -24],
  [0x03ff, 1023 * 2 ** -24], [0x0400, 2 ** -14], [0x7c00, Infinity], [0xfc00, -Infinity], [0x3800, 0.5],
  [0x0000, 0],
];

function sampleTensors(): Record<string, TensorToWrite> {
  return {
    'blocks.0.weight': { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-7, -1e30]) },
    'blocks.0.half': { dtype: 'F16', shape: [F16_CASES.length], data: u16(F16_CASES.map((c) => c[0])) },
    'blocks.0.bf': { dtype: 'BF16', shape: [2, 5], data: u16(BF16_CASES.map((c) => c[0])) },
    'ids': { dtype: 'I64', shape: [3], data: BigInt64Array.from([-1n, 0n, 9007199254740993n]) },
    'a_bytes': { dtype: 'U8', shape: [1, 3], data: Uint8Array.from([0, 7, 255]) },
    'scalar': { dtype: 'F32', shape: [], data: Float32Array.from([42.5]) },
    'empty': { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
  };
}

describe('float conversions', () => {
  it('bf16 -> f32 matches known values', () => {
    const got = bf16ToF32(u16(BF16_CASES.map((c) => c[0])));
    BF16_CASES.forEach(([, v], i) => expect(got[i]).toBe(Math.fround(v)));
    expect(Object.is(bf16ToF32(u16([0x8000]))[0], -0)).toBe(true);
    expect(Number.isNaN(bf16ToF32(u16([0x7fc0]))[0])).toBe(true);
  });

  it('f16 -> f32 matches known values (normals, subnormals, infinities, NaN, -0)', () => {
    for (const [bits, v] of F16_CASES) expect(f16BitsToF32(bits)).toBe(v);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    expect(Number.isNaN(f16BitsToF32(0x7e00))).toBe(true);
    expect(f16BitsToF32(0x8001)).toBe(-(2 ** -24));
  });

  it('f32 -> f16 -> f32 is the identity on every non-NaN f16 bit pattern', () => {
    let checked = 0;
    for (let h = 0; h < 0x10000; h++) {
      const x = f16BitsToF32(h);
      if (Number.isNaN(x)) {
        expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(x)))).toBe(true);
        continue;
      }
      if (f32ToF16Bits(x) !== h) throw new Error(`f16 0x${h.toString(16)} (${x}) -> 0x${f32ToF16Bits(x).toString(16)}`);
      checked++;
    }
    expect(checked).toBe(0x10000 - 2 * 1023);
  });

  it('f32 -> bf16 -> f32 is the identity on every non-NaN bf16 bit pattern', () => {
    const all = new Uint16Array(0x10000).map((_, i) => i);
    const f = bf16ToF32(all);
    let checked = 0;
    for (let h = 0; h < 0x10000; h++) {
      if (Number.isNaN(f[h])) {
        expect(f32ToBf16Bits(f[h])).toBe(0x7fc0);
        continue;
      }
      if (f32ToBf16Bits(f[h]) !== h) throw new Error(`bf16 0x${h.toString(16)} -> 0x${f32ToBf16Bits(f[h]).toString(16)}`);
      checked++;
    }
    expect(checked).toBe(0x10000 - 2 * 127);
  });

  it('rounds to nearest, ties to even, and overflows to infinity', () => {
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie -> even (down)
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie -> even (up)
    expect(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81); // above the tie
    expect(f32ToBf16Bits(3.4e38)).toBe(0x7f80); // rounds past the largest finite bf16
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00);
    expect(f32ToF16Bits(-1e6)).toBe(0xfc00);
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // half of the smallest subnormal: tie -> 0
    expect(f32ToF16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // largest subnormal + half rounds into the normals
    expect(f32ToF16Bits(-(2 ** -30))).toBe(0x8000);
  });
});

describe('round trip: encodeSafetensors / writeSafetensorsFile -> Checkpoint.open', () => {
  it('keeps dtypes, shapes, offsets and values', () => {
    const dir = freshDir('rt');
    const file = path.join(dir, 'model.safetensors');
    const tensors = sampleTensors();
    writeSafetensorsFile(file, tensors, { format: 'pt', note: 'round trip' });
    expect(fs.readdirSync(dir)).toEqual(['model.safetensors']); // no temp file left behind

    const ck = Checkpoint.open(file);
    expect(ck.keys().sort()).toEqual(Object.keys(tensors).sort());
    expect(ck.files).toHaveLength(1);
    expect(ck.files[0].metadata).toEqual({ format: 'pt', note: 'round trip' });

    const { len, header } = readHeader(file);
    expect(len % 8).toBe(0); // header padded to 8
    expect(ck.files[0].headerLength).toBe(len);
    const bytes = fs.readFileSync(file);
    for (const [k, t] of Object.entries(tensors)) {
      const info = ck.info(k);
      expect(info.name).toBe(k);
      expect(info.dtype).toBe(t.dtype);
      expect(info.shape).toEqual(t.shape);
      expect(info.file).toBe(file);
      expect(info.byteOffset).toBe(8 + len + header[k].data_offsets[0]);
      expect(info.byteLength).toBe(t.data.byteLength);
      const expectedBytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      expect(bytes.subarray(info.byteOffset, info.byteOffset + info.byteLength).equals(expectedBytes)).toBe(true);
      expect(ck.readBytes(k).equals(expectedBytes)).toBe(true);
    }

    expect([...ck.readFloat32('blocks.0.weight')]).toEqual([...Float32Array.from([1, -2, 3.5, 0, 1e-7, -1e30])]);
    expect([...ck.readFloat32('blocks.0.half')]).toEqual(F16_CASES.map((c) => c[1]));
    expect([...ck.readFloat32('blocks.0.bf')]).toEqual(BF16_CASES.map((c) => Math.fround(c[1])));
    expect([...ck.readInt64('ids')]).toEqual([-1n, 0n, 9007199254740993n]);
    expect([...ck.readInt64('a_bytes')]).toEqual([0n, 7n, 255n]);
    expect([...ck.readFloat32('scalar')]).toEqual([42.5]);
    expect(ck.readFloat32('empty')).toHaveLength(0);
    expect([...ck.readFloat64('blocks.0.bf')].slice(0, 3)).toEqual([1, -2, 3.140625]);
    expect(ck.parameterCount()).toBe(6 + F16_CASES.length + 10 + 3 + 3 + 1 + 0);
    expect(ck.parameterCount((k) => k.startsWith('blocks.0.'))).toBe(6 + F16_CASES.length + 10);
    expect(ck.expectShape('blocks.0.weight', [2, null])).toEqual([2, 3]);
  });

  it('writes an I32 tensor and reads it back as int64', () => {
    const file = path.join(freshDir('i32'), 'x.safetensors');
    writeSafetensorsFile(file, { v: { dtype: 'I32', shape: [2], data: Int32Array.from([-5, 2147483647]) } });
    expect([...Checkpoint.open(file).readInt64('v')]).toEqual([-5n, 2147483647n]);
  });

  it('omits __metadata__ when none is given and overwrites an existing file atomically', () => {
    const dir = freshDir('ow');
    const file = path.join(dir, 'x.safetensors');
    writeSafetensorsFile(file, { a: { dtype: 'F32', shape: [1], data: Float32Array.from([1]) } });
    expect(Object.keys(readHeader(file).header)).toEqual(['a']);
    writeSafetensorsFile(file, { b: { dtype: 'F32', shape: [2], data: Float32Array.from([2, 3]) } });
    const ck = Checkpoint.open(file);
    expect(ck.keys()).toEqual(['b']);
    expect(ck.files[0].metadata).toEqual({});
    expect(fs.readdirSync(dir)).toEqual(['x.safetensors']);
  });

  it('a failed write leaves neither the target nor a temp file behind', () => {
    const parent = freshDir('failwrite');
    const target = path.join(parent, 'occupied.safetensors');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'keep'), 'x'); // rename onto a non-empty directory fails
    expect(() => writeSafetensorsFile(target, { a: { dtype: 'F32', shape: [1], data: Float32Array.from([1]) } })).toThrow();
    expect(fs.readdirSync(parent)).toEqual(['occupied.safetensors']);
    expect(fs.statSync(target).isDirectory()).toBe(true);
  });

  it('encodes a view into a larger buffer using only the viewed bytes', () => {
    const big = Float32Array.from([9, 1, 2, 9]);
    const bytes = encodeSafetensors({ v: { dtype: 'F32', shape: [2], data: big.subarray(1, 3) } });
    const f = SafetensorsFile.fromBuffer('view.safetensors', bytes);
    const t = f.tensors.get('v')!;
    expect(new Float32Array(bytes.buffer.slice(bytes.byteOffset + t.byteOffset, bytes.byteOffset + t.byteOffset + 8))).toEqual(Float32Array.from([1, 2]));
  });

  it('refuses to encode data whose size does not match dtype x shape', () => {
    expect(() => encodeSafetensors({ w: { dtype: 'F16', shape: [3], data: new Uint16Array(2) } })).toThrow(/"w" F16\[3\] needs 6 bytes, got 4/);
  });

  it('reading with the wrong kind of dtype is an error naming the tensor', () => {
    const file = path.join(freshDir('kind'), 'x.safetensors');
    writeSafetensorsFile(file, sampleTensors());
    const ck = Checkpoint.open(file);
    expectStError(() => ck.readFloat32('ids'), file, /tensor "ids" is I64, expected a floating-point dtype/);
    expectStError(() => ck.readInt64('blocks.0.weight'), file, /tensor "blocks.0.weight" is F32, expected an integer dtype/);
  });
});

describe('checkpoint layouts', () => {
  function writeShards(dir: string): { a: string; b: string; index: string } {
    const a = path.join(dir, 'model-00001-of-00002.safetensors');
    const b = path.join(dir, 'model-00002-of-00002.safetensors');
    writeSafetensorsFile(a, { 'x.weight': { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) } });
    writeSafetensorsFile(b, {
      'y.weight': { dtype: 'BF16', shape: [1], data: u16([0x3f80]) },
      'y.bias': { dtype: 'F16', shape: [1], data: u16([0xc000]) },
    });
    const index = path.join(dir, 'model.safetensors.index.json');
    fs.writeFileSync(index, JSON.stringify({
      metadata: { total_size: 14 },
      weight_map: {
        'x.weight': 'model-00001-of-00002.safetensors',
        'y.weight': 'model-00002-of-00002.safetensors',
        'y.bias': 'model-00002-of-00002.safetensors',
      },
    }));
    return { a, b, index };
  }

  it('opens a sharded checkpoint by folder and by index path', () => {
    const dir = freshDir('sharded');
    const { a, b, index } = writeShards(dir);
    for (const p of [dir, index]) {
      const ck = Checkpoint.open(p);
      expect(ck.path).toBe(index);
      expect(ck.keys().sort()).toEqual(['x.weight', 'y.bias', 'y.weight']);
      expect(ck.files.map((f) => f.path)).toEqual([a, b]);
      expect(ck.info('x.weight').file).toBe(a);
      expect(ck.info('y.weight').file).toBe(b);
      expect([...ck.readFloat32('y.weight')]).toEqual([1]);
      expect([...ck.readFloat32('y.bias')]).toEqual([-2]);
    }
  });

  it('an index naming a missing shard is an error naming that shard', () => {
    const dir = freshDir('missing-shard');
    const { b, index } = writeShards(dir);
    fs.rmSync(b);
    expectStError(() => Checkpoint.open(index), b, /cannot open: ENOENT/);
  });

  it('an index listing a key absent from its shard is an error naming the shard and the key', () => {
    const dir = freshDir('absent-key');
    const { a, index } = writeShards(dir);
    const j = JSON.parse(fs.readFileSync(index, 'utf8'));
    j.weight_map['x.bias'] = 'model-00001-of-00002.safetensors';
    fs.writeFileSync(index, JSON.stringify(j));
    expectStError(() => Checkpoint.open(dir), a, /index model.safetensors.index.json lists tensor "x.bias" but the shard does not contain it/);
  });

  it('an index placing a key in the wrong shard is an error', () => {
    const dir = freshDir('wrong-shard');
    const { b, index } = writeShards(dir);
    const j = JSON.parse(fs.readFileSync(index, 'utf8'));
    j.weight_map['y.weight'] = 'model-00001-of-00002.safetensors';
    fs.writeFileSync(index, JSON.stringify(j));
    expectStError(() => Checkpoint.open(index), index, new RegExp(`places "y.weight" in model-00001-of-00002.safetensors but it is in ${b}`));
    // When the shard that really holds the key is not referenced at all, the key is simply missing.
    j.weight_map = { 'x.weight': 'model-00002-of-00002.safetensors', 'y.weight': 'model-00002-of-00002.safetensors' };
    fs.writeFileSync(index, JSON.stringify(j));
    expectStError(() => Checkpoint.open(index), b, /index model.safetensors.index.json lists tensor "x.weight" but the shard does not contain it/);
  });

  it('a malformed index is an error naming the index', () => {
    const dir = freshDir('bad-index');
    const { index } = writeShards(dir);
    fs.writeFileSync(index, '{"weight_map": ');
    expectStError(() => Checkpoint.open(index), index, /cannot read checkpoint index/);
    fs.writeFileSync(index, JSON.stringify({ metadata: {} }));
    expectStError(() => Checkpoint.open(dir), index, /no "weight_map" object/);
    fs.writeFileSync(index, 'null');
    expectStError(() => Checkpoint.open(dir), index, /no "weight_map" object/);
    fs.writeFileSync(index, JSON.stringify({ weight_map: { k: '../outside.safetensors' } }));
    expectStError(() => Checkpoint.open(dir), index, /invalid shard "..\/outside.safetensors"/);
    fs.writeFileSync(index, JSON.stringify({ weight_map: { k: 3 } }));
    expectStError(() => Checkpoint.open(dir), index, /invalid shard 3/);
    fs.writeFileSync(index, JSON.stringify({ weight_map: { k: '/abs/model.safetensors' } }));
    expectStError(() => Checkpoint.open(dir), index, /invalid shard/);
  });

  it('a folder with two indexes must be disambiguated', () => {
    const dir = freshDir('two-index');
    const { index } = writeShards(dir);
    fs.copyFileSync(index, path.join(dir, 'other.safetensors.index.json'));
    expectStError(() => Checkpoint.open(dir), dir, /several checkpoint indexes \(model.safetensors.index.json, other.safetensors.index.json\)/);
  });

  it('a duplicate tensor across shards is an error naming both files', () => {
    const dir = freshDir('dup');
    const a = path.join(dir, 'a.safetensors');
    const b = path.join(dir, 'b.safetensors');
    writeSafetensorsFile(a, { k: { dtype: 'F32', shape: [1], data: Float32Array.from([1]) } });
    writeSafetensorsFile(b, { k: { dtype: 'F32', shape: [1], data: Float32Array.from([2]) } });
    fs.writeFileSync(path.join(dir, 'x.safetensors.index.json'), JSON.stringify({ weight_map: { k: 'a.safetensors', k2: 'b.safetensors' } }));
    const err = expectStError(() => Checkpoint.open(dir), b, /tensor "k" is also present in/);
    expect(err.message).toContain(a);
  });

  it('a folder with one file opens that file', () => {
    const dir = freshDir('one');
    const f = path.join(dir, 'diffusion_pytorch_model.safetensors');
    writeSafetensorsFile(f, { k: { dtype: 'F32', shape: [1], data: Float32Array.from([3]) } });
    fs.writeFileSync(path.join(dir, 'config.json'), '{}');
    const ck = Checkpoint.open(dir);
    expect(ck.path).toBe(dir);
    expect(ck.info('k').file).toBe(f);
    expect([...ck.readFloat32('k')]).toEqual([3]);
  });

  it('a folder with several files and no index, an empty folder, and a missing path are clear errors', () => {
    const dir = freshDir('several');
    for (const n of ['b.safetensors', 'a.safetensors']) {
      writeSafetensorsFile(path.join(dir, n), { k: { dtype: 'F32', shape: [1], data: Float32Array.from([3]) } });
    }
    expectStError(() => Checkpoint.open(dir), dir, /several .safetensors files \(a.safetensors, b.safetensors\) and no index/);
    const empty = freshDir('empty');
    expectStError(() => Checkpoint.open(empty), empty, /contains no .safetensors file/);
    const missing = path.join(tmp, 'does-not-exist.safetensors');
    expectStError(() => Checkpoint.open(missing), missing, /not found \(ENOENT\)/);
  });

  it('missing keys and wrong shapes are errors naming the checkpoint and the key', () => {
    const file = path.join(freshDir('missing-key'), 'm.safetensors');
    writeSafetensorsFile(file, sampleTensors());
    const ck = Checkpoint.open(file);
    expect(ck.has('nope')).toBe(false);
    expectStError(() => ck.info('nope'), file, /missing tensor "nope"/);
    expectStError(() => ck.readFloat32('nope'), file, /missing tensor "nope"/);
    expectStError(() => ck.shape('nope'), file, /missing tensor "nope"/);
    expectStError(() => ck.expectShape('blocks.0.weight', [3, null]), file, /tensor "blocks.0.weight" has shape \[2, 3\], expected \[3, \?\]/);
    expectStError(() => ck.expectShape('blocks.0.weight', [2]), file, /expected \[2\]/);
  });

  it('the Hugging Face cache layout: tensors point at the real blob, not the snapshot symlink', () => {
    const repo = path.join(freshDir('hf'), 'models--org--name');
    const blobs = path.join(repo, 'blobs');
    const snap = path.join(repo, 'snapshots', '0123abcd');
    fs.mkdirSync(blobs, { recursive: true });
    fs.mkdirSync(snap, { recursive: true });
    const sha = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    writeSafetensorsFile(path.join(blobs, sha), { w: { dtype: 'BF16', shape: [2], data: u16([0x3f80, 0x4049]) } });
    const link = path.join(snap, 'model.safetensors');
    fs.symlinkSync(path.join('..', '..', 'blobs', sha), link);

    for (const p of [link, snap]) {
      const ck = Checkpoint.open(p);
      expect(ck.info('w').file).toBe(path.join(blobs, sha));
      expect(ck.files[0].path).toBe(link);
      expect(ck.files[0].realPath).toBe(path.join(blobs, sha));
      expect([...ck.readFloat32('w')]).toEqual([1, 3.140625]);
    }
  });

  it('a sharded Hugging Face snapshot resolves shards relative to the snapshot folder', () => {
    const repo = path.join(freshDir('hf-sharded'), 'models--org--big');
    const blobs = path.join(repo, 'blobs');
    const snap = path.join(repo, 'snapshots', 'rev1');
    fs.mkdirSync(blobs, { recursive: true });
    fs.mkdirSync(snap, { recursive: true });
    writeSafetensorsFile(path.join(blobs, 'aaa'), { p: { dtype: 'F32', shape: [1], data: Float32Array.from([1]) } });
    writeSafetensorsFile(path.join(blobs, 'bbb'), { q: { dtype: 'F32', shape: [1], data: Float32Array.from([2]) } });
    fs.writeFileSync(path.join(blobs, 'ccc'), JSON.stringify({ weight_map: { p: 's-1.safetensors', q: 's-2.safetensors' } }));
    fs.symlinkSync('../../blobs/aaa', path.join(snap, 's-1.safetensors'));
    fs.symlinkSync('../../blobs/bbb', path.join(snap, 's-2.safetensors'));
    fs.symlinkSync('../../blobs/ccc', path.join(snap, 'model.safetensors.index.json'));
    const ck = Checkpoint.open(snap);
    expect(ck.info('p').file).toBe(path.join(blobs, 'aaa'));
    expect(ck.info('q').file).toBe(path.join(blobs, 'bbb'));
    expect([...ck.readFloat32('q')]).toEqual([2]);
  });
});

describe('malformed files: one specific error naming the file', () => {
  const f32 = (n: number) => new Uint8Array(4 * n);

  it('empty file and files shorter than the length prefix', () => {
    const f = writeRaw('empty.safetensors', new Uint8Array(0));
    expectStError(() => Checkpoint.open(f), f, /file is 0 bytes, too small/);
    const g = writeRaw('seven.safetensors', new Uint8Array(7));
    expectStError(() => SafetensorsFile.open(g), g, /file is 7 bytes/);
  });

  it('header length larger than the file', () => {
    const f = writeRaw('long.safetensors', rawFile('{}', new Uint8Array(0), 1000n));
    expectStError(() => Checkpoint.open(f), f, /header length 1000 runs past the end of the file \(10 bytes\)/);
  });

  it('absurd header lengths (2^63, 2^64-1, just over the limit)', () => {
    for (const n of [2n ** 63n, 2n ** 64n - 1n, BigInt(MAX_HEADER_BYTES) + 1n]) {
      const f = writeRaw('absurd.safetensors', rawFile('{}', new Uint8Array(0), n));
      expectStError(() => Checkpoint.open(f), f, new RegExp(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`));
    }
  });

  it('header length too small for an object', () => {
    const f = writeRaw('tiny.safetensors', rawFile('{}', new Uint8Array(0), 1n));
    expectStError(() => Checkpoint.open(f), f, /header length 1 is too small/);
    const g = writeRaw('zero.safetensors', rawFile('', new Uint8Array(0), 0n));
    expectStError(() => Checkpoint.open(g), g, /header length 0 is too small/);
  });

  it('header not UTF-8, not JSON, not an object', () => {
    const bad = writeRaw('utf.safetensors', rawFile(Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x7b, 0x7d, 0x7d])));
    expectStError(() => Checkpoint.open(bad), bad, /header is not valid UTF-8/);
    const nj = writeRaw('notjson.safetensors', rawFile('{"a": [1, 2'));
    expectStError(() => Checkpoint.open(nj), nj, /header is not valid JSON/);
    for (const h of ['[1,2]', 'null', '"str"', '42', 'true']) {
      const f = writeRaw('notobj.safetensors', rawFile(h));
      expectStError(() => Checkpoint.open(f), f, /header JSON is not an object/);
    }
  });

  it('entries that are not objects and bad __metadata__', () => {
    const f1 = writeRaw('entry.safetensors', rawFile({ w: [1, 2] }));
    expectStError(() => Checkpoint.open(f1), f1, /tensor "w": entry is not an object/);
    const f2 = writeRaw('meta.safetensors', rawFile({ __metadata__: ['x'] }));
    expectStError(() => Checkpoint.open(f2), f2, /__metadata__ must be an object of strings/);
    const f3 = writeRaw('meta2.safetensors', rawFile({ __metadata__: { total: 3 } }));
    expectStError(() => Checkpoint.open(f3), f3, /__metadata__.total must be a string/);
  });

  it('unknown dtype', () => {
    const f = writeRaw('dtype.safetensors', rawFile({ w: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, new Uint8Array(16)));
    expectStError(() => Checkpoint.open(f), f, /tensor "w": unsupported dtype "F128" \(expected one of F64, F32/);
    const g = writeRaw('nodtype.safetensors', rawFile({ w: { shape: [1], data_offsets: [0, 4] } }, f32(1)));
    expectStError(() => Checkpoint.open(g), g, /tensor "w": unsupported dtype undefined/);
    const h = writeRaw('protodtype.safetensors', rawFile({ w: { dtype: 'toString', shape: [1], data_offsets: [0, 4] } }, f32(1)));
    expectStError(() => Checkpoint.open(h), h, /unsupported dtype "toString"/);
  });

  it('bad shapes', () => {
    for (const shape of [[-1], [1.5], ['2'], 3, null, [[2]], [2 ** 53]]) {
      const f = writeRaw('shape.safetensors', rawFile({ w: { dtype: 'F32', shape, data_offsets: [0, 4] } }, f32(1)));
      expectStError(() => Checkpoint.open(f), f, /tensor "w": shape .* is not a list of non-negative integers/);
    }
  });

  it('data_offsets of the wrong length, negative, past the end, end < begin', () => {
    for (const off of [[0], [0, 4, 8], 'x', [-4, 0], [0, 4.5]]) {
      const f = writeRaw('off.safetensors', rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: off } }, f32(1)));
      expectStError(() => Checkpoint.open(f), f, /tensor "w": data_offsets .* is not a pair of non-negative integers/);
    }
    const past = writeRaw('past.safetensors', rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(2)));
    expectStError(() => Checkpoint.open(past), past, /tensor "w": data_offsets \[4, 12\] run past the data region \(8 bytes\)/);
    const rev = writeRaw('rev.safetensors', rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, f32(2)));
    expectStError(() => Checkpoint.open(rev), rev, /tensor "w": data_offsets end 4 < begin 8/);
  });

  it('size mismatch between dtype x shape and data_offsets', () => {
    const f = writeRaw('size.safetensors', rawFile({ w: { dtype: 'BF16', shape: [3, 2], data_offsets: [0, 8] } }, f32(4)));
    expectStError(() => Checkpoint.open(f), f, /tensor "w": BF16\[3,2\] needs 12 bytes but data_offsets span 8/);
    const huge = writeRaw('huge.safetensors', rawFile({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, f32(1)));
    expectStError(() => Checkpoint.open(huge), huge, /tensor "w": F32\[1099511627776,1099511627776\] needs .* bytes but data_offsets span 4/);
  });

  it('overlapping tensors', () => {
    const f = writeRaw('overlap.safetensors', rawFile({
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    }, f32(3)));
    expectStError(() => Checkpoint.open(f), f, /tensors "a" and "b" overlap in the data region/);
    const same = writeRaw('same.safetensors', rawFile({
      a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      b: { dtype: 'I32', shape: [1], data_offsets: [0, 4] },
    }, f32(1)));
    expectStError(() => Checkpoint.open(same), same, /tensors "a" and "b" overlap/);
  });

  it('overlaps are found even when an empty tensor sits between the overlapping ones', () => {
    // a = [0, 16), z = [4, 4) (empty), c = [8, 12) lies inside a.
    const f = writeRaw('overlap-empty.safetensors', rawFile({
      a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
      z: { dtype: 'F32', shape: [0], data_offsets: [4, 4] },
      c: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
    }, f32(4)));
    expectStError(() => Checkpoint.open(f), f, /tensors "a" and "c" overlap in the data region/);
    // A tensor nested in a long one, with a third after both.
    const g = writeRaw('overlap-nested.safetensors', rawFile({
      long: { dtype: 'F32', shape: [8], data_offsets: [0, 32] },
      e: { dtype: 'U8', shape: [0], data_offsets: [2, 2] },
      inner: { dtype: 'F32', shape: [1], data_offsets: [20, 24] },
    }, f32(8)));
    expectStError(() => Checkpoint.open(g), g, /tensors "long" and "inner" overlap/);
  });

  it('accepts adjacent tensors, empty tensors anywhere, and unused gaps', () => {
    const f = writeRaw('ok.safetensors', rawFile({
      a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      e1: { dtype: 'F32', shape: [0], data_offsets: [4, 4] },
      e2: { dtype: 'F32', shape: [0, 3], data_offsets: [2, 2] },
      b: { dtype: 'U8', shape: [3], data_offsets: [4, 7] },
      c: { dtype: 'F16', shape: [1], data_offsets: [10, 12] },
    }, new Uint8Array(12)));
    const ck = Checkpoint.open(f);
    expect(ck.keys().sort()).toEqual(['a', 'b', 'c', 'e1', 'e2']);
    expect(ck.info('c').byteOffset).toBe(8 + ck.files[0].headerLength + 10);
  });

  it('truncated file: data shorter than the header promises', () => {
    const file = path.join(freshDir('trunc'), 'full.safetensors');
    writeSafetensorsFile(file, sampleTensors());
    const full = fs.readFileSync(file);
    const { len } = readHeader(file);
    const cut = writeRaw('cut.safetensors', full.subarray(0, full.length - 3));
    expectStError(() => Checkpoint.open(cut), cut, /run past the data region .* the file is truncated/);
    const inHeader = writeRaw('cut-header.safetensors', full.subarray(0, 8 + Math.floor(len / 2)));
    expectStError(() => Checkpoint.open(inHeader), inHeader, /header length \d+ runs past the end of the file/);
  });

  it('a directory passed as a shard is an error', () => {
    const dir = freshDir('dir-shard');
    fs.mkdirSync(path.join(dir, 'x.safetensors'));
    expectStError(() => SafetensorsFile.open(path.join(dir, 'x.safetensors')), path.join(dir, 'x.safetensors'), /is not a regular file/);
  });
});
