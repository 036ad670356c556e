import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BAKE_KEY_METADATA, BakeCache, type BakeOutput, bakeKey } from '../../../electron/engine/runtime/bake-cache.js';
import { Checkpoint, SafetensorsFile, bf16ToF32, f32ToBf16Bits, f32ToF16Bits, f16BitsToF32 } from '../../../electron/engine/runtime/safetensors.js';
import { SafetensorsStreamWriter, encodeFloat32As } from '../../../electron/engine/runtime/safetensors-stream-writer.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bake-cache-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = () => path.join(root, `c${dirCount++}`);

/** A producer writing `n` float32 tensors of `size` values (value = tensor index + position / size). */
function producer(n: number, size: number, calls: { count: number }) {
  return async (out: BakeOutput) => {
    calls.count++;
    const w = out.begin(Array.from({ length: n }, (_, i) => ({ name: `t${i}`, dtype: 'F32' as const, shape: [size] })), { note: 'test' });
    for (let i = 0; i < n; i++) {
      w.writeFloat32(`t${i}`, Float32Array.from({ length: size }, (_, j) => i + j / size));
      await new Promise((r) => setImmediate(r));
    }
    w.finish();
  };
}

const key = (s: string) => bakeKey({ test: s });

describe('bakeKey', () => {
  it('is a sha256 of canonical JSON (object key order does not matter, values do)', () => {
    expect(bakeKey({ a: 1, b: [1, 2] })).toBe(bakeKey({ b: [1, 2], a: 1 }));
    expect(bakeKey({ a: 1, b: [1, 2] })).not.toBe(bakeKey({ a: 1, b: [2, 1] }));
    expect(bakeKey({ a: 1 })).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('SafetensorsStreamWriter', () => {
  it('writes a file the reader validates, converting float32 to the declared dtype', () => {
    const file = path.join(root, 'stream.safetensors');
    const vals = Float32Array.of(1, -2.5, 3.14159, 65504, 1e-8, 0.1);
    const w = SafetensorsStreamWriter.create(file, [
      { name: 'z', dtype: 'F32', shape: [2, 3] },
      { name: 'a', dtype: 'BF16', shape: [6] },
      { name: 'h', dtype: 'F16', shape: [3, 2] },
    ], { k: 'v' });
    w.writeFloat32('z', vals);
    w.writeFloat32('a', vals);
    w.writeFloat32('h', vals);
    w.finish();
    const ck = Checkpoint.open(file);
    expect(SafetensorsFile.open(file).metadata).toEqual({ k: 'v' });
    expect(Array.from(ck.readFloat32('z'))).toEqual(Array.from(vals));
    expect(Array.from(ck.readFloat32('a'))).toEqual(Array.from(bf16ToF32(Uint16Array.from(vals, (x) => f32ToBf16Bits(x)))));
    expect(Array.from(ck.readFloat32('h'))).toEqual(Array.from(vals, (x) => f16BitsToF32(f32ToF16Bits(x))));
    expect(fs.statSync(file).size).toBe(w.totalBytes);
  });

  it('bf16 encoding matches the scalar round-to-nearest-even on random and edge values', () => {
    const v = new Float32Array(10000);
    const u = new Uint32Array(v.buffer);
    for (let i = 0; i < u.length; i++) u[i] = crypto.randomBytes(4).readUInt32LE(0);
    v.set([0, -0, Infinity, -Infinity, 3.4e38, 1.0000000596], 0);
    const bits = encodeFloat32As(v, 'BF16') as Uint16Array;
    for (let i = 0; i < v.length; i++) {
      if (Number.isNaN(v[i])) expect(bf16ToF32(Uint16Array.of(bits[i]))[0]).toBeNaN();
      else expect(bits[i]).toBe(f32ToBf16Bits(v[i]));
    }
  });

  it('refuses out-of-order, wrongly sized and missing tensors', () => {
    const file = path.join(root, 'bad.safetensors');
    const w = SafetensorsStreamWriter.create(file, [{ name: 'a', dtype: 'F32', shape: [2] }, { name: 'b', dtype: 'F32', shape: [2] }]);
    expect(() => w.writeFloat32('b', Float32Array.of(1, 2))).toThrow(/expected tensor "a" next, got "b"/);
    expect(() => w.writeFloat32('a', Float32Array.of(1))).toThrow(/needs 2 values, got 1/);
    w.writeFloat32('a', Float32Array.of(1, 2));
    expect(() => w.finish()).toThrow(/1 declared tensors were not written \(next: "b"\)/);
    w.abort();
  });
});

describe('BakeCache', () => {
  it('bakes once, then hits without calling the producer (also after a restart)', async () => {
    const dir = freshDir();
    const calls = { count: 0 };
    const k = key('hit');
    const cache = BakeCache.open({ dir, maxBytes: 1e9 });
    const bake = await cache.getOrBake(k, producer(8, 1 << 20, calls)); // 8 × 4 MB
    expect(bake.hit).toBe(false);
    expect(calls.count).toBe(1);
    const ck = Checkpoint.open(bake.path);
    expect(SafetensorsFile.open(bake.path).metadata).toEqual({ note: 'test', [BAKE_KEY_METADATA]: k });
    expect(ck.readFloat32('t3')[(1 << 19)]).toBe(3.5);
    bake.release();
    const hit = await cache.getOrBake(k, producer(8, 1 << 20, calls));
    expect(hit.hit).toBe(true);
    expect(calls.count).toBe(1);
    hit.release();
    console.log(`32 MB bake: ${bake.ms.toFixed(1)} ms; cache hit: ${hit.ms.toFixed(2)} ms`);
    expect(hit.ms).toBeLessThan(bake.ms);

    const restarted = BakeCache.open({ dir, maxBytes: 1e9 });
    const again = await restarted.getOrBake(k, producer(8, 1 << 20, calls));
    expect(again.hit).toBe(true);
    expect(calls.count).toBe(1);
    expect(restarted.has(k)).toBe(true);
    again.release();
  });

  it('shares one bake between concurrent calls for the same key', async () => {
    const cache = BakeCache.open({ dir: freshDir(), maxBytes: 1e9 });
    const calls = { count: 0 };
    const k = key('concurrent');
    const [a, b] = await Promise.all([cache.getOrBake(k, producer(3, 1000, calls)), cache.getOrBake(k, producer(3, 1000, calls))]);
    expect(calls.count).toBe(1);
    expect([a.hit, b.hit].sort()).toEqual([false, true]);
    a.release();
    b.release();
  });

  it('evicts least recently used bakes beyond the size limit', async () => {
    const dir = freshDir();
    const calls = { count: 0 };
    const size = 100_000; // 400 KB of data per bake
    const cache = BakeCache.open({ dir, maxBytes: 2.5 * 4 * size });
    const [a, b, c] = ['a', 'b', 'c'].map(key);
    (await cache.getOrBake(a, producer(1, size, calls))).release();
    (await cache.getOrBake(b, producer(1, size, calls))).release();
    (await cache.getOrBake(a, producer(1, size, calls))).release(); // touch a: b is now least recently used
    const bakeC = await cache.getOrBake(c, producer(1, size, calls));
    bakeC.release();
    expect(bakeC.evicted).toEqual([b]);
    expect(cache.list().map((e) => e.key).sort()).toEqual([a, c].sort());
    expect(cache.totalBytes()).toBeLessThanOrEqual(cache.maxBytes);
    expect(calls.count).toBe(3);
  });

  it('never evicts a bake in use, nor the one just made', async () => {
    const dir = freshDir();
    const calls = { count: 0 };
    const size = 100_000;
    const cache = BakeCache.open({ dir, maxBytes: 1.5 * 4 * size }); // room for one bake only
    const [a, b, c] = ['a', 'b', 'c'].map(key);
    const held = await cache.getOrBake(a, producer(1, size, calls));
    const bakeB = await cache.getOrBake(b, producer(1, size, calls));
    expect(bakeB.evicted).toEqual([]); // a is in use, b is the current call's
    expect(cache.has(a) && cache.has(b)).toBe(true);
    held.release();
    bakeB.release();
    const bakeC = await cache.getOrBake(c, producer(1, size, calls));
    expect(bakeC.evicted).toEqual([a, b]);
    expect(cache.list().map((e) => e.key)).toEqual([c]);
    bakeC.release();
  });

  it('leaves nothing behind when the producer throws mid-write, and bakes again next time', async () => {
    const dir = freshDir();
    const cache = BakeCache.open({ dir, maxBytes: 1e9 });
    const k = key('throw');
    await expect(cache.getOrBake(k, async (out) => {
      const w = out.begin([{ name: 'x', dtype: 'F32', shape: [1000] }, { name: 'y', dtype: 'F32', shape: [1000] }]);
      w.writeFloat32('x', new Float32Array(1000));
      throw new Error('producer failed');
    })).rejects.toThrow('producer failed');
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors') || f.endsWith('.partial'))).toEqual([]);
    // A producer that returns without writing everything is an error too.
    await expect(cache.getOrBake(k, async (out) => {
      out.begin([{ name: 'x', dtype: 'F32', shape: [10] }]);
    })).rejects.toThrow(/declared tensors were not written/);
    const calls = { count: 0 };
    const ok = await cache.getOrBake(k, producer(2, 10, calls));
    expect(ok.hit).toBe(false);
    ok.release();
  });

  it('ignores and removes a partial left by a killed process; keeps those of live processes', async () => {
    const dir = freshDir();
    fs.mkdirSync(dir, { recursive: true });
    const k = key('killed');
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
    // What a process killed mid-write leaves: a partial with a valid-looking header but missing data.
    const full = path.join(root, 'full.safetensors');
    const w = SafetensorsStreamWriter.create(full, [{ name: 't0', dtype: 'F32', shape: [1000] }], { [BAKE_KEY_METADATA]: k });
    w.writeFloat32('t0', new Float32Array(1000));
    w.finish();
    const dead = `${k}.${deadPid}.0bad.partial`;
    fs.writeFileSync(path.join(dir, dead), fs.readFileSync(full).subarray(0, 2000));
    const live = `${key('other')}.${process.ppid}.0123.partial`;
    fs.writeFileSync(path.join(dir, live), 'in progress elsewhere');
    // A damaged final file (e.g. truncated on disk) is not trusted either.
    fs.writeFileSync(path.join(dir, `${k}.safetensors`), fs.readFileSync(full).subarray(0, 3000));

    const cache = BakeCache.open({ dir, maxBytes: 1e9 });
    expect(cache.removedPartials).toEqual([dead]);
    expect(fs.existsSync(path.join(dir, live))).toBe(true);
    expect(cache.has(k)).toBe(false);
    const calls = { count: 0 };
    const e = await cache.getOrBake(k, producer(1, 1000, calls));
    expect(e.hit).toBe(false);
    expect(calls.count).toBe(1);
    expect(Checkpoint.open(e.path).readFloat32('t0')[500]).toBe(0.5);
    e.release();
  });

  it('hashes file contents once (remembered by path, size and mtime, across restarts)', async () => {
    const dir = freshDir();
    const file = path.join(root, 'content.bin');
    fs.writeFileSync(file, crypto.randomBytes(100_000));
    const stamp = new Date(Math.floor(Date.now() / 1000) * 1000); // whole seconds: restorable exactly
    fs.utimesSync(file, stamp, stamp);
    const expected = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    const cache = BakeCache.open({ dir, maxBytes: 1e9 });
    expect(await cache.contentSha256(file)).toBe(expected);
    const restarted = BakeCache.open({ dir, maxBytes: 1e9 });
    // Same size and mtime: the remembered hash is returned without reading the file.
    fs.writeFileSync(file, Buffer.alloc(100_000));
    fs.utimesSync(file, stamp, stamp);
    expect(await restarted.contentSha256(file)).toBe(expected);
    // A new mtime: hashed again.
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const zeros = crypto.createHash('sha256').update(Buffer.alloc(100_000)).digest('hex');
    expect(await restarted.contentSha256(file)).toBe(zeros);
  });

  it('rejects malformed keys and limits', () => {
    expect(() => BakeCache.open({ dir: freshDir(), maxBytes: 0 })).toThrow(/maxBytes must be positive/);
    const cache = BakeCache.open({ dir: freshDir(), maxBytes: 1 });
    expect(() => cache.pathFor('../evil')).toThrow(/invalid bake key/);
  });
});
