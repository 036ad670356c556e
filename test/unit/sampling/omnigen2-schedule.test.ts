// OmniGen2 schedules and scheduler steps against the golden omnigen2/scheduler vectors:
// set_timesteps.json (both schedulers' schedules for several step counts and token counts) and
// step_made_up_outputs.safetensors (a whole loop of each scheduler on made-up model outputs).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Checkpoint } from '../../../electron/engine/runtime/safetensors.js';
import {
  OMNIGEN2_SCHEDULERS, OmniGen2EulerScheduler, createOmniGen2Scheduler, omnigen2NumTokens, omnigen2TimeShift,
  omnigen2Timesteps, withFinalTime,
} from '../../../electron/engine/sampling/omnigen2-schedule.js';
import { DpmSolverPlusPlus, flowLambda } from '../../../electron/engine/sampling/dpm-solver.js';
import { GOLDEN_DIR } from '../../helpers/golden.js';

const DIR = path.join(GOLDEN_DIR, 'omnigen2/scheduler');

interface ScheduleCase {
  num_inference_steps: number;
  num_tokens: number;
  euler: { timesteps: number[]; _timesteps: number[] };
  'dpmsolver++': { timesteps: number[]; sigmas: number[] };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('OmniGen2 schedule (golden set_timesteps.json)', () => {
  const cases = JSON.parse(fs.readFileSync(path.join(DIR, 'set_timesteps.json'), 'utf8')) as ScheduleCase[];
  it('has cases', () => expect(cases.length).toBeGreaterThan(0));
  for (const c of cases) {
    it(`${c.num_inference_steps} steps, num_tokens ${c.num_tokens}`, () => {
      const t = omnigen2Timesteps(c.num_inference_steps, c.num_tokens);
      const errs = [
        maxAbsDiff(t, c.euler.timesteps),
        maxAbsDiff(withFinalTime(t), c.euler._timesteps),
        maxAbsDiff(t, c['dpmsolver++'].timesteps),
        maxAbsDiff(DpmSolverPlusPlus.fromFlowTimesteps(t).sigmas, c['dpmsolver++'].sigmas),
      ];
      console.log(`${c.num_inference_steps} steps @ ${c.num_tokens} tokens: max |err| ${Math.max(...errs).toExponential(2)}`);
      for (const e of errs) expect(e).toBeLessThanOrEqual(1e-6);
      // Each scheduler's own schedule is the same.
      for (const kind of OMNIGEN2_SCHEDULERS) {
        expect(maxAbsDiff(createOmniGen2Scheduler(kind, c.num_inference_steps, c.num_tokens).timesteps, t)).toBe(0);
      }
    });
  }
  it('is float32-exact on every golden schedule (same rounding as numpy)', () => {
    for (const c of cases) expect(Array.from(omnigen2Timesteps(c.num_inference_steps, c.num_tokens))).toEqual(c.euler.timesteps);
  });
  it('m = 1 at 320² (num_tokens 1600 latent values) leaves the times unshifted; unshifted without num_tokens', () => {
    expect(omnigen2TimeShift(1600)).toBe(1);
    expect(Array.from(omnigen2Timesteps(4, 1600))).toEqual([0, 0.25, 0.5, 0.75]);
    expect(Array.from(omnigen2Timesteps(4, null))).toEqual([0, 0.25, 0.5, 0.75]);
    expect(omnigen2NumTokens(6, 8)).toBe(48);
  });
  it('rejects bad sizes', () => {
    expect(() => omnigen2Timesteps(0, 16)).toThrow(/steps must be a positive whole number/);
    expect(() => omnigen2Timesteps(2.5, 16)).toThrow(/steps/);
    expect(() => omnigen2Timesteps(4, 0)).toThrow(/num_tokens must be positive/);
    expect(() => omnigen2NumTokens(0, 8)).toThrow(/latent height/);
    expect(() => createOmniGen2Scheduler('heun' as never, 4, 16)).toThrow(/unknown OmniGen2 scheduler "heun"/);
  });
});

describe('OmniGen2 scheduler loops (golden step_made_up_outputs.safetensors)', () => {
  const ck = Checkpoint.open(path.join(DIR, 'step_made_up_outputs.safetensors'));
  const steps = ck.keys().filter((k) => /^model_output\.\d+$/.test(k)).length;
  const sampleInit = ck.readFloat32('sample_init');
  const shape = ck.shape('sample_init');
  const numTokens = shape[shape.length - 2] * shape[shape.length - 1];

  for (const kind of OMNIGEN2_SCHEDULERS) {
    it(`${kind}: ${steps} steps`, () => {
      expect(steps).toBeGreaterThan(0);
      const golden = ck.readFloat32(`${kind}.timesteps`);
      expect(golden.length).toBe(steps);
      // The golden loop's schedule is the pipeline's: num_tokens = latent h·w.
      const sched = createOmniGen2Scheduler(kind, steps, numTokens);
      expect(maxAbsDiff(sched.timesteps, golden)).toBeLessThanOrEqual(1e-6);
      let x = sampleInit;
      let worst = 0;
      for (let i = 0; i < steps; i++) {
        expect(sched.stepIndex).toBe(i);
        x = sched.step(ck.readFloat32(`model_output.${i}`), x);
        const err = maxAbsDiff(x, ck.readFloat32(`${kind}.sample_after_step.${i}`));
        worst = Math.max(worst, err);
        expect(err, `step ${i}`).toBeLessThanOrEqual(1e-5);
        expect(x.every(Number.isFinite)).toBe(true);
      }
      console.log(`${kind}: ${steps}-step loop max |err| ${worst.toExponential(2)}`);
      expect(() => sched.step(ck.readFloat32('model_output.0'), x)).toThrow(/already taken/);
    });
  }
});

describe('DPM-Solver++ behaviour at the ends of the schedule', () => {
  it('λ is −∞ at σ = 1 and +∞ at σ = 0', () => {
    expect(flowLambda(1)).toBe(-Infinity);
    expect(flowLambda(0)).toBe(Infinity);
    expect(flowLambda(0.5)).toBe(0);
  });
  it('first step from pure noise gives σ₁·x + α₁·x0; the final step returns x0 exactly', () => {
    const sched = DpmSolverPlusPlus.fromFlowTimesteps(Float32Array.of(0, 0.5));
    const x = Float32Array.of(1, -2, 0.25);
    const v = Float32Array.of(0.5, 1, -1);
    expect(sched.nextOrder).toBe(1);
    const x1 = sched.step(v, x);
    // x0 = x + 1·v; x1 = 0.5·x + 0.5·x0
    expect(Array.from(x1)).toEqual([1.25, -1.5, -0.25]);
    expect(sched.nextOrder).toBe(1); // the last step is first order (final sigma 0)
    const v2 = Float32Array.of(2, 0, 4);
    const x2 = sched.step(v2, x1);
    expect(Array.from(x2)).toEqual(Array.from(x1, (xi, i) => Math.fround(xi + 0.5 * v2[i])));
  });
  it('a second-order step right after σ = 1 equals the first-order update (D1 = 0, no NaN)', () => {
    const t = Float32Array.of(0, 0.3, 0.7);
    const a = DpmSolverPlusPlus.fromFlowTimesteps(t);
    const x = Float32Array.of(0.3, -0.7);
    const v0 = Float32Array.of(1, 2);
    const v1 = Float32Array.of(-3, 0.5);
    const x1 = a.step(v0, x);
    expect(a.nextOrder).toBe(2);
    const x2 = a.step(v1, x1);
    // The same step as a first-order update from a fresh solver starting at σ = 0.7.
    const b = new DpmSolverPlusPlus(Float32Array.of(0.3, 0.7), Float32Array.of(0.7, 0.3, 0));
    const y = b.step(v1, x1);
    expect(Array.from(x2)).toEqual(Array.from(y));
    expect(x2.every(Number.isFinite)).toBe(true);
  });
  it('a single step from noise to data returns x0 = x + v', () => {
    const s = createOmniGen2Scheduler('dpmsolver++', 1, 4096);
    expect(Array.from(s.step(Float32Array.of(1, 2), Float32Array.of(3, 4)))).toEqual([4, 6]);
    const e = createOmniGen2Scheduler('euler', 1, 4096);
    expect(Array.from(e.step(Float32Array.of(1, 2), Float32Array.of(3, 4)))).toEqual([4, 6]);
  });
  it('50-step 1024² loops stay finite with extreme model outputs', () => {
    for (const kind of OMNIGEN2_SCHEDULERS) {
      const s = createOmniGen2Scheduler(kind, 50, omnigen2NumTokens(128, 128));
      let x: Float32Array = Float32Array.of(1e4, -1e4, 0);
      for (let i = 0; i < 50; i++) x = s.step(Float32Array.of(-1e4, 1e4, 1e-30), x);
      expect(x.every(Number.isFinite)).toBe(true);
    }
  });
  it('rejects invalid sigma tables and mismatched sizes', () => {
    expect(() => new DpmSolverPlusPlus(Float32Array.of(0, 0.5), Float32Array.of(1, 0.5, 0.1))).toThrow(/final sigma must be 0/);
    expect(() => new DpmSolverPlusPlus(Float32Array.of(0, 0.5), Float32Array.of(1, 1, 0))).toThrow(/decrease strictly/);
    expect(() => new DpmSolverPlusPlus(Float32Array.of(0), Float32Array.of(1.5, 0))).toThrow(/\(0, 1\]/);
    expect(() => new DpmSolverPlusPlus(Float32Array.of(0), Float32Array.of(1, 0.5, 0))).toThrow(/need 2 sigmas/);
    const s = createOmniGen2Scheduler('dpmsolver++', 3, 48);
    expect(() => s.step(new Float32Array(2), new Float32Array(3))).toThrow(/model output 2/);
    expect(() => new OmniGen2EulerScheduler(new Float32Array(0))).toThrow(/empty/);
  });
});
