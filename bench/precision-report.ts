// Precision bench results: the error of an output against the fp32 output, and the printed table
// (each precision next to fp32 on the same EP, with ratios: timings are noisy, so only ratios
// within one run are worth comparing).
import type { ExecutionProvider } from '../electron/engine/runtime/sessions.js';
import type { BenchPrecision, PrecisionCaseResult } from './precision-case-protocol.js';
import { formatTable } from './table.js';

export interface OutputError {
  /** ||out − ref||₂ / ||ref||₂ */
  relRms: number;
  /** max |out − ref| */
  maxAbs: number;
  /** max |ref| (the scale max |Δ| is read against) */
  maxAbsRef: number;
}

/** Error of `out` against the reference output `ref` (same length, ref not all zero). */
export function outputError(out: Float32Array, ref: Float32Array): OutputError {
  if (out.length !== ref.length) throw new Error(`output has ${out.length} values, the fp32 reference ${ref.length}`);
  let diff2 = 0;
  let ref2 = 0;
  let maxAbs = 0;
  let maxAbsRef = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = out[i] - ref[i];
    diff2 += d * d;
    ref2 += ref[i] * ref[i];
    maxAbs = Math.max(maxAbs, Math.abs(d));
    maxAbsRef = Math.max(maxAbsRef, Math.abs(ref[i]));
  }
  if (!(ref2 > 0)) throw new Error('the fp32 reference output is all zeros: a relative error is undefined');
  return { relRms: Math.sqrt(diff2 / ref2), maxAbs, maxAbsRef };
}

export interface PrecisionCaseOutcome {
  id: string;
  ep: ExecutionProvider;
  precision: BenchPrecision;
  /** The memory planner's resident weight bytes for this precision on this device (weight-bytes.ts pricing). */
  plannedWeightBytes: number;
  result?: PrecisionCaseResult;
  /** Against the fp32 case on the same EP (absent for fp32 itself or when either failed). */
  vsFp32?: OutputError;
  error?: string;
}

const MB = 1e6;
const sec = (ms: number) => (ms / 1000).toFixed(2);
const mb = (bytes: number) => (bytes / MB).toFixed(1);

/** x / ref as "0.52", or '-' without a reference. */
export function ratio(x: number | undefined, ref: number | undefined): string {
  if (x === undefined || ref === undefined || !(ref > 0)) return '-';
  return (x / ref).toFixed(2);
}

/** The row label of a case: fp16 on the CPU EP runs the fp32 graph (no fp16 MatMul on x64 CPU). */
export function precisionLabel(c: Pick<PrecisionCaseOutcome, 'ep' | 'precision'>, r?: Pick<PrecisionCaseResult, 'linearCompute'>): string {
  if (c.precision !== 'fp16') return c.precision;
  if (c.ep === 'cpu') return 'fp16 (= fp32 graph on CPU)';
  return r?.linearCompute === 'float32' ? 'fp16 (ran as fp32 graph)' : 'fp16';
}

export function precisionTable(cases: readonly PrecisionCaseOutcome[]): string {
  const fp32 = new Map(cases.filter((c) => c.precision === 'fp32').map((c) => [c.ep, c]));
  const rows = cases.map((c) => {
    const x = c.result;
    const head = [c.ep, precisionLabel(c, x)];
    if (!x) return [...head, `failed: ${c.error ?? '?'}`];
    const ref = fp32.get(c.ep);
    const bake = x.bakeHit === null ? 'none' : `${sec(x.bakeMs)}${x.bakeHit ? ' (cached)' : ''}`;
    const err = c.precision === 'fp32' ? ['reference', '-']
      : c.vsFp32 ? [c.vsFp32.relRms.toExponential(2), c.vsFp32.maxAbs.toExponential(2)]
        : ['-', '-'];
    return [
      ...head,
      bake,
      x.bakeFileBytes ? mb(x.bakeFileBytes) : '-',
      mb(c.plannedWeightBytes),
      ratio(c.plannedWeightBytes, ref?.plannedWeightBytes),
      mb(x.graphWeightBytes),
      sec(x.sessionCreateMs),
      ratio(x.sessionCreateMs, ref?.result?.sessionCreateMs),
      `${sec(x.meanForwardMs)} (${x.forwardMs.length})`,
      ratio(x.meanForwardMs, ref?.result?.meanForwardMs),
      x.peakRssMb.toFixed(0),
      ...err,
    ];
  });
  return formatTable(
    ['EP', 'precision', 'bake s', 'bake file MB', 'planned MB', '×fp32', 'graph MB', 'create s', '×fp32',
      'mean fwd s (n)', '×fp32', 'peak RSS MB', 'rel RMS err', 'max |Δ|'],
    rows,
  );
}

/** The notes printed under the table (what each column means). */
export const PRECISION_TABLE_NOTES = [
  'bake s = quantizedWeights() on a fresh cache (quantize + write the bake; "cached" = reused from an earlier case; none = float, nothing to bake)',
  'bake file MB = the bake on disk (only the quantized Linears; every other tensor is still read from the checkpoint)',
  'planned MB = the memory planner\'s resident weight estimate for the precision on that device (weight-bytes.ts); ' +
    'graph MB = initializer bytes the graph references as stored (checkpoint + bake)',
  'create s = ORT session creation alone; mean fwd = mean of the timed forwards after the warm-up(s); ×fp32 = ratio to fp32 on the same EP in this run',
  'error = against the fp32 output on the same EP and token grid: rel RMS = ||y − y32|| / ||y32||, max |Δ| = max abs difference',
].map((l) => `(${l})`).join('\n');
