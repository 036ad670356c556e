// Seeded fuzzing of the safetensors header parser. Every input must either parse into tensors that
// lie inside the data region (no overlaps, sizes matching dtype x shape) or throw a
// SafetensorsError whose message starts with the file name. Any other exception, or a slow case,
// fails the test. Reproducible: the PRNG seed and the case label are in every failure message.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DTYPE_BYTES, SafetensorsError, SafetensorsFile, elementCount, encodeSafetensors, type DType,
} from '../../../electron/engine/runtime/safetensors.js';

const SEED = 0x5eed_2026;
const NAME = 'fuzz/model.safetensors';

/** mulberry32: small, fast, good enough for fuzzing. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Outcome = 'parsed' | 'rejected';

/** Parse `bytes` and check the contract; returns what happened or throws a descriptive Error. */
function check(bytes: Uint8Array, label: string, name = NAME, open: () => SafetensorsFile = () => SafetensorsFile.fromBuffer(name, bytes)): Outcome {
  let f: SafetensorsFile | null = null;
  let error: unknown = null;
  const t0 = performance.now();
  try {
    f = open();
  } catch (e) {
    error = e;
  }
  const ms = performance.now() - t0;
  if (ms > 250) throw new Error(`[seed ${SEED}] ${label}: took ${ms.toFixed(0)} ms`);
  if (!f) {
    if (!(error instanceof SafetensorsError)) {
      throw new Error(`[seed ${SEED}] ${label}: threw ${(error as Error)?.constructor?.name} instead of SafetensorsError: ${(error as Error)?.message}`);
    }
    if (!error.message.startsWith(`${name}: `) || error.message.length <= name.length + 2) {
      throw new Error(`[seed ${SEED}] ${label}: message does not start with the file name: ${error.message}`);
    }
    return 'rejected';
  }
  const dataStart = 8 + f.headerLength;
  if (f.fileSize !== bytes.length) throw new Error(`${label}: fileSize ${f.fileSize} != ${bytes.length}`);
  const nonEmpty: Array<[number, number, string]> = [];
  for (const t of f.tensors.values()) {
    const bad = (what: string) => new Error(`[seed ${SEED}] ${label}: parsed, but tensor "${t.name}" ${what}`);
    if (!Object.prototype.hasOwnProperty.call(DTYPE_BYTES, t.dtype)) throw bad(`has dtype ${t.dtype}`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`has shape ${JSON.stringify(t.shape)}`);
    if (t.byteLength !== elementCount(t.shape) * DTYPE_BYTES[t.dtype]) throw bad(`has ${t.byteLength} bytes for ${t.dtype}[${t.shape}]`);
    if (!(t.byteOffset >= dataStart)) throw bad(`starts at ${t.byteOffset}, inside the header (data starts at ${dataStart})`);
    if (!(t.byteOffset + t.byteLength <= bytes.length)) throw bad(`ends at ${t.byteOffset + t.byteLength}, past the file (${bytes.length})`);
    if (t.byteLength > 0) nonEmpty.push([t.byteOffset, t.byteOffset + t.byteLength, t.name]);
  }
  for (let i = 0; i < nonEmpty.length; i++) {
    for (let j = i + 1; j < nonEmpty.length; j++) {
      const [a, b] = [nonEmpty[i], nonEmpty[j]];
      if (a[0] < b[1] && b[0] < a[1]) throw new Error(`[seed ${SEED}] ${label}: parsed, but "${a[2]}" and "${b[2]}" overlap`);
    }
  }
  return 'parsed';
}

/** A small valid file: mixed dtypes, an empty tensor, metadata; the last tensor ends at EOF. */
function baseFile(): Buffer {
  return encodeSafetensors({
    'a.bias': { dtype: 'F32', shape: [3], data: Float32Array.from([1, 2, 3]) },
    'a.weight': { dtype: 'BF16', shape: [2, 3], data: Uint16Array.from([0x3f80, 0, 0x4000, 1, 2, 3]) },
    'b.empty': { dtype: 'F16', shape: [0, 5], data: new Uint16Array(0) },
    'b.ids': { dtype: 'I64', shape: [2], data: BigInt64Array.from([7n, -7n]) },
    'c.mask': { dtype: 'U8', shape: [5], data: Uint8Array.from([1, 0, 1, 1, 0]) },
  }, { format: 'pt' });
}

