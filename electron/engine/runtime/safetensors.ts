// safetensors reader: header parsing with full validation, sharded checkpoints, typed reads of
// small tensors, and the absolute byte offset of every tensor (for ONNX external data).
//
// Hand-written because the npm packages for safetensors either load whole files into memory or
// skip validation; we need header-only access to files of 24 GB and precise error messages.
import fs from 'node:fs';
import path from 'node:path';

export type DType =
  | 'F64' | 'F32' | 'F16' | 'BF16'
  | 'I64' | 'I32' | 'I16' | 'I8'
  | 'U64' | 'U32' | 'U16' | 'U8'
  | 'BOOL' | 'F8_E4M3' | 'F8_E5M2';

export const DTYPE_BYTES: Record<DType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};

/** Largest JSON header we accept (the format's own limit is 100 MB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export class SafetensorsError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

export interface TensorInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Real (symlink-resolved) path of the file that holds the bytes. */
  readonly file: string;
  /** Absolute offset of the first byte in `file`: 8 + header length + data_offsets[0]. */
  readonly byteOffset: number;
  readonly byteLength: number;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

/** One `.safetensors` file, header only. */
export class SafetensorsFile {
  readonly tensors = new Map<string, TensorInfo>();
  metadata: Record<string, string> = {};
  headerLength = 0;
  fileSize = 0;
  /** Real path (symlinks resolved, e.g. into a Hugging Face cache `blobs/` folder). */
  readonly realPath: string;

  private constructor(readonly path: string) {
    this.realPath = path;
  }

  static open(file: string): SafetensorsFile {
    let real: string;
    try {
      real = fs.realpathSync(file);
    } catch (e) {
      throw new SafetensorsError(file, `cannot open: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    let st: fs.Stats;
    let fd: number;
    try {
      st = fs.statSync(real);
      if (!st.isFile()) throw new SafetensorsError(file, 'is not a regular file');
      fd = fs.openSync(real, 'r');
    } catch (e) {
      if (e instanceof SafetensorsError) throw e;
      throw new SafetensorsError(file, `cannot open: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    try {
      return SafetensorsFile.parse(file, real, st.size, (buf, pos) => fs.readSync(fd, buf, 0, buf.length, pos));
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Parse from an in-memory buffer (used by tests and fuzzing). */
  static fromBuffer(name: string, bytes: Uint8Array): SafetensorsFile {
    return SafetensorsFile.parse(name, name, bytes.length, (buf, pos) => {
      const n = Math.max(0, Math.min(buf.length, bytes.length - pos));
      buf.set(bytes.subarray(pos, pos + n));
      return n;
    });
  }

  private static parse(
    file: string, real: string, size: number,
    read: (buf: Uint8Array, position: number) => number,
  ): SafetensorsFile {
    const out = new SafetensorsFile(file);
    (out as { realPath: string }).realPath = real;
    out.fileSize = size;
    if (size < 8) throw new SafetensorsError(file, `file is ${size} bytes, too small for a safetensors header (need at least 8)`);
    const lenBuf = Buffer.alloc(8);
    if (read(lenBuf, 0) !== 8) throw new SafetensorsError(file, 'could not read the 8-byte header length');
    const headerLen64 = lenBuf.readBigUInt64LE(0);
    if (headerLen64 > BigInt(MAX_HEADER_BYTES)) {
      throw new SafetensorsError(file, `header length ${headerLen64} exceeds the ${MAX_HEADER_BYTES}-byte limit; not a safetensors file or corrupted`);
    }
    const headerLen = Number(headerLen64);
    if (headerLen < 2) throw new SafetensorsError(file, `header length ${headerLen} is too small for a JSON object`);
    if (8 + headerLen > size) {
      throw new SafetensorsError(file, `header length ${headerLen} runs past the end of the file (${size} bytes); the file is truncated or not safetensors`);
    }
    out.headerLength = headerLen;
    const hbuf = Buffer.alloc(headerLen);
    if (read(hbuf, 8) !== headerLen) throw new SafetensorsError(file, 'could not read the JSON header');
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(hbuf);
    } catch {
      throw new SafetensorsError(file, 'header is not valid UTF-8');
    }
    let header: unknown;
    try {
      header = JSON.parse(text);
    } catch (e) {
      throw new SafetensorsError(file, `header is not valid JSON (${(e as Error).message})`);
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) {
      throw new SafetensorsError(file, 'header JSON is not an object');
    }
    const dataStart = 8 + headerLen;
    const dataSize = size - dataStart;
    const ranges: Array<[number, number, string]> = [];
    for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
          throw new SafetensorsError(file, '__metadata__ must be an object of strings');
        }
        for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
          if (typeof v !== 'string') throw new SafetensorsError(file, `__metadata__.${k} must be a string`);
          out.metadata[k] = v;
        }
        continue;
      }
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
        throw new SafetensorsError(file, `tensor "${name}": entry is not an object`);
      }
      const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (!isDType(e.dtype)) {
        throw new SafetensorsError(file, `tensor "${name}": unsupported dtype ${JSON.stringify(e.dtype)} (expected one of ${Object.keys(DTYPE_BYTES).join(', ')})`);
      }
      if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new SafetensorsError(file, `tensor "${name}": shape ${JSON.stringify(e.shape)} is not a list of non-negative integers`);
      }
      const off = e.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new SafetensorsError(file, `tensor "${name}": data_offsets ${JSON.stringify(off)} is not a pair of non-negative integers`);
      }
      const [begin, end] = off as [number, number];
      if (end < begin) throw new SafetensorsError(file, `tensor "${name}": data_offsets end ${end} < begin ${begin}`);
      const shape = e.shape as number[];
      const expected = elementCount(shape) * DTYPE_BYTES[e.dtype];
      if (end - begin !== expected) {
        throw new SafetensorsError(file, `tensor "${name}": ${e.dtype}${JSON.stringify(shape)} needs ${expected} bytes but data_offsets span ${end - begin}`);
      }
      if (end > dataSize) {
        throw new SafetensorsError(file, `tensor "${name}": data_offsets [${begin}, ${end}] run past the data region (${dataSize} bytes); the file is truncated`);
      }
      ranges.push([begin, end, name]);
      out.tensors.set(name, {
        name, dtype: e.dtype, shape, file: real, byteOffset: dataStart + begin, byteLength: end - begin,
      });
    }
    // Empty tensors occupy no bytes and may sit anywhere. Compare each non-empty range with the
    // non-empty range that reaches furthest so far (not merely its sorted neighbour: an empty
    // tensor between two overlapping ones would otherwise hide the overlap).
    ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let furthest: [number, number, string] | null = null;
    for (const cur of ranges) {
      if (cur[1] === cur[0]) continue;
      if (furthest && cur[0] < furthest[1]) {
        throw new SafetensorsError(file, `tensors "${furthest[2]}" and "${cur[2]}" overlap in the data region`);
      }
      furthest = cur;
    }
    return out;
  }
}

