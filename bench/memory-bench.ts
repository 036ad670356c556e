// Estimate-vs-measured peak RSS: the memory planner's estimate next to the measured peak of a real
// generation per configuration (bench/memory-estimate.ts), for the ORT session settings the
// engine uses (and, with --all-settings, arena / prepacking on and off).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable } from './table.js';
import {
  type MemoryConfig, type MemoryRow, allMemoryConfigs, compareImagesToFloat, defaultMemoryConfigs, measuredPhasePeakMb, prepareMemoryHarness, runMemoryConfigs,
} from './memory-estimate.js';
import { getSessionDefaults } from '../electron/engine/runtime/sessions.js';

export interface MemoryBenchReport {
  rows: MemoryRow[];
}

const MiB = 2 ** 20;

/**
 * Every kit (tiny / mid-size UNO and OmniGen2) under every residency and precision variant with the
 * engine's ORT session settings; with `allSettings` also the unquantized one-phase runs with the
 * CPU arena and prepacking switched off and on. `only`: keep configurations whose id contains it.
 */
export async function runMemoryBench(o: { allSettings: boolean; only?: string; log?: (l: string) => void }): Promise<MemoryBenchReport> {
  const d = getSessionDefaults();
  const engine = { cpuMemArena: d.enableCpuMemArena, prepack: !d.disablePrepacking };
  const others = [{ cpuMemArena: true, prepack: true }, { cpuMemArena: false, prepack: true }, { cpuMemArena: false, prepack: false }, { cpuMemArena: true, prepack: false }]
    .filter((s) => s.cpuMemArena !== engine.cpuMemArena || s.prepack !== engine.prepack);
  const configs: MemoryConfig[] = [...allMemoryConfigs(engine), ...(o.allSettings ? others.flatMap((s) => defaultMemoryConfigs(s)) : [])]
    .filter((c) => !o.only || c.id.includes(o.only));
  const h = await prepareMemoryHarness(configs.map((c) => c.kit), o.log);
  try {
    const rows = await runMemoryConfigs(h, configs, { log: o.log });
    await compareImagesToFloat(rows);
    return { rows };
  } finally {
    h.dispose();
  }
}

const mb = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toFixed(0));

export function memoryTable(r: MemoryBenchReport): string {
  const rows = r.rows.map((x) => {
    if (!x.measured) return [x.config.label, `failed: ${x.failure ?? '?'}`];
    const phase = (name: string) => {
      const p = x.plan.phases.find((q) => q.name === name);
      const m = measuredPhasePeakMb(x.measured!, name);
      return p ? `${mb(p.peakBytes / MiB)}/${mb(m)}` : '-';
    };
    const worst = x.plan.phases.reduce((a, b) => (b.peakBytes > a.peakBytes ? b : a));
    return [
      x.config.label, mb(x.measured.importedRssMb), mb(x.measured.peakRssMb), mb(x.plan.peakBytes / MiB),
      `${(100 * (x.error ?? 0)).toFixed(1)}`, worst.name,
      phase('encode-text'), phase('encode-references'), phase('denoise'), phase('decode'),
      !x.vsFloat ? 'reference' : x.vsFloat.identical ? 'identical' : `${x.vsFloat.meanAbs.toFixed(2)} / ${x.vsFloat.maxAbs}`,
    ];
  });
  return formatTable(
    ['configuration', 'imported MiB', 'measured peak MiB', 'estimate MiB', 'error %', 'estimated worst phase',
      'text est/meas', 'refs est/meas', 'denoise est/meas', 'decode est/meas', 'image vs float 1-phase (mean / max of 255)'],
    rows,
  );
}

async function main(): Promise<void> {
  const all = process.argv.includes('--all-settings');
  const i = process.argv.indexOf('--only');
  const only = i > 0 ? process.argv[i + 1] : undefined;
  const r = await runMemoryBench({ allSettings: all, only, log: (l) => process.stderr.write(`${l}\n`) });
  console.log(memoryTable(r));
  console.log(`BENCH_JSON ${JSON.stringify(r)}`);
}

// Run as a script (`node dist/bench/memory-bench.js [--all-settings] [--only ID-PART]`), not when imported by run-all or the test.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`memory-bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  });
}
