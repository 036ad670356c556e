// One memory-estimate case, run in a fresh process so its peak RSS is its own:
//   node dist/bench/memory-case.js '<MemoryCaseSpec JSON>'
// Runs one real generation through runGenerateJob (the entry the CLI and the engine process use)
// with the memory plan pinned to the spec's residency / precisions and the spec's ORT arena and
// prepacking defaults. At every pipeline phase event it records the peak RSS since the previous
// event (VmHWM, reset through /proc/self/clear_refs on Linux). Prints one line
// `BENCH_MEMORY_RESULT <MemoryCaseResult JSON>` on stdout.
import fs from 'node:fs';
import path from 'node:path';
import { parseGenerateRequest } from '../shared/backbone-params.js';
import type { JobEnvironment } from '../shared/engine-protocol.js';
import { runGenerateJob } from '../electron/engine/pipelines/run-job.js';
import type { PipelineContext, PipelineEvent } from '../electron/engine/pipelines/pipeline-context.js';
import { setSessionDefaults } from '../electron/engine/runtime/sessions.js';
import { MEMORY_RESULT_PREFIX, type MemoryCaseResult, type MemorySegment, parseMemoryCaseSpec } from './memory-case-protocol.js';

function statusKb(field: string): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

const rssMb = () => (statusKb('VmRSS') ?? process.memoryUsage().rss / 1024) / 1024;
const hwmMb = () => (statusKb('VmHWM') ?? process.resourceUsage().maxRSS) / 1024;

/** Reset the kernel's peak-RSS mark to the current RSS (Linux ≥ 4.0); false where that is not possible. */
function resetPeak(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** Closes a segment at every phase event. */
class MeasuringContext implements PipelineContext {
  readonly segments: MemorySegment[] = [];
  perSegment = true;
  private current: { phase: string; detail?: string } = { phase: 'start' };

  emit(ev: PipelineEvent): void {
    if (ev.type === 'phase') this.cut({ phase: ev.phase, detail: ev.detail });
  }

  cut(next: { phase: string; detail?: string }): void {
    this.segments.push({ ...this.current, peakMb: hwmMb(), endMb: rssMb() });
    this.current = next;
    this.perSegment = resetPeak() && this.perSegment;
  }

  isCancelled(): boolean {
    return false;
  }
}

async function main(): Promise<void> {
  const spec = parseMemoryCaseSpec(process.argv[2]);
  setSessionDefaults({ enableCpuMemArena: spec.cpuMemArena, disablePrepacking: !spec.prepack });
  const importedRssMb = rssMb();
  const prompt = 'a figurine of a cat on a wooden table, studio light';
  const request = parseGenerateRequest(spec.backbone === 'uno'
    ? { backbone: 'uno', prompt, references: spec.references, width: spec.width, height: spec.height, steps: spec.steps, guidance: 4, seed: 42 }
    : {
      backbone: 'omnigen2', prompt, references: spec.references, width: spec.width, height: spec.height, steps: spec.steps,
      textGuidance: 5, imageGuidance: 2, images: 1, maxInputSide: 2048, maxPixels: 1048576, seed: 42,
      // Generate at the requested size (with one reference the reference's size would be used).
      alignRes: false,
    });
  const env: JobEnvironment = {
    modelsRoot: spec.modelsRoot, hfCache: null, overrides: {}, outputDir: spec.outputDir,
    outputFile: path.join(spec.outputDir, `${spec.id}.png`), cacheDir: spec.cacheDir, cacheLimitBytes: 8 * 2 ** 30,
    ep: 'cpu', appVersion: 'bench', demo: true,
    memory: {
      residency: spec.residency, budgetBytes: 2 ** 50, loadAnyway: true,
      ...(spec.streamGroups !== undefined ? { streamGroups: spec.streamGroups } : {}),
      ...(spec.precisions ? { precisions: spec.precisions } : {}),
    },
  };
  const ctx = new MeasuringContext();
  ctx.perSegment = resetPeak();
  const t0 = performance.now();
  await runGenerateJob(request, env, ctx);
  ctx.cut({ phase: 'end' });
  const result: MemoryCaseResult = {
    id: spec.id, importedRssMb, segments: ctx.segments, perSegmentPeaks: ctx.perSegment,
    peakRssMb: Math.max(...ctx.segments.map((s) => s.peakMb)),
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    wallMs: performance.now() - t0,
  };
  process.stdout.write(`${MEMORY_RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`memory-case: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
