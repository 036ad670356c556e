// Small measuring helpers for the benchmarks.
import fs from 'node:fs';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function rssMb(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

/** Peak resident set size of this process in MiB (VmHWM on Linux, else getrusage's maxRSS). */
export function peakRssMb(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

/**
 * Current resident memory split into private anonymous pages (heap, arenas, prepacked or cast
 * weight copies) and file-backed pages (memory-mapped weights: shared and reclaimable). Linux
 * only; null elsewhere.
 */
export function rssBreakdownMb(): { anon: number; file: number } | null {
  try {
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const kb = (field: string) => {
      const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status);
      return m ? Number(m[1]) / 1024 : Number.NaN;
    };
    const anon = kb('RssAnon');
    const file = kb('RssFile');
    return Number.isNaN(anon) || Number.isNaN(file) ? null : { anon, file };
  } catch {
    return null;
  }
}

/** Timed forwards after warm-ups, then the network released; the last output and RSS after the runs. */
export async function timeForwards<I>(net: { forward(inputs: I): Promise<Float32Array>; release(): Promise<void> }, inputs: I,
  warmups: number, runs: number): Promise<{ warmupMs: number[]; forwardMs: number[]; output: Float32Array; afterRuns: ReturnType<typeof rssBreakdownMb> }> {
  const warmupMs: number[] = [];
  const forwardMs: number[] = [];
  let output: Float32Array = new Float32Array(0);
  let afterRuns: ReturnType<typeof rssBreakdownMb> = null;
  try {
    for (let i = 0; i < warmups + runs; i++) {
      const t0 = performance.now();
      output = await net.forward(inputs);
      (i < warmups ? warmupMs : forwardMs).push(performance.now() - t0);
    }
    afterRuns = rssBreakdownMb();
  } finally {
    await net.release();
  }
  return { warmupMs, forwardMs, output, afterRuns };
}
