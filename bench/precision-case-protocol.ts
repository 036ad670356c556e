// What the precision bench parent sends to a case process and what it prints back.
import { type ExecutionProvider, isExecutionProvider } from '../electron/engine/runtime/sessions.js';
import type { BenchTokens } from './bench-model.js';

export const PRECISION_RESULT_PREFIX = 'BENCH_PRECISION_RESULT ';

/** The precisions compared (the planner's names; bf16-as-fp32-on-cpu is the fp32 graph and left out). */
export const BENCH_PRECISIONS = ['fp32', 'fp16', 'int8', 'int4'] as const;
export type BenchPrecision = (typeof BENCH_PRECISIONS)[number];

export interface PrecisionCaseSpec {
  id: string;
  checkpoint: string;
  /** Bake cache folder shared by the cases of one bench run (the first case of a precision bakes, later ones hit). */
  cacheDir: string;
  precision: BenchPrecision;
  ep: ExecutionProvider;
  tokens: BenchTokens;
  warmups: number;
  runs: number;
  /** Where the case writes its last output (raw float32). */
  outputFile: string;
}

export interface PrecisionCaseResult {
  id: string;
  precision: BenchPrecision;
  ep: ExecutionProvider;
  /** Joint sequence length (text + target + references). */
  tokens: number;
  /** quantizedWeights(): bake cache lookup, and on a miss the quantization and the bake file write. */
  bakeMs: number;
  /** null: nothing to bake (float precision without a LoRA); else whether an existing bake was reused. */
  bakeHit: boolean | null;
  /** Size of the bake file on disk (0 when nothing was baked). */
  bakeFileBytes: number;
  /** Linear weights stored as MatMulNBits. */
  quantizedLinears: number;
  /** How the plain (non-quantized) Linears compute: float16 only for fp16 on a GPU EP. */
  linearCompute: 'float32' | 'float16';
  parameters: number;
  nodes: number;
  /** Initializer bytes the graph references, as stored (checkpoint + bake tensors, before any cast). */
  graphWeightBytes: number;
  /** Graph build alone (ONNX bytes in memory). */
  buildMs: number;
  /** ORT InferenceSession.create time (sessionStats), without the graph build. */
  sessionCreateMs: number;
  warmupMs: number[];
  forwardMs: number[];
  meanForwardMs: number;
  rssAfterCreateMb: number;
  /** After the last forward, before release (Linux; else null). */
  rssAnonAfterRunsMb: number | null;
  rssFileAfterRunsMb: number | null;
  peakRssMb: number;
}

/** Parse and check the JSON argument of a case process. */
export function parsePrecisionCaseSpec(arg: string | undefined): PrecisionCaseSpec {
  if (!arg) throw new Error('precision-case: expected one argument, a PrecisionCaseSpec JSON object');
  const s = JSON.parse(arg) as Partial<PrecisionCaseSpec>;
  const problems: string[] = [];
  if (typeof s.id !== 'string') problems.push('id (string)');
  if (typeof s.checkpoint !== 'string') problems.push('checkpoint (string)');
  if (typeof s.cacheDir !== 'string') problems.push('cacheDir (string)');
  if (typeof s.precision !== 'string' || !(BENCH_PRECISIONS as readonly string[]).includes(s.precision)) {
    problems.push(`precision (${BENCH_PRECISIONS.join(' | ')})`);
  }
  if (typeof s.ep !== 'string' || !isExecutionProvider(s.ep)) problems.push('ep (an execution provider)');
  if (!s.tokens || !Number.isInteger(s.tokens.imgSide) || !Array.isArray(s.tokens.refSides) || !Number.isInteger(s.tokens.txt)) {
    problems.push('tokens ({ imgSide, refSides, txt })');
  }
  if (!Number.isInteger(s.warmups) || s.warmups! < 0) problems.push('warmups (integer >= 0)');
  if (!Number.isInteger(s.runs) || s.runs! < 1) problems.push('runs (integer >= 1)');
  if (typeof s.outputFile !== 'string') problems.push('outputFile (string)');
  if (problems.length) throw new Error(`precision-case: invalid spec, missing or wrong: ${problems.join(', ')}`);
  return s as PrecisionCaseSpec;
}
