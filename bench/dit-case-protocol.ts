// What the DiT bench parent sends to a case process and what it prints back.
import { type ExecutionProvider, isExecutionProvider } from '../electron/engine/runtime/sessions.js';
import type { AttentionKind } from '../electron/engine/models/attention.js';
import type { BenchTokens } from './bench-model.js';

export const RESULT_PREFIX = 'BENCH_CASE_RESULT ';

export interface DitCaseSpec {
  id: string;
  checkpoint: string;
  ep: ExecutionProvider;
  attention: AttentionKind;
  prepacking: boolean;
  tokens: BenchTokens;
  warmups: number;
  runs: number;
  /** Where the case writes its last output (raw float32). */
  outputFile: string;
}

export interface DitCaseResult {
  id: string;
  ep: ExecutionProvider;
  attention: AttentionKind;
  prepacking: boolean;
  /** Joint sequence length (text + target + references). */
  tokens: number;
  parameters: number;
  weightBytes: number;
  nodes: number;
  /** Graph build alone (ONNX bytes in memory). */
  buildMs: number;
  /** FluxDit.create: graph build + session creation. */
  createMs: number;
  /** createMs − buildMs. */
  sessionCreateMs: number;
  sessionCreateSecPerGb: number;
  warmupMs: number[];
  forwardMs: number[];
  medianForwardMs: number;
  /** RSS before opening the checkpoint (Node + ORT loaded). */
  rssBaseMb: number;
  rssAfterCreateMb: number;
  /** After the last forward, before release: private pages (arena, weight copies) and mapped file pages (Linux; else null). */
  rssAnonAfterRunsMb: number | null;
  rssFileAfterRunsMb: number | null;
  /** Peak RSS of the case process. */
  peakRssMb: number;
}

/** Parse and check the JSON argument of a case process. */
export function parseDitCaseSpec(arg: string | undefined): DitCaseSpec {
  if (!arg) throw new Error('dit-case: expected one argument, a DitCaseSpec JSON object');
  const s = JSON.parse(arg) as Partial<DitCaseSpec>;
  const problems: string[] = [];
  if (typeof s.id !== 'string') problems.push('id (string)');
  if (typeof s.checkpoint !== 'string') problems.push('checkpoint (string)');
  if (typeof s.ep !== 'string' || !isExecutionProvider(s.ep)) problems.push('ep (an execution provider)');
  if (s.attention !== 'fused' && s.attention !== 'unfused') problems.push("attention ('fused' | 'unfused')");
  if (typeof s.prepacking !== 'boolean') problems.push('prepacking (boolean)');
  if (!s.tokens || !Number.isInteger(s.tokens.imgSide) || !Array.isArray(s.tokens.refSides) || !Number.isInteger(s.tokens.txt)) {
    problems.push('tokens ({ imgSide, refSides, txt })');
  }
  if (!Number.isInteger(s.warmups) || s.warmups! < 0) problems.push('warmups (integer >= 0)');
  if (!Number.isInteger(s.runs) || s.runs! < 1) problems.push('runs (integer >= 1)');
  if (typeof s.outputFile !== 'string') problems.push('outputFile (string)');
  if (problems.length) throw new Error(`dit-case: invalid spec, missing or wrong: ${problems.join(', ')}`);
  return s as DitCaseSpec;
}
