// The precision bench's error metric and table: relative RMS / max abs error against hand-computed
// values, and ratios taken against fp32 on the same EP (not another EP's fp32).
import { describe, expect, it } from 'vitest';
import { outputError, precisionLabel, precisionTable, ratio, type PrecisionCaseOutcome } from '../../../bench/precision-report.js';
import type { BenchPrecision, PrecisionCaseResult } from '../../../bench/precision-case-protocol.js';
import type { ExecutionProvider } from '../../../electron/engine/runtime/sessions.js';

describe('outputError', () => {
  it('gives ||out − ref|| / ||ref|| and the largest absolute difference', () => {
    const ref = Float32Array.from([3, 0, -4, 0]); // ||ref|| = 5
    const out = Float32Array.from([3, 1, -4, -2]); // diff [0, 1, 0, -2]: ||diff|| = √5
    const e = outputError(out, ref);
    expect(e.relRms).toBeCloseTo(Math.sqrt(5) / 5, 12);
    expect(e.maxAbs).toBe(2);
    expect(e.maxAbsRef).toBe(4);
  });

  it('is zero for identical outputs', () => {
    const ref = Float32Array.from([0.5, -1.25, 7]);
    expect(outputError(Float32Array.from(ref), ref)).toEqual({ relRms: 0, maxAbs: 0, maxAbsRef: 7 });
  });

  it('rejects different lengths and an all-zero reference with a clear message', () => {
    expect(() => outputError(new Float32Array(3), Float32Array.from([1, 2]))).toThrow(/3 values, the fp32 reference 2/);
    expect(() => outputError(new Float32Array(2), new Float32Array(2))).toThrow(/all zeros/);
  });
});

function result(ep: ExecutionProvider, precision: BenchPrecision, createMs: number, fwdMs: number): PrecisionCaseResult {
  return {
    id: `${ep}-${precision}`, precision, ep, tokens: 10, bakeMs: 1500, bakeHit: precision.startsWith('int') ? ep !== 'cpu' : null,
    bakeFileBytes: precision.startsWith('int') ? 12e6 : 0, quantizedLinears: 3,
    linearCompute: precision === 'fp16' && ep !== 'cpu' ? 'float16' : 'float32', parameters: 1e6, nodes: 10, graphWeightBytes: 40e6,
    buildMs: 5, sessionCreateMs: createMs, warmupMs: [fwdMs], forwardMs: [fwdMs, fwdMs], meanForwardMs: fwdMs,
    rssAfterCreateMb: 100, rssAnonAfterRunsMb: null, rssFileAfterRunsMb: null, peakRssMb: 200,
  };
}

describe('precisionTable', () => {
  it('takes ratios against fp32 on the same EP and marks CPU fp16 as the fp32 graph', () => {
    const cases: PrecisionCaseOutcome[] = [
      { id: 'cpu-fp32', ep: 'cpu', precision: 'fp32', plannedWeightBytes: 40e6, result: result('cpu', 'fp32', 1000, 4000) },
      { id: 'cpu-fp16', ep: 'cpu', precision: 'fp16', plannedWeightBytes: 40e6, result: result('cpu', 'fp16', 1000, 4000),
        vsFp32: { relRms: 0, maxAbs: 0, maxAbsRef: 1 } },
      { id: 'cpu-int4', ep: 'cpu', precision: 'int4', plannedWeightBytes: 10e6, result: result('cpu', 'int4', 500, 6000),
        vsFp32: { relRms: 0.0123, maxAbs: 0.5, maxAbsRef: 1 } },
      { id: 'webgpu-fp32', ep: 'webgpu', precision: 'fp32', plannedWeightBytes: 40e6, result: result('webgpu', 'fp32', 2000, 10000) },
      { id: 'webgpu-int4', ep: 'webgpu', precision: 'int4', plannedWeightBytes: 8e6, result: result('webgpu', 'int4', 3000, 5000),
        vsFp32: { relRms: 0.02, maxAbs: 0.25, maxAbsRef: 1 } },
      { id: 'webgpu-int8', ep: 'webgpu', precision: 'int8', plannedWeightBytes: 16e6, error: 'webgpu-int8: case process failed (exit 1)' },
    ];
    const lines = precisionTable(cases).split('\n');
    const row = (ep: string, p: string) => lines.find((l) => l.startsWith(ep) && l.includes(` ${p}`))!.split(/\s{2,}/);
    expect(row('cpu', 'fp16')[1]).toBe('fp16 (= fp32 graph on CPU)');
    // cpu int4: planned 10/40, create 500/1000, forward 6000/4000
    expect(row('cpu', 'int4')).toEqual(['cpu', 'int4', '1.50', '12.0', '10.0', '0.25', '40.0', '0.50', '0.50', '6.00 (2)', '1.50', '200', '1.23e-2', '5.00e-1']);
    // webgpu int4 against webgpu fp32 (not cpu fp32): create 3000/2000, forward 5000/10000, planned 8/40; bake reused
    expect(row('webgpu', 'int4')).toEqual(['webgpu', 'int4', '1.50 (cached)', '12.0', '8.0', '0.20', '40.0', '3.00', '1.50', '5.00 (2)', '0.50', '200', '2.00e-2', '2.50e-1']);
    expect(row('cpu', 'fp32').slice(2, 3)).toEqual(['none']);
    expect(row('cpu', 'fp32').slice(-2)).toEqual(['reference', '-']);
    expect(row('webgpu', 'int8')[2]).toBe('failed: webgpu-int8: case process failed (exit 1)');
  });

  it('ratio is "-" without a usable reference', () => {
    expect(ratio(1, undefined)).toBe('-');
    expect(ratio(1, 0)).toBe('-');
    expect(ratio(3, 4)).toBe('0.75');
  });

  it('labels fp16 on a GPU EP as fp16 when its Linears compute in float16', () => {
    expect(precisionLabel({ ep: 'webgpu', precision: 'fp16' }, { linearCompute: 'float16' })).toBe('fp16');
    expect(precisionLabel({ ep: 'cpu', precision: 'fp16' })).toBe('fp16 (= fp32 graph on CPU)');
  });
});