/** Float conversion helpers shared by readers and writers. */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const u32 = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u32[i] = bits[i] << 16;
  return new Float32Array(u32.buffer);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

export function f16BitsToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Round-to-nearest-even float32 -> bfloat16 bits. */
export function f32ToBf16Bits(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0];
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return 0x7fc0;
  return ((u + 0x7fff + ((u >> 16) & 1)) >>> 16) & 0xffff;
}

/** Round-to-nearest-even float32 -> float16 bits. */
export function f32ToF16Bits(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && (r & 1))) r++;
    return sign | r;
  }
  let r = mant >>> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1))) {
    r++;
    if (r === 0x400) { r = 0; e++; if (e >= 31) return sign | 0x7c00; }
  }
  return sign | (e << 10) | r;
}

/** Read access to a set of named tensors (a checkpoint, or a bake overlaid on one). */
export interface Weights {
  readonly path: string;
  keys(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  shape(name: string): readonly number[];
  expectShape(name: string, expected: ReadonlyArray<number | null>): readonly number[];
  readFloat32(name: string): Float32Array;
}

/**
 * A checkpoint: one safetensors file, a sharded set described by `*.safetensors.index.json`,
 * or a folder holding either (diffusers `diffusion_pytorch_model*.safetensors`, transformers
 * `model*.safetensors`).
 */
export class Checkpoint implements Weights {
  private readonly byName = new Map<string, TensorInfo>();

  private constructor(readonly path: string, readonly files: SafetensorsFile[]) {
    for (const f of files) {
      for (const [k, v] of f.tensors) {
        if (this.byName.has(k)) {
          throw new SafetensorsError(f.path, `tensor "${k}" is also present in ${this.byName.get(k)!.file}`);
        }
        this.byName.set(k, v);
      }
    }
  }

