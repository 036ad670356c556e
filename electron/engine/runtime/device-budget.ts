// The memory budget a plan is made for: the user's setting, else what the device reports, minus a
// safety margin. GPU memory is read with `nvidia-smi` when it is installed (NVIDIA cards, Linux and
// Windows alike); CPU plans use the machine's RAM. Nothing here loads ONNX Runtime, so the main
// process can use it to show estimates before the engine loads anything.
import { execFile } from 'node:child_process';
import os from 'node:os';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

export type BudgetSource = 'setting' | 'nvidia-smi' | 'system-ram' | 'assumed';
export type BudgetDevice = 'cpu' | 'gpu';

export interface MemoryBudget {
  bytes: number;
  source: BudgetSource;
  detail: string;
}

export interface GpuMemoryReading {
  /** Line order of nvidia-smi = CUDA device index (the CUDA EP uses device 0 unless told otherwise). */
  index: number;
  totalBytes: number;
  usedBytes: number;
}

/**
 * Margin kept free on a GPU on top of what other processes already use: the desktop and browsers
 * grow their allocations while a job runs. 512 MiB or 5 % of the card, whichever is larger. (The
 * planner reserves another 1/16 of the budget for fragmentation and EP workspaces.)
 */
export function gpuSafetyMargin(totalBytes: number): number {
  return Math.max(512 * MiB, Math.round(totalBytes * 0.05));
}

/**
 * Margin kept free in RAM for a CPU plan: the OS, the app's own main and renderer processes and
 * the page cache the memory-mapped weights are read through. 2 GiB or 1/8 of RAM, whichever is larger.
 */
export function cpuSafetyMargin(totalBytes: number): number {
  return Math.max(2 * GiB, Math.round(totalBytes / 8));
}

/** GPU memory assumed when it cannot be read (the 16 GB class of card this app is made to fit). */
export const ASSUMED_GPU_BYTES = 16 * GiB;

/**
 * Parse `nvidia-smi --query-gpu=memory.total,memory.used --format=csv,noheader,nounits`: one line
 * per GPU, two integers in MiB separated by a comma. Blank lines are skipped; anything else is an
 * error that quotes the line (e.g. "[N/A]" from a card that does not report memory).
 */
export function parseNvidiaSmiMemory(text: string): GpuMemoryReading[] {
  const out: GpuMemoryReading[] = [];
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  for (const line of lines) {
    const fields = line.split(',').map((f) => f.trim());
    const nums = fields.map((f) => (/^\d+(\.\d+)?$/.test(f) ? Number(f) : NaN));
    if (fields.length !== 2 || nums.some((n) => !Number.isFinite(n))) {
      throw new Error(`nvidia-smi printed "${line}" for GPU ${out.length}; expected "<total MiB>, <used MiB>"`);
    }
    if (nums[0] <= 0 || nums[1] > nums[0]) {
      throw new Error(`nvidia-smi printed "${line}" for GPU ${out.length}: used memory must be between 0 and a positive total`);
    }
    out.push({ index: out.length, totalBytes: nums[0] * MiB, usedBytes: nums[1] * MiB });
  }
  return out;
}

export type GpuMemoryResult =
  | { ok: true; gpus: GpuMemoryReading[] }
  | { ok: false; reason: string };

/** Runs a program and resolves with its stdout (rejects with the spawn error, e.g. ENOENT). */
export type RunProgram = (file: string, args: readonly string[]) => Promise<string>;

const runWithExecFile: RunProgram = (file, args) => new Promise((resolve, reject) => {
  execFile(file, [...args], { timeout: 5000, windowsHide: true, encoding: 'utf8' }, (err, stdout) => {
    if (err) reject(err);
    else resolve(stdout);
  });
});

export const NVIDIA_SMI_ARGS = ['--query-gpu=memory.total,memory.used', '--format=csv,noheader,nounits'] as const;

/** Ask nvidia-smi for each GPU's memory; `{ ok: false, reason }` when it is not installed or fails. */
export async function readNvidiaGpuMemory(run: RunProgram = runWithExecFile): Promise<GpuMemoryResult> {
  let stdout: string;
  try {
    stdout = await run('nvidia-smi', NVIDIA_SMI_ARGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, reason: 'nvidia-smi is not installed (no NVIDIA driver tools on this machine)' };
    return { ok: false, reason: `nvidia-smi failed: ${((e as Error).message ?? String(e)).split('\n')[0]}` };
  }
  try {
    const gpus = parseNvidiaSmiMemory(stdout);
    if (gpus.length === 0) return { ok: false, reason: 'nvidia-smi listed no GPU' };
    return { ok: true, gpus };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

export interface BudgetOptions {
  /** The user's budget in GiB (settings.memoryBudgetGiB); wins when set. */
  settingGiB: number | null;
  device: BudgetDevice;
  /** Reader for GPU memory (default: nvidia-smi). */
  readGpuMemory?: () => Promise<GpuMemoryResult>;
  /** Installed RAM (default os.totalmem()). */
  totalRamBytes?: number;
  /**
   * The GPU shares system RAM (Apple silicon's unified memory, or a software WebGPU adapter):
   * plan against RAM instead of asking nvidia-smi.
   */
  gpuUsesSystemRam?: boolean;
}

const fmtMiB = (b: number) => `${Math.round(b / MiB)} MiB`;
const fmtGiB = (b: number) => `${(b / GiB).toFixed(1)} GiB`;

/** The budget for a plan: setting > device reading (minus margin) > assumption, with how it was found. */
export async function resolveMemoryBudget(opts: BudgetOptions): Promise<MemoryBudget> {
  if (opts.settingGiB !== null) {
    return { bytes: opts.settingGiB * GiB, source: 'setting', detail: `${opts.settingGiB} GiB from the settings` };
  }
  const ram = opts.totalRamBytes ?? os.totalmem();
  if (opts.device === 'cpu' || opts.gpuUsesSystemRam) {
    const margin = cpuSafetyMargin(ram);
    return {
      bytes: Math.max(ram - margin, 0.25 * GiB), source: 'system-ram',
      detail: `${fmtGiB(ram)} RAM minus a ${fmtGiB(margin)} margin for the system${opts.device === 'gpu' ? ' (the GPU shares system memory)' : ''}`,
    };
  }
  const reading = await (opts.readGpuMemory ?? (() => readNvidiaGpuMemory()))();
  if (reading.ok) {
    const gpu = reading.gpus[0];
    const margin = gpuSafetyMargin(gpu.totalBytes);
    const free = gpu.totalBytes - gpu.usedBytes - margin;
    const others = reading.gpus.length > 1 ? `; GPU 0 of ${reading.gpus.length}` : '';
    return {
      bytes: Math.max(free, 0.25 * GiB), source: 'nvidia-smi',
      detail: `nvidia-smi: ${fmtMiB(gpu.totalBytes)} total, ${fmtMiB(gpu.usedBytes)} in use, ${fmtMiB(margin)} margin${others}`,
    };
  }
  return {
    bytes: ASSUMED_GPU_BYTES, source: 'assumed',
    detail: `GPU memory could not be read (${reading.reason}); assumed ${fmtGiB(ASSUMED_GPU_BYTES)} — set your card's memory in Settings`,
  };
}