function headerOf(bytes: Buffer): { len: number; json: Record<string, unknown>; data: Buffer } {
  const len = Number(bytes.readBigUInt64LE(0));
  return { len, json: JSON.parse(bytes.subarray(8, 8 + len).toString('utf8')), data: bytes.subarray(8 + len) };
}

function assemble(headerText: Uint8Array, data: Uint8Array, headerLen: bigint = BigInt(headerText.length)): Buffer {
  const out = Buffer.alloc(8 + headerText.length + data.length);
  out.writeBigUInt64LE(headerLen & 0xffff_ffff_ffff_ffffn, 0);
  out.set(headerText, 8);
  out.set(data, 8 + headerText.length);
  return out;
}

describe('safetensors parser fuzzing', () => {
  const base = baseFile();
  const { len: baseLen, json: baseJson, data: baseData } = headerOf(base);
  let tmp: string;
  const tally = new Map<string, Record<Outcome, number>>();
  const count = (group: string, o: Outcome) => {
    const t = tally.get(group) ?? { parsed: 0, rejected: 0 };
    t[o]++;
    tally.set(group, t);
  };

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'umo-st-fuzz-'));
  });
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the base file parses', () => {
    expect(check(base, 'base')).toBe('parsed');
    expect(SafetensorsFile.fromBuffer(NAME, base).tensors.size).toBe(5);
  });

  it('every truncation is rejected, in memory and on disk', () => {
    const file = path.join(tmp, 'trunc.safetensors');
    for (let n = 0; n < base.length; n++) {
      const cut = base.subarray(0, n);
      expect(check(cut, `truncate to ${n}`)).toBe('rejected');
      fs.writeFileSync(file, cut);
      expect(check(cut, `truncate to ${n} (disk)`, file, () => SafetensorsFile.open(file))).toBe('rejected');
    }
    // Trailing bytes after the last tensor are tolerated (unused space), and stay outside every tensor.
    expect(check(Buffer.concat([base, Buffer.alloc(13, 0xab)]), 'extended')).toBe('parsed');
  }, 10_000);

  it('random bit flips in the length prefix and the header', () => {
    const rnd = prng(SEED);
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(base);
      const flips = 1 + Math.floor(rnd() * 3);
      const where: number[] = [];
      for (let k = 0; k < flips; k++) {
        // Half of the flips hit the 8-byte length, half the JSON text.
        const pos = rnd() < 0.3 ? Math.floor(rnd() * 8) : 8 + Math.floor(rnd() * baseLen);
        const bit = Math.floor(rnd() * 8);
        b[pos] ^= 1 << bit;
        where.push(pos * 8 + bit);
      }
      count('bitflip', check(b, `bitflip #${i} bits [${where.join(',')}]`));
    }
    const t = tally.get('bitflip')!;
    expect(t.rejected).toBeGreaterThan(1000);
    expect(t.parsed).toBeGreaterThan(10); // flips in padding spaces / metadata strings still parse
  }, 10_000);

  it('random and absurd header lengths', () => {
    const rnd = prng(SEED + 1);
    const headerText = base.subarray(8, 8 + baseLen);
    const special = [0n, 1n, 2n, 7n, 8n, BigInt(baseLen - 1), BigInt(baseLen + 1), BigInt(base.length), 2n ** 31n, 2n ** 32n,
      2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 63n - 1n, 2n ** 64n - 1n, 100n * 1024n * 1024n, 100n * 1024n * 1024n + 1n];
    const lengths = [...special];
    for (let i = 0; i < 800; i++) {
      const r = rnd();
      if (r < 0.4) lengths.push(BigInt(Math.floor(rnd() * (base.length + 64))));
      else if (r < 0.7) lengths.push(BigInt(Math.floor(rnd() * 2 ** 32)) << BigInt(Math.floor(rnd() * 32)));
      else lengths.push(BigInt(baseLen) + BigInt(Math.floor(rnd() * 17) - 8));
    }
    // The header is padded with spaces; a length that drops only padding still holds the whole
    // JSON object. Anything shorter cuts the JSON, anything longer pulls data bytes (starting with
    // 0x00) into it: both must be rejected.
    const pad = baseLen - headerText.toString('latin1').trimEnd().length;
    expect(pad).toBeGreaterThan(0);
    for (const n of lengths) {
      const outcome = check(assemble(headerText, baseData, n), `header length ${n}`);
      const expected = n >= BigInt(baseLen - pad) && n <= BigInt(baseLen) ? 'parsed' : 'rejected';
      if (outcome !== expected) throw new Error(`[seed ${SEED}] header length ${n}: ${outcome}, expected ${expected}`);
      count('length', outcome);
    }
    expect(tally.get('length')!.rejected).toBeGreaterThan(600);
  }, 10_000);

  it('random JSON structure mutations', () => {
    const rnd = prng(SEED + 2);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
    const randInt = (n: number) => Math.floor(rnd() * n);
    const dtypes: unknown[] = [...Object.keys(DTYPE_BYTES) as DType[], 'F128', '', 'f32', 'toString', '__proto__', 5, null, ['F32'], {}];
    const shapes: unknown[] = [[], [0], [-1], [1.5], [2 ** 53], [1e308], 'x', null, {}, [[1]], [1, -0], [3], [2, 3], [5], [1, 1, 1, 1],
      [2 ** 26, 2 ** 26], [1e-7], [true]];
    const offsets = (): unknown => {
      const d = baseData.length;
      const r = rnd();
      if (r < 0.4) { const a = randInt(d + 8); return [a, a + randInt(20)]; }
      if (r < 0.6) { const a = randInt(d + 8); return [a + randInt(20), a]; }
      return pick<unknown>([[0], [0, 4, 8], [-1, 3], [1e20, 1e20 + 4], ['0', '4'], null, 'x', [0, 2 ** 53], [0.5, 4.5], [],
        [0, d], [d, d], [d - 1, d + 1]]);
    };
    const specialKeys = ['__proto__', 'constructor', '', 'ü', '\u0000', 'hasOwnProperty', '__metadata__'];
    for (let i = 0; i < 2500; i++) {
      const json = structuredClone(baseJson) as Record<string, Record<string, unknown> | unknown>;
      const keys = Object.keys(json).filter((k) => k !== '__metadata__');
      const steps: string[] = [];
      const nSteps = 1 + randInt(3);
      let renameTo: [string, string] | null = null;
      for (let s = 0; s < nSteps; s++) {
        const k = pick(keys);
        const entry = json[k] as Record<string, unknown>;
        const m = randInt(11);
        steps.push(`${m}:${k}`);
        if (m === 0 && typeof entry === 'object' && entry) entry.dtype = pick(dtypes);
        else if (m === 1 && typeof entry === 'object' && entry) entry.shape = pick(shapes);
        else if (m === 2 && typeof entry === 'object' && entry) entry.data_offsets = offsets();
        else if (m === 3 && typeof entry === 'object' && entry) delete entry[pick(['dtype', 'shape', 'data_offsets'])];
        else if (m === 4) json[k] = pick<unknown>([null, 1, 'str', [], {}, true]);
        else if (m === 5) json[`extra${i}`] = { dtype: pick(dtypes), shape: pick(shapes), data_offsets: offsets() };
        else if (m === 6) json.__metadata__ = pick<unknown>([null, [], 'x', { a: 1 }, { a: 'b' }, { a: { b: 'c' } }, {}]);
        else if (m === 7) renameTo = [k, pick(specialKeys)];
        else if (m === 8) {
          // Point a tensor at another tensor's bytes (same size, different name): must be an overlap.
          const other = pick(keys);
          if (typeof entry === 'object' && entry && typeof json[other] === 'object' && json[other]) {
            json[`alias${i}`] = { ...(json[other] as object) };
          }
        } else if (m === 9) delete json[k];
        else json[k] = { dtype: pick(dtypes), shape: pick(shapes), data_offsets: offsets() };
      }
      let text = JSON.stringify(json);
      if (renameTo) text = text.replace(`"${renameTo[0]}"`, JSON.stringify(renameTo[1]));
      if (rnd() < 0.3) text += ' '.repeat(randInt(9));
      const header = Buffer.from(text, 'utf8');
      const r = rnd();
      const data = r < 0.8 ? baseData : r < 0.9 ? baseData.subarray(0, randInt(baseData.length)) : Buffer.concat([baseData, Buffer.alloc(randInt(40))]);
      const lenDelta = rnd() < 0.1 ? BigInt(randInt(7) - 3) : 0n;
      count('json', check(assemble(header, data, BigInt(header.length) + lenDelta), `json #${i} [${steps.join(' ')}]${renameTo ? ` rename ${renameTo.join('->')}` : ''}`));
    }
    const t = tally.get('json')!;
    expect(t.parsed).toBeGreaterThan(50);
    expect(t.rejected).toBeGreaterThan(1500);
  }, 10_000);

  it('random tensor layouts: accepted exactly when no two non-empty tensors overlap', () => {
    const rnd = prng(SEED + 4);
    let overlapping = 0;
    for (let i = 0; i < 3000; i++) {
      const n = 2 + Math.floor(rnd() * 5);
      const header: Record<string, unknown> = {};
      const ranges: Array<[number, number]> = [];
      for (let k = 0; k < n; k++) {
        const begin = Math.floor(rnd() * 32);
        const len = rnd() < 0.3 ? 0 : 1 + Math.floor(rnd() * 8);
        header[`t${k}`] = { dtype: 'U8', shape: [len], data_offsets: [begin, begin + len] };
        ranges.push([begin, begin + len]);
      }
      const overlap = ranges.some(([a0, a1], x) => ranges.some(([b0, b1], y) => x < y && a1 > a0 && b1 > b0 && a0 < b1 && b0 < a1));
      if (overlap) overlapping++;
      const label = `layout #${i} ${JSON.stringify(ranges)}`;
      const outcome = check(assemble(Buffer.from(JSON.stringify(header)), new Uint8Array(40)), label);
      if (outcome !== (overlap ? 'rejected' : 'parsed')) throw new Error(`[seed ${SEED}] ${label}: ${outcome}, expected ${overlap ? 'rejected' : 'parsed'}`);
    }
    expect(overlapping).toBeGreaterThan(1000);
    expect(overlapping).toBeLessThan(2900);
  }, 10_000);

  it('random text edits of the header and random garbage', () => {
    const rnd = prng(SEED + 3);
    const headerText = base.subarray(8, 8 + baseLen).toString('utf8');
    const alphabet = ['{', '}', '[', ']', '"', ',', ':', '0', '9', '.', '-', 'e', ' ', '\\', 'é', '\uffff', '\ud800', 'null', 'true', '1e400'];
    for (let i = 0; i < 1500; i++) {
      let t = headerText;
      const edits = 1 + Math.floor(rnd() * 4);
      for (let k = 0; k < edits; k++) {
        const pos = Math.floor(rnd() * (t.length + 1));
        const op = rnd();
        if (op < 0.33) t = t.slice(0, pos) + alphabet[Math.floor(rnd() * alphabet.length)] + t.slice(pos);
        else if (op < 0.66) t = t.slice(0, pos) + t.slice(pos + 1 + Math.floor(rnd() * 4));
        else t = t.slice(0, pos) + alphabet[Math.floor(rnd() * alphabet.length)] + t.slice(pos + 1);
      }
      const header = Buffer.from(t, 'utf8');
      count('text', check(assemble(header, baseData), `text edit #${i}`));
    }
    for (let i = 0; i < 300; i++) {
      const n = Math.floor(rnd() * 200);
      const g = Buffer.alloc(n);
      for (let k = 0; k < n; k++) g[k] = Math.floor(rnd() * 256);
      if (n >= 8 && rnd() < 0.7) g.writeBigUInt64LE(BigInt(Math.floor(rnd() * n)), 0);
      count('garbage', check(g, `garbage #${i}`));
    }
    // Invalid UTF-8 inside an otherwise valid header.
    const bad = Buffer.from(base);
    bad[8 + baseLen - 3] = 0xc3;
    expect(check(bad, 'invalid utf-8')).toBe('rejected');
    expect(tally.get('text')!.rejected).toBeGreaterThan(1000);
  }, 10_000);
});
