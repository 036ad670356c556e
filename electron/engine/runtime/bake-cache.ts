// A folder of derived safetensors files ("bakes": LoRA-merged or quantized weights) keyed by a
// hash of everything they were computed from. Bakes are written to a `*.partial` file, fsynced
// and renamed, so a crash never leaves a file that looks valid; the folder is bounded in size
// with least-recently-used eviction (files used by a live call are never evicted).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Checkpoint, type DType, OverlayWeights, type Weights, SafetensorsFile } from './safetensors.js';
import { SafetensorsStreamWriter, type TensorSpec } from './safetensors-stream-writer.js';

export type BakePrecision = 'fp32' | 'bf16' | 'fp16';

export const BAKE_PRECISIONS: readonly BakePrecision[] = ['fp32', 'bf16', 'fp16'];

export function dtypeOfPrecision(p: BakePrecision): DType {
  switch (p) {
    case 'fp32': return 'F32';
    case 'bf16': return 'BF16';
    case 'fp16': return 'F16';
    default: throw new Error(`unknown bake precision ${JSON.stringify(p)} (expected one of ${BAKE_PRECISIONS.join(', ')})`);
  }
}

/** Metadata entry of every bake file: the key it was baked for. */
export const BAKE_KEY_METADATA = 'umo.bake_key';
const BAKE_SUFFIX = '.safetensors';
const PARTIAL_SUFFIX = '.partial';
const HASHES_FILE = 'content-hashes.json';
const KEY_PATTERN = /^[0-9a-f]{16,128}$/;

/** What identifies a safetensors file without reading its data: where it is, its size, when it changed, its header. */
export interface FileIdentity {
  readonly realPath: string;
  readonly size: number;
  readonly mtimeMs: number;
  /** sha256 of the 8-byte length prefix plus the JSON header. */
  readonly headerSha256: string;
}

export function safetensorsFileIdentity(file: string): FileIdentity {
  const realPath = fs.realpathSync(file);
  const st = fs.statSync(realPath);
  const sf = SafetensorsFile.open(realPath);
  const headerBytes = Buffer.alloc(8 + sf.headerLength);
  const fd = fs.openSync(realPath, 'r');
  try {
    const n = fs.readSync(fd, headerBytes, 0, headerBytes.length, 0);
    if (n !== headerBytes.length) throw new Error(`${file}: could not read the safetensors header`);
  } finally {
    fs.closeSync(fd);
  }
  const headerSha256 = crypto.createHash('sha256').update(headerBytes).digest('hex');
  return { realPath, size: st.size, mtimeMs: st.mtimeMs, headerSha256 };
}

/** Identities of every file a Weights reads from (sorted by path), e.g. the shards of a checkpoint. */
export function weightsFileIdentities(w: Weights): FileIdentity[] {
  const files = new Set<string>();
  for (const k of w.keys()) files.add(w.info(k).file);
  return [...files].sort().map((f) => safetensorsFileIdentity(f));
}

function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`bakeKey: non-finite number ${v}`);
    if (v === undefined) throw new Error('bakeKey: undefined value');
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
}

/** sha256 (hex) of the canonical JSON of `parts` (object keys sorted). */
export function bakeKey(parts: unknown): string {
  return crypto.createHash('sha256').update(canonicalJson(parts)).digest('hex');
}

export interface BakeCacheOptions {
  /** The cache folder (created if missing). */
  dir: string;
  /** Upper bound on the total bytes of bakes kept; least recently used bakes are deleted beyond it. */
  maxBytes: number;
}

export interface CachedBake {
  readonly key: string;
  readonly path: string;
  readonly bytes: number;
  readonly lastUsedMs: number;
}

export interface BakeEntry {
  readonly key: string;
  readonly path: string;
  readonly bytes: number;
  /** True when an existing bake was returned (the producer did not run). */
  readonly hit: boolean;
  /** Wall time of the getOrBake call. */
  readonly ms: number;
  /** Keys of bakes evicted to make room after this bake. */
  readonly evicted: readonly string[];
  /** End this call's use of the file (it becomes evictable again). */
  release(): void;
}

/** Handed to a producer: declare the tensors (header) once, then stream their data in order. */
export interface BakeOutput {
  readonly key: string;
  readonly file: string;
  begin(tensors: readonly TensorSpec[], metadata?: Record<string, string>): SafetensorsStreamWriter;
}

