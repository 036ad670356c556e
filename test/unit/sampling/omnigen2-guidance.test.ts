// OmniGen2 guidance: the per-step pass decision and the combination, checked against the golden
// pipeline loop (omnigen2/scheduler/pipeline_loop_{euler,dpmsolver++}.safetensors + pipeline_loop.json):
// given each step's recorded transformer outputs, reproduce the guided velocity and the next latents.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Checkpoint } from '../../../electron/engine/runtime/safetensors.js';
import {
  type OmniGen2GuidanceSettings, type OmniGen2Pass, combineOmniGen2Guidance, effectiveImageGuidance,
  omnigen2PassesPerStep, omnigen2StepGuidance,
} from '../../../electron/engine/sampling/omnigen2-guidance.js';
import {
  type OmniGen2SchedulerKind, createOmniGen2Scheduler, omnigen2NumTokens,
} from '../../../electron/engine/sampling/omnigen2-schedule.js';
import { GOLDEN_DIR } from '../../helpers/golden.js';

const DIR = path.join(GOLDEN_DIR, 'omnigen2/scheduler');

interface LoopStep {
  step: number;
  t: number;
  predict_calls: OmniGen2Pass[];
  text_guidance_used: number;
  image_guidance_used: number;
}
interface LoopJson {
  config: { steps: number; text_guidance: number; image_guidance: number; cfg_range: [number, number]; refs: number[][]; latent_hw: [number, number] };
  steps: Record<string, LoopStep[]>;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const PASS_TENSOR: Record<OmniGen2Pass, string> = { cond: 'model_pred_cond', ref: 'model_pred_ref', uncond: 'model_pred_uncond' };

describe('OmniGen2 pipeline loop guidance (golden pipeline_loop.json)', () => {
  const loop = JSON.parse(fs.readFileSync(path.join(DIR, 'pipeline_loop.json'), 'utf8')) as LoopJson;
  const c = loop.config;
  const settings: OmniGen2GuidanceSettings = {
    textGuidance: c.text_guidance, imageGuidance: c.image_guidance, cfgRange: c.cfg_range, referenceCount: c.refs.length,
  };
  const kinds = Object.keys(loop.steps) as OmniGen2SchedulerKind[];
  it('covers both schedulers', () => expect(kinds.sort()).toEqual(['dpmsolver++', 'euler']));

  for (const kind of kinds) {
    it(`${kind}: passes, scales, guided velocity and latents of every step`, () => {
      const ck = Checkpoint.open(path.join(DIR, `pipeline_loop_${kind}.safetensors`));
      const steps = loop.steps[kind];
      expect(steps.length).toBe(c.steps);
      const [lh, lw] = c.latent_hw;
      const sched = createOmniGen2Scheduler(kind, c.steps, omnigen2NumTokens(lh, lw));
      expect(maxAbsDiff(sched.timesteps, ck.readFloat32('timesteps'))).toBeLessThanOrEqual(1e-6);
      // Which tensors the reference recorded must agree with the passes it ran.
      let latents = ck.readFloat32('latents_init');
      let worst = 0;
      for (const s of steps) {
        const i = s.step;
        expect(sched.timesteps[i]).toBeCloseTo(s.t, 6);
        const g = omnigen2StepGuidance(settings, i, c.steps);
        expect(g.passes).toEqual(s.predict_calls);
        expect(g.textScale).toBe(s.text_guidance_used);
        expect(g.imageScale).toBe(s.image_guidance_used);
        for (const p of ['cond', 'ref', 'uncond'] as const) expect(ck.has(`step${i}.${PASS_TENSOR[p]}`), `step${i} ${p}`).toBe(g.passes.includes(p));

        expect(maxAbsDiff(latents, ck.readFloat32(`step${i}.latents_in`))).toBeLessThanOrEqual(1e-5);
        const outputs = Object.fromEntries(g.passes.map((p) => [p, ck.readFloat32(`step${i}.${PASS_TENSOR[p]}`)]));
        const guided = combineOmniGen2Guidance(g, outputs);
        const gErr = maxAbsDiff(guided, ck.readFloat32(`step${i}.guided_pred`));
        // The step from the recorded latents_in, so each step is checked on its own.
        const next = sched.step(guided, ck.readFloat32(`step${i}.latents_in`));
        const lErr = maxAbsDiff(next, ck.readFloat32(`step${i}.latents_out`));
        worst = Math.max(worst, gErr, lErr);
        expect(gErr, `step ${i} guided_pred`).toBeLessThanOrEqual(1e-5);
        expect(lErr, `step ${i} latents_out`).toBeLessThanOrEqual(1e-5);
        latents = next;
      }
      console.log(`${kind}: passes per step ${steps.map((s) => s.predict_calls.length).join('/')}, max |err| ${worst.toExponential(2)}`);
      expect(omnigen2PassesPerStep(settings, c.steps)).toEqual(steps.map((s) => s.predict_calls.length));
    });
  }
});

describe('OmniGen2 guidance decisions', () => {
  const base: OmniGen2GuidanceSettings = { textGuidance: 5, imageGuidance: 2, cfgRange: [0, 1], referenceCount: 2 };
  it('3 / 2 / 1 passes as the reference decides', () => {
    expect(omnigen2StepGuidance(base, 0, 10).passes).toEqual(['cond', 'ref', 'uncond']);
    expect(omnigen2StepGuidance({ ...base, imageGuidance: 1 }, 0, 10).passes).toEqual(['cond', 'uncond']);
    expect(omnigen2StepGuidance({ ...base, textGuidance: 1 }, 0, 10).passes).toEqual(['cond']); // image alone is never applied
    expect(omnigen2StepGuidance({ ...base, textGuidance: 1, imageGuidance: 1 }, 0, 10).passes).toEqual(['cond']);
  });
  it('no references force the image guidance to 1 (2 passes, not 3)', () => {
    const s = { ...base, referenceCount: 0 };
    expect(effectiveImageGuidance(s)).toBe(1);
    const g = omnigen2StepGuidance(s, 0, 10);
    expect(g.imageScale).toBe(1);
    expect(g.passes).toEqual(['cond', 'uncond']);
  });
  it('cfg_range is inclusive of i/N at both ends', () => {
    // (0, 0.6) with 50 steps: i = 0..30 guided (30/50 = 0.6), 31..49 single pass.
    const counts = omnigen2PassesPerStep({ ...base, cfgRange: [0, 0.6] }, 50);
    expect(counts.filter((n) => n === 3).length).toBe(31);
    expect(counts.slice(31).every((n) => n === 1)).toBe(true);
    // Start inclusive: [0.5, 1] with 4 steps guides i = 2, 3.
    expect(omnigen2PassesPerStep({ ...base, cfgRange: [0.5, 1] }, 4)).toEqual([1, 1, 3, 3]);
    const outside = omnigen2StepGuidance({ ...base, cfgRange: [0.5, 1] }, 1, 4);
    expect([outside.textScale, outside.imageScale]).toEqual([1, 1]);
  });
  it('combines in float32 with the reference formulas', () => {
    const cond = Float32Array.of(1, 2);
    const ref = Float32Array.of(0.5, -1);
    const uncond = Float32Array.of(0.25, 4);
    const g3 = omnigen2StepGuidance(base, 0, 1);
    expect(Array.from(combineOmniGen2Guidance(g3, { cond, ref, uncond }))).toEqual([0.25 + 2 * 0.25 + 5 * 0.5, 4 + 2 * -5 + 5 * 3]);
    const g2 = omnigen2StepGuidance({ ...base, imageGuidance: 1 }, 0, 1);
    expect(Array.from(combineOmniGen2Guidance(g2, { cond, uncond }))).toEqual([0.25 + 5 * 0.75, 4 + 5 * -2]);
    const g1 = omnigen2StepGuidance({ ...base, textGuidance: 1 }, 0, 1);
    const out = combineOmniGen2Guidance(g1, { cond });
    expect(Array.from(out)).toEqual([1, 2]);
    expect(out).not.toBe(cond);
  });
  it('reports missing or mis-sized pass outputs and bad settings', () => {
    const g3 = omnigen2StepGuidance(base, 0, 1);
    expect(() => combineOmniGen2Guidance(g3, { cond: new Float32Array(2), uncond: new Float32Array(2) })).toThrow(/"ref" pass output is missing/);
    expect(() => combineOmniGen2Guidance(g3, { cond: new Float32Array(2), ref: new Float32Array(3), uncond: new Float32Array(2) })).toThrow(/"ref" pass output has 3 values/);
    expect(() => omnigen2StepGuidance({ ...base, cfgRange: [0.8, 0.2] }, 0, 4)).toThrow(/start 0.8 is after its end 0.2/);
    expect(() => omnigen2StepGuidance({ ...base, textGuidance: NaN }, 0, 4)).toThrow(/text guidance must be a finite number/);
    expect(() => omnigen2StepGuidance(base, 4, 4)).toThrow(/outside 0..3/);
    expect(() => omnigen2StepGuidance({ ...base, referenceCount: -1 }, 0, 4)).toThrow(/reference count/);
  });
});
