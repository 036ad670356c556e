// FLUX DiT engine benchmark: writes the mid-size random checkpoint into a temp folder and runs
// each case (EP × attention form × prepacking) in its own process (dit-case.ts), so every case
// has its own peak RSS. The last output of every case is compared with the first case's.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DType } from '../electron/engine/runtime/safetensors.js';
import type { ExecutionProvider } from '../electron/engine/runtime/sessions.js';
import { type AttentionKind, defaultAttentionFor } from '../electron/engine/models/attention.js';
import { BENCH_DIT_SIZES, BENCH_TOKENS, type BenchTokens, tokenCounts, writeBenchCheckpoint } from './bench-model.js';
import { type DitCaseResult, type DitCaseSpec, RESULT_PREFIX } from './dit-case-protocol.js';
import { runCaseProcess } from './case-process.js';

export interface DitBenchOptions {
  dtype: DType;
  cpuRuns: number;
  gpuRuns: number;
  /** Untimed WebGPU forwards before the timed ones (0: the first timed run includes shader compilation). */
  gpuWarmups: number;
  webgpu: boolean;
  tokens?: BenchTokens;
  /** Per-case time limit. */
  caseTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface DitCaseOutcome {
  id: string;
  label: string;
  result?: DitCaseResult;
  /** max |out − baseline out| and max |baseline out|, when both ran. */
  vsBaseline?: { maxAbsDiff: number; maxAbsRef: number };
  error?: string;
}

export interface DitBenchReport {
  sizes: typeof BENCH_DIT_SIZES;
  dtype: DType;
  tokens: ReturnType<typeof tokenCounts>;
  checkpointBytes: number;
  checkpointWriteMs: number;
  cases: DitCaseOutcome[];
}

interface CasePlan {
  id: string;
  label: string;
  ep: ExecutionProvider;
  attention: AttentionKind;
  prepacking: boolean;
  warmups: number;
  runs: number;
}

function plan(o: DitBenchOptions): CasePlan[] {
  const cpu = defaultAttentionFor('cpu');
  const cases: CasePlan[] = [
    { id: 'cpu-fused-prepack', label: 'CPU, MHA (default), prepacked', ep: 'cpu', attention: cpu, prepacking: true, warmups: 1, runs: o.cpuRuns },
    { id: 'cpu-unfused-prepack', label: 'CPU, unfused attention, prepacked', ep: 'cpu', attention: 'unfused', prepacking: true, warmups: 1, runs: o.cpuRuns },
    { id: 'cpu-fused-mapped', label: 'CPU, MHA, prepacking off', ep: 'cpu', attention: cpu, prepacking: false, warmups: 1, runs: o.cpuRuns },
  ];
  if (o.webgpu) {
    cases.push({
      id: 'webgpu-unfused',
      label: `WebGPU, ${defaultAttentionFor('webgpu')} attention (default)${o.gpuWarmups === 0 ? ', no warm-up' : ''}`,
      ep: 'webgpu', attention: defaultAttentionFor('webgpu'), prepacking: true, warmups: o.gpuWarmups, runs: o.gpuRuns,
    });
  }
  return cases;
}

const CASE_SCRIPT = fileURLToPath(new URL('./dit-case.js', import.meta.url));

function compareOutputs(file: string, baselineFile: string): { maxAbsDiff: number; maxAbsRef: number } {
  const read = (f: string) => {
    const buf = fs.readFileSync(f);
    return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  };
  const a = read(file);
  const ref = read(baselineFile);
  if (a.length !== ref.length) throw new Error(`output lengths differ: ${a.length} vs ${ref.length}`);
  let maxAbsDiff = 0;
  let maxAbsRef = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i] - ref[i]));
    maxAbsRef = Math.max(maxAbsRef, Math.abs(ref[i]));
  }
  return { maxAbsDiff, maxAbsRef };
}

export async function runDitBench(o: DitBenchOptions): Promise<DitBenchReport> {
  const log = o.log ?? (() => undefined);
  const tokens = o.tokens ?? BENCH_TOKENS;
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'umo-bench-dit-')));
  try {
    const w0 = performance.now();
    const ck = writeBenchCheckpoint(dir, o.dtype);
    const checkpointWriteMs = performance.now() - w0;
    log(`dit: wrote ${(ck.bytes / 1e6).toFixed(0)} MB random ${o.dtype} checkpoint in ${(checkpointWriteMs / 1000).toFixed(1)} s`);
    const cases: DitCaseOutcome[] = [];
    let baselineFile: string | null = null;
    for (const p of plan(o)) {
      const outputFile = path.join(dir, `${p.id}.out.f32`);
      const spec: DitCaseSpec = {
        id: p.id, checkpoint: ck.file, ep: p.ep, attention: p.attention, prepacking: p.prepacking,
        tokens, warmups: p.warmups, runs: p.runs, outputFile,
      };
      log(`dit: ${p.label} (${p.warmups} warm-up + ${p.runs} runs) ...`);
      const outcome: DitCaseOutcome = { id: p.id, label: p.label };
      try {
        outcome.result = await runCaseProcess<DitCaseResult>(CASE_SCRIPT, spec, RESULT_PREFIX, spec.id, o.caseTimeoutMs ?? 15 * 60_000);
        if (baselineFile) outcome.vsBaseline = compareOutputs(outputFile, baselineFile);
        else baselineFile = outputFile;
        log(`dit:   median forward ${(outcome.result.medianForwardMs / 1000).toFixed(2)} s, peak RSS ${outcome.result.peakRssMb.toFixed(0)} MB`);
      } catch (e) {
        outcome.error = (e as Error).message;
        log(`dit:   FAILED: ${outcome.error}`);
      }
      cases.push(outcome);
    }
    return { sizes: BENCH_DIT_SIZES, dtype: o.dtype, tokens: tokenCounts(tokens), checkpointBytes: ck.bytes, checkpointWriteMs, cases };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