export type BakeProducer = (out: BakeOutput) => Promise<void>;

export class BakeCacheError extends Error {
  constructor(readonly dir: string, message: string) {
    super(`bake cache ${dir}: ${message}`);
    this.name = 'BakeCacheError';
  }
}

/** Partial files being written by this process (shared by every BakeCache instance in it). */
const activePartials = new Set<string>();
/** Last use time stamped by this process: use times are strictly increasing within a process. */
let lastTouchMs = 0;

function processIsAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface HashRecord { size: number; mtimeMs: number; sha256: string }

export class BakeCache {
  private readonly inUse = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<void>>();
  private hashes: Record<string, HashRecord> | null = null;
  /** Partial files from crashed bakes deleted when the cache was opened. */
  readonly removedPartials: readonly string[];

  private constructor(readonly dir: string, readonly maxBytes: number) {
    this.removedPartials = this.removeStalePartials();
  }

  /** Open (or create) the cache folder; deletes partial files left by dead processes and applies the size bound. */
  static open(opts: BakeCacheOptions): BakeCache {
    if (!(opts.maxBytes > 0)) throw new BakeCacheError(opts.dir, `maxBytes must be positive, got ${opts.maxBytes}`);
    try {
      fs.mkdirSync(opts.dir, { recursive: true });
    } catch (e) {
      throw new BakeCacheError(opts.dir, `cannot create the folder: ${(e as Error).message}`);
    }
    const cache = new BakeCache(path.resolve(opts.dir), opts.maxBytes);
    cache.evict(new Set());
    return cache;
  }

  pathFor(key: string): string {
    this.checkKey(key);
    return path.join(this.dir, `${key}${BAKE_SUFFIX}`);
  }

  /** True when a complete, valid bake for `key` is present. */
  has(key: string): boolean {
    return this.validBytes(key) !== null;
  }

  /** Bakes present (valid or not yet checked), oldest use first. */
  list(): CachedBake[] {
    const out: CachedBake[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      if (!name.endsWith(BAKE_SUFFIX)) continue;
      const key = name.slice(0, -BAKE_SUFFIX.length);
      if (!KEY_PATTERN.test(key)) continue;
      const p = path.join(this.dir, name);
      let st: fs.Stats;
      try {
        st = fs.statSync(p);
      } catch {
        continue;
      }
      out.push({ key, path: p, bytes: st.size, lastUsedMs: st.mtimeMs });
    }
    return out.sort((a, b) => a.lastUsedMs - b.lastUsedMs || (a.key < b.key ? -1 : 1));
  }

  totalBytes(): number {
    return this.list().reduce((s, e) => s + e.bytes, 0);
  }

  /**
   * The bake for `key`: the existing file when present and valid (touched as most recently
   * used), else `producer` writes it (to a partial file that is renamed when complete).
   * The file is protected from eviction until `release()` is called on the result.
   */
  async getOrBake(key: string, producer: BakeProducer): Promise<BakeEntry> {
    this.checkKey(key);
    const t0 = performance.now();
    this.acquire(key);
    try {
      // Several calls for the same key in this process share one bake.
      while (this.inflight.has(key)) {
        await this.inflight.get(key)!.catch(() => undefined);
      }
      const existing = this.validBytes(key);
      if (existing !== null) {
        this.touch(this.pathFor(key));
        return this.entry(key, existing, true, t0, []);
      }
      const bake = this.bake(key, producer);
      this.inflight.set(key, bake);
      try {
        await bake;
      } finally {
        this.inflight.delete(key);
      }
      const bytes = this.validBytes(key);
      if (bytes === null) throw new BakeCacheError(this.dir, `bake ${key} is not valid right after writing it`);
      const evicted = this.evict(new Set([key]));
      return this.entry(key, bytes, false, t0, evicted);
    } catch (e) {
      this.releaseKey(key);
      throw e;
    }
  }

