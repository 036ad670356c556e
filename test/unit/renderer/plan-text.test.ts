import { describe, expect, test } from 'vitest';
import { budgetText, formatBytes, guardrailText, planHeadline, residencyLabel } from '../../../renderer/src/planText.js';
import { devicePreferenceProblem } from '../../../renderer/src/statusText.js';
import { DEFAULT_SETTINGS } from '../../../shared/settings.js';
import type { PlanAnswer } from '../../../shared/umo-api.js';

const GiB = 1024 ** 3;

function answer(fits: boolean, over: Partial<PlanAnswer['plan']> = {}): PlanAnswer {
  return {
    ep: 'cuda',
    budget: { bytes: 16 * GiB, source: 'nvidia-smi', detail: 'nvidia-smi: 16376 MiB total' },
    plan: {
      backbone: 'uno', device: 'gpu', budgetBytes: 16 * GiB, reserveBytes: GiB, fits, peakBytes: 14.8 * GiB, residency: 'one-phase-at-a-time',
      phases: [
        { name: 'encode-text', components: [{ id: 't5', precision: 'int8', quantizeModulation: false, weightBytes: 5 * GiB }], residentWeightBytes: 5 * GiB, activationBytes: GiB, activationPeakAt: 't5', peakBytes: 6.5 * GiB },
        { name: 'denoise', components: [{ id: 'dit', precision: 'int8', quantizeModulation: true, weightBytes: 12 * GiB }], residentWeightBytes: 12 * GiB, activationBytes: 2 * GiB, activationPeakAt: 'dit', peakBytes: 14.8 * GiB },
      ],
      gaveUp: [], notes: [], request: { width: 1024, height: 1024, references: 2, referenceSize: 320, batch: 1, cfgPasses: 1 },
      ...over,
    },
  };
}

describe('memory estimate texts', () => {
  test('the headline names the budget, the peak, the denoiser precision and the residency', () => {
    expect(planHeadline(answer(true))).toBe('Fits in 16 GiB: peak 14.8 GiB · DiT int8 + int8 modulation · one phase at a time');
    expect(planHeadline(answer(false, { budgetBytes: 8 * GiB, residency: 'dit-streamed', streamGroups: 4 })))
      .toBe('Does not fit in 8 GiB: needs 14.8 GiB · DiT int8 + int8 modulation · denoiser streamed in 4 block groups');
    expect(residencyLabel({ residency: 'all-resident' })).toBe('all models resident');
  });

  test('bytes: GiB with one decimal from 1 GiB, whole MiB below', () => {
    expect([formatBytes(16 * GiB), formatBytes(14.8 * GiB), formatBytes(GiB / 8), formatBytes(307956480), formatBytes(1)]).toEqual(['16 GiB', '14.8 GiB', '128 MiB', '294 MiB', '1 MiB']);
  });

  test('budget and guardrail texts say where the budget came from', () => {
    expect(budgetText(answer(true))).toBe('Budget 16 GiB (read from the GPU) on cuda');
    expect(guardrailText(answer(false))).toMatch(/^This generation needs about 14\.8 GiB but the budget is 16 GiB \(read from the GPU\)\./);
  });
});

describe('device preference problem', () => {
  const devices = [
    { ep: 'cpu', available: true, works: true, detail: 'ok', auto: true },
    { ep: 'webgpu', available: true, works: false, detail: 'no adapter' },
    { ep: 'cuda', available: false, works: false, detail: 'CUDA add-on not installed' },
  ];
  test('an explicit choice that does not work is explained; auto, cpu and working choices are not', () => {
    expect(devicePreferenceProblem({ ...DEFAULT_SETTINGS, devicePreference: 'cuda' }, devices))
      .toBe('The chosen device cuda does not work here (not available: CUDA add-on not installed); generations use the CPU. Choose another device in Settings.');
    expect(devicePreferenceProblem({ ...DEFAULT_SETTINGS, devicePreference: 'webgpu' }, devices)).toMatch(/\(it failed: no adapter\)/);
    expect(devicePreferenceProblem(DEFAULT_SETTINGS, devices)).toBeNull();
    expect(devicePreferenceProblem({ ...DEFAULT_SETTINGS, devicePreference: 'cpu' }, devices)).toBeNull();
    expect(devicePreferenceProblem({ ...DEFAULT_SETTINGS, devicePreference: 'webgpu' }, null)).toBeNull();
  });
});