  static open(p: string): Checkpoint {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (e) {
      throw new SafetensorsError(p, `not found (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    if (st.isDirectory()) return Checkpoint.openFolder(p);
    if (p.endsWith('.index.json')) return Checkpoint.openIndex(p);
    return new Checkpoint(p, [SafetensorsFile.open(p)]);
  }

  private static openFolder(dir: string): Checkpoint {
    const names = fs.readdirSync(dir);
    const indexes = names.filter((n) => n.endsWith('.safetensors.index.json'));
    if (indexes.length === 1) return Checkpoint.openIndex(path.join(dir, indexes[0]));
    if (indexes.length > 1) {
      throw new SafetensorsError(dir, `holds several checkpoint indexes (${indexes.join(', ')}); point at one of them`);
    }
    const files = names.filter((n) => n.endsWith('.safetensors')).sort();
    if (files.length === 0) throw new SafetensorsError(dir, 'contains no .safetensors file');
    if (files.length > 1) {
      throw new SafetensorsError(dir, `contains several .safetensors files (${files.join(', ')}) and no index; point at one of them`);
    }
    return new Checkpoint(dir, [SafetensorsFile.open(path.join(dir, files[0]))]);
  }

  private static openIndex(indexPath: string): Checkpoint {
    let index: unknown;
    try {
      index = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
    } catch (e) {
      throw new SafetensorsError(indexPath, `cannot read checkpoint index: ${(e as Error).message}`);
    }
    const wm = (index as { weight_map?: unknown } | null)?.weight_map;
    if (wm === null || typeof wm !== 'object' || Array.isArray(wm)) {
      throw new SafetensorsError(indexPath, 'checkpoint index has no "weight_map" object');
    }
    const dir = path.dirname(indexPath);
    const shardNames = [...new Set(Object.values(wm as Record<string, unknown>))];
    for (const s of shardNames) {
      if (typeof s !== 'string' || s.includes('..') || path.isAbsolute(s)) {
        throw new SafetensorsError(indexPath, `weight_map names an invalid shard ${JSON.stringify(s)}`);
      }
    }
    const shards = (shardNames as string[]).sort().map((s) => SafetensorsFile.open(path.join(dir, s)));
    const ck = new Checkpoint(indexPath, shards);
    for (const [key, shard] of Object.entries(wm as Record<string, string>)) {
      const info = ck.byName.get(key);
      if (!info) {
        throw new SafetensorsError(path.join(dir, shard), `index ${path.basename(indexPath)} lists tensor "${key}" but the shard does not contain it`);
      }
      const expected = shards.find((f) => f.path === path.join(dir, shard));
      if (expected && !expected.tensors.has(key)) {
        throw new SafetensorsError(indexPath, `index places "${key}" in ${shard} but it is in ${info.file}`);
      }
    }
    return ck;
  }

  keys(): string[] {
    return [...this.byName.keys()];
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Tensor info; a missing key is an error that names the checkpoint and the key. */
  info(name: string): TensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new SafetensorsError(this.path, `missing tensor "${name}"`);
    return t;
  }

  shape(name: string): readonly number[] {
    return this.info(name).shape;
  }

  /** Check the rank/shape of a tensor; `null` entries are wildcards. */
  expectShape(name: string, expected: ReadonlyArray<number | null>): readonly number[] {
    const s = this.info(name).shape;
    const ok = s.length === expected.length && expected.every((d, i) => d === null || d === s[i]);
    if (!ok) {
      const want = `[${expected.map((d) => (d === null ? '?' : d)).join(', ')}]`;
      throw new SafetensorsError(this.path, `tensor "${name}" has shape [${s.join(', ')}], expected ${want}`);
    }
    return s;
  }

  /** Read raw bytes of one tensor (meant for small tensors: norms, biases, test vectors). */
  readBytes(name: string): Buffer {
    const t = this.info(name);
    const buf = Buffer.alloc(t.byteLength);
    const fd = fs.openSync(t.file, 'r');
    try {
      let done = 0;
      while (done < t.byteLength) {
        const n = fs.readSync(fd, buf, done, t.byteLength - done, t.byteOffset + done);
        if (n <= 0) throw new SafetensorsError(t.file, `unexpected end of file while reading "${name}"`);
        done += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    return buf;
  }

  /** Read a floating-point tensor as float32 (F32, F16, BF16, F64 accepted). */
  readFloat32(name: string): Float32Array {
    const t = this.info(name);
    const b = this.readBytes(name);
    const n = elementCount(t.shape);
    switch (t.dtype) {
      case 'F32': return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      case 'F64': return Float32Array.from(new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
      case 'BF16': return bf16ToF32(new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
      case 'F16': {
        const h = new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = f16BitsToF32(h[i]);
        return out;
      }
      default:
        throw new SafetensorsError(t.file, `tensor "${name}" is ${t.dtype}, expected a floating-point dtype`);
    }
  }

  readFloat64(name: string): Float64Array {
    const t = this.info(name);
    if (t.dtype === 'F64') {
      const b = this.readBytes(name);
      return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    }
    return Float64Array.from(this.readFloat32(name));
  }

  /** Read an integer tensor as BigInt64Array (I64, I32, U8, BOOL accepted). */
  readInt64(name: string): BigInt64Array {
    const t = this.info(name);
    const b = this.readBytes(name);
    const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    switch (t.dtype) {
      case 'I64': return new BigInt64Array(ab);
      case 'I32': return BigInt64Array.from(new Int32Array(ab), (v) => BigInt(v));
      case 'U8': case 'BOOL': return BigInt64Array.from(new Uint8Array(ab), (v) => BigInt(v));
      default:
        throw new SafetensorsError(t.file, `tensor "${name}" is ${t.dtype}, expected an integer dtype`);
    }
  }

  /** Total number of parameters (elements) in the checkpoint, optionally filtered by key. */
  parameterCount(filter: (key: string) => boolean = () => true): number {
    let n = 0;
    for (const [k, v] of this.byName) if (filter(k)) n += elementCount(v.shape);
    return n;
  }
}

// ---------------------------------------------------------------------------------------------
// Writer (test vectors, CLI outputs, bake cache, tiny model kits)

export interface TensorToWrite {
  dtype: DType;
  shape: readonly number[];
  data: ArrayBufferView;
}

/** Serialize tensors to safetensors bytes (header padded with spaces to a multiple of 8). */
export function encodeSafetensors(
  tensors: Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Buffer {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const n of names) {
    const t = tensors[n];
    const expected = elementCount(t.shape) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== expected) {
      throw new Error(`encodeSafetensors: "${n}" ${t.dtype}[${t.shape.join(',')}] needs ${expected} bytes, got ${t.data.byteLength}`);
    }
    header[n] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + expected] };
    offset += expected;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let pos = 8 + json.length;
  for (const n of names) {
    const d = tensors[n].data;
    Buffer.from(d.buffer, d.byteOffset, d.byteLength).copy(out, pos);
    pos += d.byteLength;
  }
  return out;
}

/** Write a safetensors file atomically: temp file in the same folder, fsync, rename. */
export function writeSafetensorsFile(
  file: string,
  tensors: Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): void {
  const bytes = encodeSafetensors(tensors, metadata);
  const tmp = `${file}.${process.pid}.${Date.now()}.partial`;
  const fd = fs.openSync(tmp, 'w');
  try {
    try {
      // writeSync may write fewer bytes than asked (large buffers): loop until done.
      for (let done = 0; done < bytes.length;) done += fs.writeSync(fd, bytes, done, bytes.length - done);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Tensors of `overlay` (e.g. a LoRA-merged or quantized bake) take precedence over `base`;
 * everything else comes from `base`. Keys absent from `base` are not allowed in the overlay
 * unless listed in `extraKeys` (e.g. quantization scales).
 */
export class OverlayWeights implements Weights {
  /** The base checkpoint's path: configs beside it (config.json) still apply to the overlaid weights. */
  readonly path: string;
  constructor(readonly base: Weights, readonly overlay: Weights) {
    this.path = base.path;
  }

  keys(): string[] {
    return [...new Set([...this.base.keys(), ...this.overlay.keys()])];
  }

  has(name: string): boolean {
    return this.overlay.has(name) || this.base.has(name);
  }

  private pick(name: string): Weights {
    return this.overlay.has(name) ? this.overlay : this.base;
  }

  info(name: string): TensorInfo {
    if (!this.has(name)) throw new SafetensorsError(this.base.path, `missing tensor "${name}"`);
    return this.pick(name).info(name);
  }

  shape(name: string): readonly number[] {
    return this.info(name).shape;
  }

  expectShape(name: string, expected: ReadonlyArray<number | null>): readonly number[] {
    return this.pick(name).expectShape(name, expected);
  }

  readFloat32(name: string): Float32Array {
    return this.pick(name).readFloat32(name);
  }
}
