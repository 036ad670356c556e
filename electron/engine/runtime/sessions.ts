// One factory for ONNX Runtime sessions over built graphs: execution-provider probing with an
// explicit CPU fallback, no silent CPU fallback inside GPU sessions, intra-op spinning off, and
// deterministic release.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import ort from 'onnxruntime-node';
import { GraphBuilder, type BuiltModel } from './graph.js';

export const EXECUTION_PROVIDERS = ['cpu', 'webgpu', 'dml', 'cuda', 'coreml'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];
/**
 * EPs in order of preference when the user picks "auto" (only ones whose probe ran count):
 * - CUDA first: the fastest where it is installed, with kernels for every contrib op we emit
 *   (MatMulNBits, MultiHeadAttention, RotaryEmbedding) and the only EP nvidia-smi budgets describe exactly.
 * - DirectML next: the GPU EP onnxruntime-node ships on Windows (CUDA is Linux-only there).
 * - WebGPU before Core ML: Dawn (D3D12 / Metal / Vulkan) runs our contrib ops (platform-notes), whereas
 *   Core ML covers few of them, and GPU sessions run without CPU fallback, so most of our graphs would
 *   fail to create on Core ML and every network would fall back to the CPU one by one.
 * - CPU last: always works.
 */
export const AUTO_ORDER: readonly ExecutionProvider[] = ['cuda', 'dml', 'webgpu', 'coreml', 'cpu'];

export function isExecutionProvider(s: string): s is ExecutionProvider {
  return (EXECUTION_PROVIDERS as readonly string[]).includes(s);
}

export interface SessionOptions {
  ep: ExecutionProvider;
  /** Keep MatMul weights memory-mapped and shared (slower CPU runs, less RAM). Default: `getSessionDefaults()`. */
  disablePrepacking?: boolean;
  /** CPU arena: keeps a session's peak until release. Default: `getSessionDefaults()`. */
  enableCpuMemArena?: boolean;
  intraOpThreads?: number;
}

/**
 * Process-wide defaults for the options a caller leaves out (the pipelines create their networks
 * with only an EP). Benchmarks and the memory-estimate harness switch them per process; the memory
 * planner prices exactly these defaults (memory-planner.ts, `cpuMemArena` / `prepack`).
 */
export interface SessionDefaults {
  enableCpuMemArena: boolean;
  disablePrepacking: boolean;
}

const sessionDefaults: SessionDefaults = { enableCpuMemArena: true, disablePrepacking: false };

export function getSessionDefaults(): Readonly<SessionDefaults> {
  return { ...sessionDefaults };
}

/** Change the defaults for sessions created from now on in this process. */
export function setSessionDefaults(d: Partial<SessionDefaults>): void {
  Object.assign(sessionDefaults, d);
}

export class SessionError extends Error {
  constructor(readonly model: string, readonly ep: ExecutionProvider, message: string) {
    super(`${model} on ${ep}: ${message}`);
    this.name = 'SessionError';
  }
}

/**
 * Cumulative wall time this process spent inside ORT: `NetSession.run` calls, session creation
 * (`createSession`) and `NetSession.release`, failed calls included. Sums over calls (concurrent
 * calls overlap). Benchmarks read it to find the share of a generation spent outside ORT;
 * `resetSessionStats()` zeroes it.
 */
export interface SessionStats {
  runMs: number;
  runs: number;
  createMs: number;
  creates: number;
  releaseMs: number;
  releases: number;
}

export const sessionStats: SessionStats = { runMs: 0, runs: 0, createMs: 0, creates: 0, releaseMs: 0, releases: 0 };

export function resetSessionStats(): void {
  sessionStats.runMs = 0;
  sessionStats.runs = 0;
  sessionStats.createMs = 0;
  sessionStats.creates = 0;
  sessionStats.releaseMs = 0;
  sessionStats.releases = 0;
}

/** A created session over one built graph; release() frees its memory now. */
export class NetSession {
  private released = false;
  constructor(
    readonly modelName: string,
    readonly ep: ExecutionProvider,
    private readonly session: ort.InferenceSession,
    readonly createMs: number,
  ) {}

  get inputNames(): readonly string[] { return this.session.inputNames; }
  get outputNames(): readonly string[] { return this.session.outputNames; }

