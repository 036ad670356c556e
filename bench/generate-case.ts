// One generation benchmark case, run in its own process so its peak RSS is its own:
//   node dist/bench/generate-case.js '<GenerateCaseSpec JSON>'
// Calls runUnoPipeline directly (no engine process, no CLI) for each run of the spec in sequence,
// recording every pipeline event with a timestamp and a snapshot of sessionStats, so each phase's
// wall time splits into time inside ORT (session.run, session creation) and time outside it.
// Prints one line `BENCH_GENERATE_RESULT <GenerateCaseResult JSON>` on stdout.
import path from 'node:path';
import { Session } from 'node:inspector/promises';
import type { UnoRequest } from '../shared/backbone-params.js';
import type { JobEnvironment } from '../shared/engine-protocol.js';
import { runUnoPipeline } from '../electron/engine/pipelines/uno.js';
import type { PipelineContext, PipelineEvent } from '../electron/engine/pipelines/pipeline-context.js';
import { sessionStats } from '../electron/engine/runtime/sessions.js';
import {
  GENERATE_RESULT_PREFIX, type GenerateCaseResult, type GenerateCaseSpec, type GenerateRunResult, type GenerateRunSpec,
  type GenerateSegment, type ProfileEntry, parseGenerateCaseSpec,
} from './generate-case-protocol.js';
import { peakRssMb, rssMb } from './measure.js';

interface Mark {
  at: number;
  runMs: number;
  runs: number;
  createMs: number;
  creates: number;
  releaseMs: number;
}

const mark = (): Mark => ({
  at: performance.now(), runMs: sessionStats.runMs, runs: sessionStats.runs,
  createMs: sessionStats.createMs, creates: sessionStats.creates, releaseMs: sessionStats.releaseMs,
});

function segmentBetween(phase: string, detail: string | undefined, a: Mark, b: Mark): GenerateSegment {
  return {
    phase, detail, ms: b.at - a.at,
    sessionRunMs: b.runMs - a.runMs, sessionRuns: b.runs - a.runs,
    sessionCreateMs: b.createMs - a.createMs, sessionCreates: b.creates - a.creates,
    sessionReleaseMs: b.releaseMs - a.releaseMs,
  };
}

/** A PipelineContext that timestamps every event with the ORT counters at that moment. */
class RecordingContext implements PipelineContext {
  readonly events: Array<{ ev: PipelineEvent; mark: Mark }> = [];
  emit(ev: PipelineEvent): void {
    this.events.push({ ev, mark: mark() });
  }
  isCancelled(): boolean {
    return false;
  }
}

