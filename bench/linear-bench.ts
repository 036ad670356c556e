// Linear weight layout on CPU: nn.linear emits MatMul(x, Transpose(W)); ORT folds that Transpose
// at session creation into a private transposed copy of every weight, so the weights are neither
// memory-mapped nor shared even with prepacking off. Gemm(x, W, transB=1) reads W as stored.
// This bench measures both (create time, RSS growth at create, forward time), prepacking on/off.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type TensorToWrite, writeSafetensorsFile } from '../electron/engine/runtime/safetensors.js';
import { SeededRandom } from '../electron/engine/kit/write-checkpoint.js';
import { runCaseProcess } from './case-process.js';
import { LINEAR_RESULT_PREFIX, type LinearCaseResult, type LinearCaseSpec, type LinearLayout } from './linear-case-protocol.js';

export interface LinearBenchOptions {
  /** Square layers width×width, float32. */
  width: number;
  layers: number;
  tokens: number;
  runs: number;
  log?: (line: string) => void;
}

export const LINEAR_BENCH_DEFAULTS: LinearBenchOptions = { width: 3072, layers: 4, tokens: 256, runs: 3 };

export interface LinearCaseOutcome {
  id: string;
  label: string;
  result?: LinearCaseResult;
  error?: string;
}

export interface LinearBenchReport {
  width: number;
  layers: number;
  tokens: number;
  weightBytes: number;
  cases: LinearCaseOutcome[];
}

const CASE_SCRIPT = fileURLToPath(new URL('./linear-case.js', import.meta.url));

export async function runLinearBench(o: LinearBenchOptions): Promise<LinearBenchReport> {
  const log = o.log ?? (() => undefined);
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'umo-bench-linear-')));
  try {
    const file = path.join(dir, 'linear.safetensors');
    const rng = new SeededRandom(3);
    const tensors: Record<string, TensorToWrite> = {};
    for (let i = 0; i < o.layers; i++) {
      // Values do not matter for timing; a short random row repeated keeps writing fast.
      const data = new Float32Array(o.width * o.width);
      const row = Float32Array.from({ length: o.width }, () => rng.normal() / Math.sqrt(o.width));
      for (let r = 0; r < o.width; r++) data.set(row, r * o.width);
      tensors[`layers.${i}.weight`] = { dtype: 'F32', shape: [o.width, o.width], data };
    }
    writeSafetensorsFile(file, tensors);
    const weightBytes = o.layers * o.width * o.width * 4;
    const cases: LinearCaseOutcome[] = [];
    const plans: Array<[LinearLayout, boolean, string]> = [
      ['transpose-matmul', true, 'Transpose+MatMul (nn.linear), prepacked'],
      ['transpose-matmul', false, 'Transpose+MatMul (nn.linear), prepacking off'],
      ['gemm-transb', true, 'Gemm transB=1, prepacked'],
      ['gemm-transb', false, 'Gemm transB=1, prepacking off'],
    ];
    for (const [layout, prepacking, label] of plans) {
      const id = `${layout}-${prepacking ? 'prepack' : 'mapped'}`;
      const spec: LinearCaseSpec = { id, checkpoint: file, layout, prepacking, tokens: o.tokens, runs: o.runs };
      log(`linear: ${label} ...`);
      const outcome: LinearCaseOutcome = { id, label };
      try {
        outcome.result = await runCaseProcess<LinearCaseResult>(CASE_SCRIPT, spec, LINEAR_RESULT_PREFIX, id, 5 * 60_000);
      } catch (e) {
        outcome.error = (e as Error).message;
        log(`linear:   FAILED: ${outcome.error}`);
      }
      cases.push(outcome);
    }
    return { width: o.width, layers: o.layers, tokens: o.tokens, weightBytes, cases };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
