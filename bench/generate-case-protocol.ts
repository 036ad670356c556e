// What the generation bench parent sends to a case process and what it prints back. A case is one
// process running one or more UNO generations in sequence (later runs see a warm process, as in the
// app's long-lived engine process).
import { type ExecutionProvider, isExecutionProvider } from '../electron/engine/runtime/sessions.js';

export const GENERATE_RESULT_PREFIX = 'BENCH_GENERATE_RESULT ';

export interface GenerateRunSpec {
  /** Row label, e.g. "UNO LoRA, cache miss". */
  label: string;
  width: number;
  height: number;
  steps: number;
  references: string[];
  /** LoRA file, or null for the base model. */
  lora: string | null;
  seed: number;
}

export interface GenerateCaseSpec {
  id: string;
  modelsRoot: string;
  /** Bake cache lives in `<cacheDir>/bakes` (shared between cases of the same bench run). */
  cacheDir: string;
  outputDir: string;
  ep: ExecutionProvider;
  runs: GenerateRunSpec[];
  /** Sample the JS thread with the inspector's CPU profiler and report the heaviest functions. */
  profile: boolean;
}

/** Wall time between two pipeline events and the ORT time inside it. */
export interface GenerateSegment {
  phase: string;
  detail?: string;
  ms: number;
  sessionRunMs: number;
  sessionRuns: number;
  sessionCreateMs: number;
  sessionCreates: number;
  sessionReleaseMs: number;
}

export interface GenerateRunResult {
  label: string;
  width: number;
  height: number;
  steps: number;
  references: number;
  lora: string | null;
  /** Wall time of the runUnoPipeline call. */
  totalMs: number;
  /** The pipeline's own PhaseTracker timings. */
  phaseMs: Record<string, number>;
  /** Consecutive segments between phase events (covers the whole call). */
  segments: GenerateSegment[];
  sessionRunMs: number;
  sessionRuns: number;
  sessionCreateMs: number;
  sessionCreates: number;
  /** Time inside NetSession.release (ORT freeing arenas and weights; part of outsideMs). */
  sessionReleaseMs: number;
  /** totalMs − sessionRunMs − sessionCreateMs. */
  outsideMs: number;
  outsideShare: number;
  /** (outsideMs − sessionReleaseMs) / totalMs: host-side work alone. */
  hostShare: number;
  /** Was the LoRA merged in this run (a bake-cache miss)? null without a LoRA. */
  bakeMiss: boolean | null;
  /** Wall time of the baking phase (0 without a LoRA). */
  bakeMs: number;
  /** The "loading transformer" segment: graph build + DiT session creation. */
  ditLoadMs: number;
  ditSessionCreateMs: number;
  /** Wall time of each denoising step (DiT run + Euler + progress event) and the ORT run time inside it. */
  stepMs: number[];
  stepSessionRunMs: number[];
  rssAfterMb: number;
  outputFile: string;
}

export interface ProfileEntry {
  /** function name (file:line). */
  fn: string;
  selfMs: number;
}

export interface GenerateCaseResult {
  id: string;
  ep: ExecutionProvider;
  runs: GenerateRunResult[];
  rssBaseMb: number;
  peakRssMb: number;
  /** Heaviest JS functions by self time over all runs (profile: true only). */
  profileTop?: ProfileEntry[];
  /** Total sampled time that was not idle / native waiting, when profiled. */
  profileBusyMs?: number;
}

/** Parse and check the JSON argument of a generation case process. */
export function parseGenerateCaseSpec(arg: string | undefined): GenerateCaseSpec {
  if (!arg) throw new Error('generate-case: expected one argument, a GenerateCaseSpec JSON object');
  const s = JSON.parse(arg) as Partial<GenerateCaseSpec>;
  const problems: string[] = [];
  for (const k of ['id', 'modelsRoot', 'cacheDir', 'outputDir'] as const) {
    if (typeof s[k] !== 'string' || !s[k]) problems.push(`${k} (non-empty string)`);
  }
  if (typeof s.ep !== 'string' || !isExecutionProvider(s.ep)) problems.push('ep (an execution provider)');
  if (typeof s.profile !== 'boolean') problems.push('profile (boolean)');
  if (!Array.isArray(s.runs) || s.runs.length === 0) {
    problems.push('runs (non-empty array)');
  } else {
    s.runs.forEach((r, i) => {
      const ok = typeof r.label === 'string' && Number.isInteger(r.width) && Number.isInteger(r.height) &&
        Number.isInteger(r.steps) && r.steps > 0 && Array.isArray(r.references) &&
        (r.lora === null || typeof r.lora === 'string') && Number.isInteger(r.seed);
      if (!ok) problems.push(`runs[${i}] ({ label, width, height, steps, references, lora, seed })`);
    });
  }
  if (problems.length) throw new Error(`generate-case: invalid spec, missing or wrong: ${problems.join(', ')}`);
  return s as GenerateCaseSpec;
}
