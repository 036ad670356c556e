// What the linear-layout bench parent sends to a case process and what it prints back.
export const LINEAR_RESULT_PREFIX = 'BENCH_LINEAR_RESULT ';

export type LinearLayout = 'transpose-matmul' | 'gemm-transb';

export interface LinearCaseSpec {
  id: string;
  checkpoint: string;
  layout: LinearLayout;
  prepacking: boolean;
  /** Rows of the input (tokens). */
  tokens: number;
  runs: number;
}

export interface LinearCaseResult {
  id: string;
  layout: LinearLayout;
  prepacking: boolean;
  weightBytes: number;
  createMs: number;
  createSecPerGb: number;
  /** RSS growth over session creation (private weight copies show here). */
  createRssMb: number;
  medianForwardMs: number;
  /** After the runs, before release: private pages and mapped file pages (Linux; else null). */
  rssAnonAfterRunsMb: number | null;
  rssFileAfterRunsMb: number | null;
  peakRssMb: number;
}

export function parseLinearCaseSpec(arg: string | undefined): LinearCaseSpec {
  if (!arg) throw new Error('linear-case: expected one argument, a LinearCaseSpec JSON object');
  const s = JSON.parse(arg) as Partial<LinearCaseSpec>;
  const problems: string[] = [];
  if (typeof s.id !== 'string') problems.push('id (string)');
  if (typeof s.checkpoint !== 'string') problems.push('checkpoint (string)');
  if (s.layout !== 'transpose-matmul' && s.layout !== 'gemm-transb') problems.push("layout ('transpose-matmul' | 'gemm-transb')");
  if (typeof s.prepacking !== 'boolean') problems.push('prepacking (boolean)');
  if (!Number.isInteger(s.tokens) || s.tokens! < 1) problems.push('tokens (integer >= 1)');
  if (!Number.isInteger(s.runs) || s.runs! < 1) problems.push('runs (integer >= 1)');
  if (problems.length) throw new Error(`linear-case: invalid spec, missing or wrong: ${problems.join(', ')}`);
  return s as LinearCaseSpec;
}
