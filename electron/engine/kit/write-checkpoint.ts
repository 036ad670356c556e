// Writers for generated checkpoints: seeded random weights (tiny model kits) and header-only
// sparse files with real sizes (the data region is a hole: nothing is allocated on disk).
import fs from 'node:fs';
import { DTYPE_BYTES, elementCount, encodeSafetensors, f32ToBf16Bits, f32ToF16Bits, type TensorToWrite } from '../runtime/safetensors.js';
import type { CheckpointSpec, TensorSpec } from './checkpoint-shapes.js';

/**
 * Small seeded PRNG (mulberry32) with Box–Muller normals. Hand-written: we need a stable,
 * dependency-free stream so a kit written today has the same bytes tomorrow.
 */
export class SeededRandom {
  private state: number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }
}

function randomValues(spec: TensorSpec, rng: SeededRandom): Float32Array {
  const n = elementCount(spec.shape);
  const out = new Float32Array(n);
  const fanIn = spec.shape.length > 1 ? elementCount(spec.shape.slice(1)) : 1;
  for (let i = 0; i < n; i++) {
    const z = rng.normal();
    if (spec.init === 'matrix') out[i] = z / Math.sqrt(fanIn);
    else if (spec.init === 'scale') out[i] = 1 + 0.1 * z;
    else out[i] = 0.05 * z;
  }
  return out;
}

function encodeValues(values: Float32Array, spec: TensorSpec): ArrayBufferView {
  switch (spec.dtype) {
    case 'F32': return values;
    case 'BF16': return Uint16Array.from(values, (v) => f32ToBf16Bits(v));
    case 'F16': return Uint16Array.from(values, (v) => f32ToF16Bits(v));
    default: throw new Error(`random weights: unsupported dtype ${spec.dtype}`);
  }
}

/** Random tensors for a spec, in key order, from one seeded stream. */
export function randomTensors(spec: CheckpointSpec, seed: number): Record<string, TensorToWrite> {
  const rng = new SeededRandom(seed);
  const out: Record<string, TensorToWrite> = {};
  for (const key of Object.keys(spec).sort()) {
    const s = spec[key];
    out[key] = { dtype: s.dtype, shape: s.shape, data: encodeValues(randomValues(s, rng), s) };
  }
  return out;
}

/** Header of a safetensors file for `spec` plus the total file size (no data). */
export function headerOnlyBytes(spec: CheckpointSpec): { header: Buffer; fileSize: number } {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const key of Object.keys(spec).sort()) {
    const s = spec[key];
    const n = elementCount(s.shape) * DTYPE_BYTES[s.dtype];
    header[key] = { dtype: s.dtype, shape: s.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return { header: Buffer.concat([prefix, json]), fileSize: 8 + json.length + offset };
}

/** A sparse safetensors file with real shapes and no data (reads of the data return zeros). */
export function writeHeaderOnlyCheckpoint(file: string, spec: CheckpointSpec): number {
  const { header, fileSize } = headerOnlyBytes(spec);
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, header);
    fs.ftruncateSync(fd, fileSize);
  } finally {
    fs.closeSync(fd);
  }
  return fileSize;
}

/** A checkpoint of seeded random weights (small models only: built in memory). */
export function writeRandomCheckpoint(file: string, spec: CheckpointSpec, seed: number, metadata?: Record<string, string>): void {
  fs.writeFileSync(file, encodeSafetensors(randomTensors(spec, seed), metadata));
}
