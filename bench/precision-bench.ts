// Precision benchmark (fp32 / fp16 / int8 / int4) on the mid-size FLUX DiT: writes the random F32
// checkpoint once, then runs every precision × EP in its own process (precision-case.ts) with one
// bake cache shared by the run (so the first case of a precision times the uncached bake and later
// EPs reuse it), and compares every output with the fp32 output of the same EP.
// Also runnable alone: node dist/bench/precision-bench.js [--no-webgpu] [--cpu-runs N] [--gpu-runs N]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Checkpoint } from '../electron/engine/runtime/safetensors.js';
import { type ExecutionProvider, probeExecutionProviders } from '../electron/engine/runtime/sessions.js';
import { fluxDitMemoryModel } from '../electron/engine/runtime/network-memory-models.js';
import { BENCH_DIT_SIZES, BENCH_TOKENS, type BenchTokens, tokenCounts, writeBenchCheckpoint } from './bench-model.js';
import {
  BENCH_PRECISIONS, type PrecisionCaseResult, type PrecisionCaseSpec, PRECISION_RESULT_PREFIX,
} from './precision-case-protocol.js';
import { type PrecisionCaseOutcome, PRECISION_TABLE_NOTES, outputError, precisionTable } from './precision-report.js';
import { runCaseProcess } from './case-process.js';

/**
 * WebGPU token grid: lavapipe (Mesa's CPU Vulkan driver) runs the mid-size DiT far slower than
 * the CPU EP, so its cases use a 16×16 target with two 8×8 references and 64 text tokens.
 */
export const PRECISION_GPU_TOKENS: BenchTokens = { imgSide: 16, refSides: [8, 8], txt: 64 };