async function runOne(spec: GenerateCaseSpec, r: GenerateRunSpec, index: number): Promise<GenerateRunResult> {
  const req: UnoRequest = {
    backbone: 'uno', prompt: 'a figurine of a cat on a wooden table, studio light', references: r.references,
    width: r.width, height: r.height, steps: r.steps, guidance: 4, seed: r.seed,
    lora: { path: r.lora, scale: 1 },
  };
  const outputFile = path.join(spec.outputDir, `${spec.id}-${index}.png`);
  const env: JobEnvironment = {
    modelsRoot: spec.modelsRoot, hfCache: null, overrides: {}, outputDir: spec.outputDir, outputFile,
    cacheDir: spec.cacheDir, cacheLimitBytes: 8 * 2 ** 30, ep: spec.ep, appVersion: 'bench', demo: true,
  };
  const ctx = new RecordingContext();
  const start = mark();
  const result = await runUnoPipeline(req, env, ctx);
  const end = mark();

  // Phase segments: from each phase event to the next one; the first starts at the call, the last
  // ends when the call returns.
  const segments: GenerateSegment[] = [];
  let from = start;
  let current: { phase: string; detail?: string } | null = null;
  for (const { ev, mark: at } of ctx.events) {
    if (ev.type !== 'phase') continue;
    if (current) {
      segments.push(segmentBetween(current.phase, current.detail, from, at));
      from = at;
    }
    current = { phase: ev.phase, detail: ev.detail };
  }
  if (current) segments.push(segmentBetween(current.phase, current.detail, from, end));

  // Denoising steps: between consecutive denoising progress events (step 0 marks the start).
  const steps = ctx.events.filter((e) => e.ev.type === 'progress' && e.ev.phase === 'denoising');
  const stepMs: number[] = [];
  const stepSessionRunMs: number[] = [];
  for (let i = 1; i < steps.length; i++) {
    stepMs.push(steps[i].mark.at - steps[i - 1].mark.at);
    stepSessionRunMs.push(steps[i].mark.runMs - steps[i - 1].mark.runMs);
  }

  const sessionRunMs = end.runMs - start.runMs;
  const sessionCreateMs = end.createMs - start.createMs;
  const totalMs = end.at - start.at;
  const outsideMs = totalMs - sessionRunMs - sessionCreateMs;
  const sessionReleaseMs = end.releaseMs - start.releaseMs;
  const ditLoad = segments.find((s) => s.phase === 'loading' && s.detail === 'transformer');
  const bake = segments.filter((s) => s.phase === 'baking');
  return {
    label: r.label, width: result.width, height: result.height, steps: r.steps, references: r.references.length, lora: r.lora,
    totalMs, phaseMs: result.timingsMs, segments,
    sessionRunMs, sessionRuns: end.runs - start.runs, sessionCreateMs, sessionCreates: end.creates - start.creates,
    sessionReleaseMs, outsideMs, outsideShare: outsideMs / totalMs, hostShare: (outsideMs - sessionReleaseMs) / totalMs,
    bakeMiss: r.lora ? ctx.events.some((e) => e.ev.type === 'progress' && e.ev.phase === 'baking') : null,
    bakeMs: bake.reduce((a, s) => a + s.ms, 0),
    ditLoadMs: ditLoad?.ms ?? Number.NaN,
    ditSessionCreateMs: ditLoad?.sessionCreateMs ?? Number.NaN,
    stepMs, stepSessionRunMs,
    rssAfterMb: rssMb(),
    outputFile: result.file,
  };
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples?: number[];
  timeDeltas?: number[];
}

/** Self time per function (name + file:line), heaviest first; "(idle)" dropped. */
function summarizeProfile(p: CpuProfile, top: number): { entries: ProfileEntry[]; busyMs: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  let busyMs = 0;
  for (let i = 0; i < samples.length; i++) {
    const n = byId.get(samples[i]);
    if (!n) continue;
    const cf = n.callFrame;
    if (cf.functionName === '(idle)') continue;
    // timeDeltas[i] is the time before sample i; attribute the next delta to this sample.
    const ms = (deltas[i + 1] ?? 0) / 1000;
    busyMs += ms;
    const file = cf.url ? `${cf.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${cf.lineNumber + 1}` : '';
    // Native frames without a script (the ORT binding's blocking calls among them) have no url.
    const key = `${cf.functionName || (file ? '(anonymous)' : '(native)')}${file ? ` (${file})` : ''}`;
    self.set(key, (self.get(key) ?? 0) + ms);
  }
  const entries = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, selfMs]) => ({ fn, selfMs }));
  return { entries, busyMs };
}

async function main(): Promise<void> {
  const spec = parseGenerateCaseSpec(process.argv[2]);
  const rssBaseMb = rssMb();
  let inspector: Session | null = null;
  if (spec.profile) {
    inspector = new Session();
    inspector.connect();
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.setSamplingInterval', { interval: 200 });
    await inspector.post('Profiler.start');
  }
  const runs: GenerateRunResult[] = [];
  for (let i = 0; i < spec.runs.length; i++) runs.push(await runOne(spec, spec.runs[i], i));
  const result: GenerateCaseResult = { id: spec.id, ep: spec.ep, runs, rssBaseMb, peakRssMb: peakRssMb() };
  if (inspector) {
    const { profile } = await inspector.post('Profiler.stop') as { profile: CpuProfile };
    inspector.disconnect();
    const s = summarizeProfile(profile, 15);
    result.profileTop = s.entries;
    result.profileBusyMs = s.busyMs;
  }
  process.stdout.write(`${GENERATE_RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`generate-case: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