  async run(feeds: Record<string, ort.Tensor>, outputs?: readonly string[]): Promise<Record<string, ort.Tensor>> {
    if (this.released) throw new SessionError(this.modelName, this.ep, 'session was already released');
    const t0 = performance.now();
    try {
      return outputs ? await this.session.run(feeds, outputs as string[]) : await this.session.run(feeds);
    } catch (e) {
      throw new SessionError(this.modelName, this.ep, `run failed: ${(e as Error).message}`);
    } finally {
      sessionStats.runMs += performance.now() - t0;
      sessionStats.runs++;
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const t0 = performance.now();
    try {
      await this.session.release();
    } finally {
      sessionStats.releaseMs += performance.now() - t0;
      sessionStats.releases++;
    }
  }
}

function epConfig(ep: ExecutionProvider): ort.InferenceSession.ExecutionProviderConfig {
  return ep;
}

export function sessionOptionsFor(model: BuiltModel, opts: SessionOptions): ort.InferenceSession.SessionOptions {
  const session: Record<string, string> = {
    'intra_op.allow_spinning': '0',
    'inter_op.allow_spinning': '0',
  };
  if (opts.ep !== 'cpu') session.disable_cpu_ep_fallback = '1';
  if (opts.disablePrepacking ?? sessionDefaults.disablePrepacking) session.disable_prepacking = '1';
  if (model.externalDataDir) session.model_external_initializers_file_folder_path = model.externalDataDir;
  const o: ort.InferenceSession.SessionOptions = {
    executionProviders: [epConfig(opts.ep)],
    graphOptimizationLevel: 'all',
    enableCpuMemArena: opts.enableCpuMemArena ?? sessionDefaults.enableCpuMemArena,
    logSeverityLevel: 3,
    extra: { session },
  };
  if (opts.intraOpThreads !== undefined) o.intraOpNumThreads = opts.intraOpThreads;
  return o;
}

/**
 * Dawn's Vulkan backend needs XDG_RUNTIME_DIR on Linux (headless servers and CI often lack it).
 * Point it at a private 0700 folder before the first WebGPU session.
 */
export function ensureWebGpuEnvironment(): void {
  if (process.platform !== 'linux' || process.env.XDG_RUNTIME_DIR) return;
  const dir = path.join(os.tmpdir(), `umo-xdg-${process.getuid?.() ?? 'user'}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  process.env.XDG_RUNTIME_DIR = dir;
}

/** Create a session for a built graph on exactly the requested EP (no implicit fallback). */
export async function createSession(model: BuiltModel, opts: SessionOptions): Promise<NetSession> {
  if (opts.ep === 'webgpu') ensureWebGpuEnvironment();
  const t0 = performance.now();
  let s: ort.InferenceSession;
  try {
    s = await ort.InferenceSession.create(model.bytes, sessionOptionsFor(model, opts));
  } catch (e) {
    sessionStats.createMs += performance.now() - t0;
    sessionStats.creates++;
    const msg = (e as Error).message;
    const hint = opts.ep !== 'cpu' && /fallback to CPU EP has been explicitly disabled/i.test(msg)
      ? ` (an op in this graph has no ${opts.ep} kernel; GPU sessions run without CPU fallback)`
      : '';
    throw new SessionError(model.name, opts.ep, `session creation failed: ${msg}${hint}`);
  }
  const createMs = performance.now() - t0;
  sessionStats.createMs += createMs;
  sessionStats.creates++;
  return new NetSession(model.name, opts.ep, s, createMs);
}

export interface EpProbeResult {
  ep: ExecutionProvider;
  /** The binding ships this EP (or it was installed). */
  available: boolean;
  /** A tiny graph was created and run on it with CPU fallback disabled. */
  works: boolean;
  detail: string;
}

/** The CUDA EP ships as separate shared libraries next to the binding after the opt-in install. */
function cudaProvidersInstalled(): boolean {
  try {
    const req = createRequire(import.meta.url);
    const pkg = path.dirname(req.resolve('onnxruntime-node/package.json'));
    const binDir = path.join(pkg, 'bin', `napi-v6`, process.platform, process.arch);
    return fs.existsSync(path.join(binDir, 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}

let probeCache: Promise<EpProbeResult[]> | null = null;

function probeGraph(): BuiltModel {
  const b = new GraphBuilder('ep_probe');
  const x = b.input('x', 'float32', [1, 4]);
  const w = b.floats([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]);
  const y = b.op('MatMul', [x, w]);
  b.output(y, 'y', 'float32', [1, 2]);
  return b.build();
}

async function probeOne(ep: ExecutionProvider, listed: Map<string, boolean>): Promise<EpProbeResult> {
  if (!listed.has(ep)) {
    return { ep, available: false, works: false, detail: 'not included in this onnxruntime-node build for this platform' };
  }
  if (ep === 'cuda' && !listed.get(ep) && !cudaProvidersInstalled()) {
    return {
      ep, available: false, works: false,
      detail: 'CUDA add-on not installed (reinstall with ONNXRUNTIME_NODE_INSTALL=cuda12; needs CUDA 12 + cuDNN)',
    };
  }
  let sess: NetSession | null = null;
  try {
    sess = await createSession(probeGraph(), { ep });
    const out = await sess.run({ x: new ort.Tensor('float32', Float32Array.from([1, 1, 1, 1]), [1, 4]) });
    const y = out.y.data as Float32Array;
    if (y[0] !== 16 || y[1] !== 20) return { ep, available: true, works: false, detail: `wrong probe result [${y[0]}, ${y[1]}]` };
    // A working WebGPU without a GPU device node runs on a software driver: say why "auto" skips it.
    if (ep === 'webgpu' && !hasGpuDevice()) {
      return { ep, available: true, works: true, detail: 'works on a software adapter (no GPU render node): slower than the CPU, so "auto" uses the CPU' };
    }
    return { ep, available: true, works: true, detail: 'ok' };
  } catch (e) {
    return { ep, available: true, works: false, detail: (e as Error).message.split('\n')[0] };
  } finally {
    await sess?.release();
  }
}

/** Probe every EP once per process: is it shipped, and does a tiny graph run on it? */
export function probeExecutionProviders(): Promise<EpProbeResult[]> {
  probeCache ??= (async () => {
    const listed = new Map(ort.listSupportedBackends().map((b) => [b.name, b.bundled] as const));
    const results: EpProbeResult[] = [];
    // Sequential: EPs share the device; creating them in parallel helps nothing.
    for (const ep of EXECUTION_PROVIDERS) results.push(await probeOne(ep, listed));
    return results;
  })();
  return probeCache;
}

/**
 * WebGPU also "works" on a software Vulkan driver (Mesa lavapipe), which is slower than the CPU EP.
 * On Linux, only count it for "auto" when a GPU device node exists; elsewhere Dawn picks a hardware
 * adapter (D3D12 / Metal).
 */
export function hasGpuDevice(): boolean {
  if (process.platform !== 'linux') return true;
  try {
    if (fs.readdirSync('/dev/dri').some((n) => n.startsWith('renderD'))) return true;
  } catch { /* no DRM devices */ }
  return fs.existsSync('/dev/nvidia0');
}

/**
 * Resolve the user's EP preference. "auto" picks the best working EP; an explicit choice that
 * does not work falls back to CPU and says why (never silently).
 */
export async function resolveExecutionProvider(pref: ExecutionProvider | 'auto'): Promise<{ ep: ExecutionProvider; warning?: string }> {
  // CPU always works: no probe (probing WebGPU starts a GPU device, which is slow and noisy).
  if (pref === 'cpu') return { ep: 'cpu' };
  // A Linux machine without any GPU device node has no GPU EP worth probing.
  if (pref === 'auto' && !hasGpuDevice()) return { ep: 'cpu' };
  const probes = await probeExecutionProviders();
  const works = (ep: ExecutionProvider) => probes.find((p) => p.ep === ep)?.works ?? false;
  if (pref === 'auto') {
    const best = AUTO_ORDER.find((ep) => works(ep) && (ep !== 'webgpu' || hasGpuDevice())) ?? 'cpu';
    return { ep: best };
  }
  if (works(pref)) return { ep: pref };
  const why = probes.find((p) => p.ep === pref)?.detail ?? 'unknown';
  return { ep: 'cpu', warning: `execution provider ${pref} is not usable here (${why}); using CPU` };
}