  /**
   * Delete least recently used bakes until the total is within `maxBytes`, never touching a bake
   * in use (or listed in `protect`). Returns the evicted keys.
   */
  evict(protect: ReadonlySet<string>): string[] {
    const entries = this.list();
    let total = entries.reduce((s, e) => s + e.bytes, 0);
    const evicted: string[] = [];
    for (const e of entries) {
      if (total <= this.maxBytes) break;
      if (protect.has(e.key) || (this.inUse.get(e.key) ?? 0) > 0) continue;
      try {
        fs.unlinkSync(e.path);
      } catch {
        continue; // e.g. still memory-mapped on Windows; try again next time
      }
      total -= e.bytes;
      evicted.push(e.key);
    }
    return evicted;
  }

  /**
   * sha256 of a file's content, computed once and remembered (in this folder) by real path,
   * size and modification time.
   */
  async contentSha256(file: string): Promise<string> {
    const realPath = fs.realpathSync(file);
    const st = fs.statSync(realPath);
    const hashes = this.loadHashes();
    const known = hashes[realPath];
    if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) return known.sha256;
    const h = crypto.createHash('sha256');
    await new Promise<void>((resolve, reject) => {
      const s = fs.createReadStream(realPath, { highWaterMark: 4 << 20 });
      s.on('data', (chunk) => h.update(chunk));
      s.on('error', reject);
      s.on('end', () => resolve());
    });
    const sha256 = h.digest('hex');
    const after = fs.statSync(realPath);
    if (after.size !== st.size || after.mtimeMs !== st.mtimeMs) {
      throw new BakeCacheError(this.dir, `${file} changed while it was being hashed`);
    }
    hashes[realPath] = { size: st.size, mtimeMs: st.mtimeMs, sha256 };
    this.saveHashes(hashes);
    return sha256;
  }

  // -------------------------------------------------------------------------------------------

  private checkKey(key: string): void {
    if (!KEY_PATTERN.test(key)) throw new BakeCacheError(this.dir, `invalid bake key ${JSON.stringify(key)} (expected 16-128 lowercase hex digits, e.g. from bakeKey())`);
  }

  private acquire(key: string): void {
    this.inUse.set(key, (this.inUse.get(key) ?? 0) + 1);
  }

  private releaseKey(key: string): void {
    const n = (this.inUse.get(key) ?? 0) - 1;
    if (n > 0) this.inUse.set(key, n);
    else this.inUse.delete(key);
  }

  private entry(key: string, bytes: number, hit: boolean, t0: number, evicted: string[]): BakeEntry {
    let released = false;
    return {
      key, path: this.pathFor(key), bytes, hit, evicted, ms: performance.now() - t0,
      release: () => {
        if (released) return;
        released = true;
        this.releaseKey(key);
      },
    };
  }

  /** Size of the bake for `key` when the file is complete and records `key`; null otherwise. */
  private validBytes(key: string): number | null {
    const p = this.pathFor(key);
    if (!fs.existsSync(p)) return null;
    return isCompleteBake(p, key) ? fs.statSync(p).size : null;
  }

  private async bake(key: string, producer: BakeProducer): Promise<void> {
    const final = this.pathFor(key);
    if (fs.existsSync(final)) {
      // Present but not valid (written by something else, or damaged on disk): replace it.
      fs.unlinkSync(final);
    }
    const partial = path.join(this.dir, `${key}.${process.pid}.${crypto.randomBytes(4).toString('hex')}${PARTIAL_SUFFIX}`);
    activePartials.add(partial);
    let writer: SafetensorsStreamWriter | null = null;
    const out: BakeOutput = {
      key,
      file: partial,
      begin: (tensors, metadata) => {
        if (writer) throw new BakeCacheError(this.dir, `bake ${key}: begin() called twice`);
        writer = SafetensorsStreamWriter.create(partial, tensors, { ...metadata, [BAKE_KEY_METADATA]: key });
        return writer;
      },
    };
    try {
      await producer(out);
      const w = writer as SafetensorsStreamWriter | null;
      if (!w) throw new BakeCacheError(this.dir, `bake ${key}: the producer finished without writing anything`);
      if (!w.closed) w.finish();
      if (!isCompleteBake(partial, key)) throw new BakeCacheError(this.dir, `bake ${key}: the written file does not validate`);
      try {
        fs.renameSync(partial, final);
      } catch (e) {
        // Another process finished the same bake first (Windows refuses to replace it): use theirs.
        if (!isCompleteBake(final, key)) throw e;
        fs.unlinkSync(partial);
      }
      this.touch(final);
      fsyncDirectory(this.dir);
    } catch (e) {
      (writer as SafetensorsStreamWriter | null)?.abort();
      try {
        fs.unlinkSync(partial);
      } catch {
        // never created
      }
      throw e;
    } finally {
      activePartials.delete(partial);
    }
  }

  /** Mark a file as most recently used (its mtime; strictly increasing within this process). */
  private touch(file: string): void {
    const now = Math.max(Date.now(), lastTouchMs + 1);
    lastTouchMs = now;
    const t = new Date(now);
    try {
      fs.utimesSync(file, t, t);
    } catch {
      // read-only cache folder: LRU order degrades, nothing else
    }
  }

  private removeStalePartials(): string[] {
    const removed: string[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      if (!name.endsWith(PARTIAL_SUFFIX)) continue;
      const p = path.join(this.dir, name);
      if (activePartials.has(p)) continue;
      const pid = Number(name.split('.')[1]);
      // Another live process may be baking it; this process's own partials are only live when active.
      if (pid !== process.pid && processIsAlive(pid)) continue;
      try {
        fs.unlinkSync(p);
        removed.push(name);
      } catch {
        // raced with its owner
      }
    }
    return removed;
  }

  private loadHashes(): Record<string, HashRecord> {
    if (this.hashes) return this.hashes;
    const p = path.join(this.dir, HASHES_FILE);
    let h: Record<string, HashRecord> = {};
    try {
      const parsed: unknown = JSON.parse(fs.readFileSync(p, 'utf8'));
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) h = parsed as Record<string, HashRecord>;
    } catch {
      // missing or damaged: start over
    }
    this.hashes = h;
    return h;
  }

  private saveHashes(h: Record<string, HashRecord>): void {
    const p = path.join(this.dir, HASHES_FILE);
    const tmp = `${p}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(h, null, 1));
    fs.renameSync(tmp, p);
  }
}

/** A bake file is complete when its header parses, it records `key`, and its data region ends exactly at EOF. */
function isCompleteBake(file: string, key: string): boolean {
  let sf: SafetensorsFile;
  try {
    sf = SafetensorsFile.open(file);
  } catch {
    return false;
  }
  if (sf.metadata[BAKE_KEY_METADATA] !== key) return false;
  let end = 8 + sf.headerLength;
  for (const t of sf.tensors.values()) end = Math.max(end, t.byteOffset + t.byteLength);
  return end === sf.fileSize;
}

function fsyncDirectory(dir: string): void {
  if (process.platform === 'win32') return;
  let fd: number | null = null;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // some file systems refuse directory fsync; the rename is still atomic
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

/** One merged (or otherwise rewritten) tensor, produced in float32 for the bake writer. */
export interface BakedTensor {
  readonly key: string;
  readonly data: Float32Array;
}

/**
 * The producer side of every weight bake: declare the tensors, stream them in as they are
 * computed (one at a time, so memory stays bounded), report progress, and finish the file.
 */
export async function writeBake(
  out: BakeOutput, specs: readonly TensorSpec[], metadata: Record<string, string>,
  tensors: AsyncIterable<BakedTensor>, onProgress?: (done: number, total: number, key: string) => void,
): Promise<void> {
  const writer = out.begin(specs, metadata);
  let done = 0;
  for await (const t of tensors) {
    writer.writeFloat32(t.key, t.data);
    onProgress?.(++done, specs.length, t.key);
  }
  writer.finish();
}

/**
 * Get a bake from the cache (running `producer` on a miss) and overlay it on `base`, after
 * checking that each replaced tensor has the base's shape. Call `entry.release()` when done.
 */
export async function overlayBake(
  cache: BakeCache, key: string, producer: BakeProducer, base: Weights,
  replaced: ReadonlyArray<{ readonly key: string; readonly shape: readonly number[] }>,
): Promise<{ weights: OverlayWeights; entry: BakeEntry }> {
  const entry = await cache.getOrBake(key, producer);
  try {
    const bake = Checkpoint.open(entry.path);
    for (const t of replaced) bake.expectShape(t.key, t.shape);
    return { weights: new OverlayWeights(base, bake), entry };
  } catch (e) {
    entry.release();
    throw e;
  }
}