export interface PrecisionBenchOptions {
  /** Timed CPU forwards per case (after one warm-up). */
  cpuRuns: number;
  /** Timed WebGPU forwards per case (after `gpuWarmups`). */
  gpuRuns: number;
  gpuWarmups: number;
  webgpu: boolean;
  cpuTokens?: BenchTokens;
  gpuTokens?: BenchTokens;
  caseTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface PrecisionBenchReport {
  sizes: typeof BENCH_DIT_SIZES;
  tokens: Partial<Record<ExecutionProvider, ReturnType<typeof tokenCounts>>>;
  runs: Partial<Record<ExecutionProvider, { warmups: number; runs: number }>>;
  checkpointBytes: number;
  cases: PrecisionCaseOutcome[];
}

const CASE_SCRIPT = fileURLToPath(new URL('./precision-case.js', import.meta.url));

function readF32(file: string): Float32Array {
  const buf = fs.readFileSync(file);
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
}

export async function runPrecisionBench(o: PrecisionBenchOptions): Promise<PrecisionBenchReport> {
  const log = o.log ?? (() => undefined);
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'umo-bench-precision-')));
  try {
    const ck = writeBenchCheckpoint(dir, 'F32');
    log(`precision: wrote ${(ck.bytes / 1e6).toFixed(0)} MB random F32 checkpoint`);
    const model = fluxDitMemoryModel(Checkpoint.open(ck.file));
    const eps: Array<{ ep: ExecutionProvider; tokens: BenchTokens; warmups: number; runs: number }> = [
      { ep: 'cpu', tokens: o.cpuTokens ?? BENCH_TOKENS, warmups: 1, runs: o.cpuRuns },
    ];
    if (o.webgpu) eps.push({ ep: 'webgpu', tokens: o.gpuTokens ?? PRECISION_GPU_TOKENS, warmups: o.gpuWarmups, runs: o.gpuRuns });
    const cacheDir = path.join(dir, 'bakes');
    const cases: PrecisionCaseOutcome[] = [];
    for (const e of eps) {
      let fp32Output: string | null = null;
      for (const precision of BENCH_PRECISIONS) {
        const id = `${e.ep}-${precision}`;
        const outputFile = path.join(dir, `${id}.out.f32`);
        const spec: PrecisionCaseSpec = {
          id, checkpoint: ck.file, cacheDir, precision, ep: e.ep, tokens: e.tokens, warmups: e.warmups, runs: e.runs, outputFile,
        };
        const outcome: PrecisionCaseOutcome = {
          id, ep: e.ep, precision, plannedWeightBytes: model.weights({ precision }, e.ep === 'cpu' ? 'cpu' : 'gpu').total,
        };
        log(`precision: ${e.ep} ${precision} (${e.warmups} warm-up + ${e.runs} runs, ${tokenCounts(e.tokens).total} tokens) ...`);
        try {
          outcome.result = await runCaseProcess<PrecisionCaseResult>(CASE_SCRIPT, spec, PRECISION_RESULT_PREFIX, id, o.caseTimeoutMs ?? 15 * 60_000);
          if (precision === 'fp32') fp32Output = outputFile;
          else if (fp32Output) outcome.vsFp32 = outputError(readF32(outputFile), readF32(fp32Output));
          const r = outcome.result;
          log(`precision:   bake ${(r.bakeMs / 1000).toFixed(2)} s, create ${(r.sessionCreateMs / 1000).toFixed(2)} s, ` +
            `mean forward ${(r.meanForwardMs / 1000).toFixed(2)} s${outcome.vsFp32 ? `, rel RMS ${outcome.vsFp32.relRms.toExponential(2)}` : ''}`);
        } catch (err) {
          outcome.error = (err as Error).message;
          log(`precision:   FAILED: ${outcome.error}`);
        }
        cases.push(outcome);
      }
    }
    return {
      sizes: BENCH_DIT_SIZES,
      tokens: Object.fromEntries(eps.map((e) => [e.ep, tokenCounts(e.tokens)])),
      runs: Object.fromEntries(eps.map((e) => [e.ep, { warmups: e.warmups, runs: e.runs }])),
      checkpointBytes: ck.bytes,
      cases,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Heading, table and notes as printed by run-all and the script. */
export function precisionSection(r: PrecisionBenchReport): string {
  const s = r.sizes;
  const params = r.cases.find((c) => c.result)?.result?.parameters ?? 0;
  const grid = (ep: ExecutionProvider) => {
    const t = r.tokens[ep];
    const n = r.runs[ep];
    return t && n ? `${ep}: ${t.total} tokens (${t.img} target + ${t.refs} reference + ${t.txt} text), ${n.warmups} warm-up + ${n.runs} timed` : null;
  };
  const scale = (['cpu', 'webgpu'] as const)
    .map((ep) => [ep, r.cases.find((c) => c.ep === ep && c.vsFp32)?.vsFp32?.maxAbsRef] as const)
    .filter(([, v]) => v !== undefined).map(([ep, v]) => `${ep} ${v!.toFixed(2)}`).join(', ');
  return [
    `Precision, FLUX DiT forward: hidden ${s.hidden}, ${s.heads} heads, ${s.depth} double + ${s.depthSingle} single blocks, ` +
      `${(params / 1e6).toFixed(0)} M parameters, F32 checkpoint ${(r.checkpointBytes / 1e6).toFixed(0)} MB; ` +
      (['cpu', 'webgpu'] as const).map(grid).filter(Boolean).join('; '),
    precisionTable(r.cases),
    PRECISION_TABLE_NOTES,
    `(output scale, max |y32|: ${scale || 'no comparison ran'})`,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'cpu-runs': { type: 'string', default: '3' },
      'gpu-runs': { type: 'string', default: '1' },
      'gpu-warmups': { type: 'string', default: '1' },
      'no-webgpu': { type: 'boolean', default: false },
    },
  });
  const log = (l: string) => process.stderr.write(`${l}\n`);
  let webgpu = !values['no-webgpu'];
  if (webgpu) {
    const probe = (await probeExecutionProviders()).find((p) => p.ep === 'webgpu');
    webgpu = probe?.works ?? false;
    if (!webgpu) log(`precision: WebGPU unavailable (${probe?.detail ?? 'not probed'}), CPU only`);
  }
  const r = await runPrecisionBench({
    cpuRuns: Number(values['cpu-runs']), gpuRuns: Number(values['gpu-runs']), gpuWarmups: Number(values['gpu-warmups']), webgpu, log,
  });
  console.log(precisionSection(r));
  console.log(`BENCH_JSON ${JSON.stringify(r)}`);
  if (r.cases.some((c) => c.error)) process.exitCode = 1;
}

// Run as a script, not when imported by run-all.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`precision-bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  });
}
