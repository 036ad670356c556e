// Streaming safetensors writer: the header is computed up front from the declared tensor
// specs, then each tensor's bytes are appended in declaration order, so files of many GB are
// written without ever holding more than one tensor in memory.
import fs from 'node:fs';
import {
  type DType, DTYPE_BYTES, elementCount, f32ToF16Bits,
} from './safetensors.js';

export interface TensorSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** Header bytes (length prefix + space-padded JSON) and total data size for `specs`, in order. */
export function safetensorsHeaderFor(
  specs: readonly TensorSpec[],
  metadata?: Record<string, string>,
): { header: Buffer; dataBytes: number } {
  const json: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) json.__metadata__ = metadata;
  const seen = new Set<string>();
  let offset = 0;
  for (const s of specs) {
    if (s.name === '__metadata__') throw new Error('safetensors: "__metadata__" is not a valid tensor name');
    if (seen.has(s.name)) throw new Error(`safetensors: tensor "${s.name}" declared twice`);
    seen.add(s.name);
    if (!s.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`safetensors: tensor "${s.name}" has an invalid shape [${s.shape.join(', ')}]`);
    }
    const n = elementCount(s.shape) * DTYPE_BYTES[s.dtype];
    json[s.name] = { dtype: s.dtype, shape: [...s.shape], data_offsets: [offset, offset + n] };
    offset += n;
  }
  let body = Buffer.from(JSON.stringify(json), 'utf8');
  const pad = (8 - (body.length % 8)) % 8;
  if (pad) body = Buffer.concat([body, Buffer.alloc(pad, 0x20)]);
  const header = Buffer.alloc(8 + body.length);
  header.writeBigUInt64LE(BigInt(body.length), 0);
  body.copy(header, 8);
  return { header, dataBytes: offset };
}

/** float32 values encoded as `dtype` (F32 as is; BF16/F16 round-to-nearest-even). */
export function encodeFloat32As(data: Float32Array, dtype: DType): ArrayBufferView {
  switch (dtype) {
    case 'F32':
      return data;
    case 'BF16': {
      const u = new Uint32Array(data.buffer, data.byteOffset, data.length);
      const out = new Uint16Array(data.length);
      for (let i = 0; i < u.length; i++) {
        const x = u[i];
        // NaN stays a quiet NaN; everything else rounds to nearest even (overflow -> inf).
        out[i] = (x & 0x7fffffff) > 0x7f800000 ? ((x >>> 16) | 0x40) : ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16);
      }
      return out;
    }
    case 'F16': {
      const out = new Uint16Array(data.length);
      for (let i = 0; i < data.length; i++) out[i] = f32ToF16Bits(data[i]);
      return out;
    }
    default:
      throw new Error(`encodeFloat32As: cannot encode float32 values as ${dtype}`);
  }
}

/** Writes one safetensors file tensor by tensor; `finish()` checks completeness and fsyncs. */
export class SafetensorsStreamWriter {
  private fd: number | null;
  private next = 0;
  private written = 0;
  readonly totalBytes: number;

  private constructor(readonly file: string, private readonly specs: readonly TensorSpec[], fd: number, totalBytes: number) {
    this.fd = fd;
    this.totalBytes = totalBytes;
  }

  /** Create (truncate) `file` and write the header for `specs`. */
  static create(file: string, specs: readonly TensorSpec[], metadata?: Record<string, string>): SafetensorsStreamWriter {
    const { header, dataBytes } = safetensorsHeaderFor(specs, metadata);
    const fd = fs.openSync(file, 'w');
    const w = new SafetensorsStreamWriter(file, specs, fd, header.length + dataBytes);
    try {
      w.writeAll(header);
    } catch (e) {
      w.abort();
      throw e;
    }
    return w;
  }

  /** The tensor expected next, or null when all were written. */
  get pending(): TensorSpec | null {
    return this.next < this.specs.length ? this.specs[this.next] : null;
  }

  /** Append the raw bytes of the next tensor (must be `name`, with exactly the declared size). */
  write(name: string, data: ArrayBufferView): void {
    const spec = this.expectNext(name);
    const expected = elementCount(spec.shape) * DTYPE_BYTES[spec.dtype];
    if (data.byteLength !== expected) {
      throw new Error(`${this.file}: tensor "${name}" ${spec.dtype}[${spec.shape.join(', ')}] needs ${expected} bytes, got ${data.byteLength}`);
    }
    this.writeAll(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    this.next++;
  }

  /** Append float32 values for the next tensor, converted to its declared float dtype. */
  writeFloat32(name: string, data: Float32Array): void {
    const spec = this.expectNext(name);
    if (data.length !== elementCount(spec.shape)) {
      throw new Error(`${this.file}: tensor "${name}" [${spec.shape.join(', ')}] needs ${elementCount(spec.shape)} values, got ${data.length}`);
    }
    this.write(name, encodeFloat32As(data, spec.dtype));
  }

  /** Check every declared tensor was written, fsync and close. */
  finish(): void {
    if (this.fd === null) throw new Error(`${this.file}: writer already closed`);
    if (this.next !== this.specs.length) {
      throw new Error(`${this.file}: ${this.specs.length - this.next} declared tensors were not written (next: "${this.specs[this.next].name}")`);
    }
    if (this.written !== this.totalBytes) {
      throw new Error(`${this.file}: wrote ${this.written} bytes, expected ${this.totalBytes}`);
    }
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = null;
  }

  /** Close without completing (the file is left as is; callers delete it). */
  abort(): void {
    if (this.fd === null) return;
    try {
      fs.closeSync(this.fd);
    } finally {
      this.fd = null;
    }
  }

  get closed(): boolean {
    return this.fd === null;
  }

  private expectNext(name: string): TensorSpec {
    if (this.fd === null) throw new Error(`${this.file}: writer is closed`);
    const spec = this.specs[this.next];
    if (!spec) throw new Error(`${this.file}: tensor "${name}" was not declared (all declared tensors are written)`);
    if (spec.name !== name) throw new Error(`${this.file}: expected tensor "${spec.name}" next, got "${name}"`);
    return spec;
  }

  private writeAll(buf: Buffer): void {
    let done = 0;
    while (done < buf.length) {
      const n = fs.writeSync(this.fd!, buf, done, Math.min(buf.length - done, 1 << 30));
      if (n <= 0) throw new Error(`${this.file}: write returned ${n}`);
      done += n;
    }
    this.written += buf.length;
  }
}
