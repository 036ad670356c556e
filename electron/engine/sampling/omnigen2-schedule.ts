// OmniGen2's time convention and schedule (spec/pipelines.md §4.1): t runs from 0 (noise) to
// 1 (data), `x_t = t·x_data + (1 − t)·noise`, and the model predicts the velocity
// `v = x_data − noise`. The schedule is `linspace(0, 1, n+1)[:-1]` shifted by
// m = sqrt(num_tokens)/40, where the pipeline passes num_tokens = latent height × latent width
// (`latents.shape[-2] * latents.shape[-1]`). The Euler step lives here too; DPM-Solver++ is in
// dpm-solver.ts and `createOmniGen2Scheduler` picks one of the two.
import { DpmSolverPlusPlus } from './dpm-solver.js';

const f = Math.fround;

export type OmniGen2SchedulerKind = 'euler' | 'dpmsolver++';

export const OMNIGEN2_SCHEDULERS: readonly OmniGen2SchedulerKind[] = ['euler', 'dpmsolver++'];

/** A stateful sampler over one schedule: `step` is called once per timestep, in order. */
export interface OmniGen2Scheduler {
  readonly kind: OmniGen2SchedulerKind;
  /** The N times fed to the transformer, t_0 = 0 (noise) rising toward 1. */
  readonly timesteps: Float32Array;
  /** Index of the next step (0 before the first call, N after the last). */
  readonly stepIndex: number;
  /** The sample after step `stepIndex` given the (guided) velocity at that step; float32, new array. */
  step(modelOutput: Float32Array, sample: Float32Array): Float32Array;
}

function checkSteps(steps: number, where: string): void {
  if (!Number.isSafeInteger(steps) || steps < 1) throw new RangeError(`${where}: steps must be a positive whole number (got ${steps})`);
}

/** The value OmniGen2 passes as `num_tokens`: latent height × latent width (not patches). */
export function omnigen2NumTokens(latentHeight: number, latentWidth: number): number {
  for (const [name, v] of [['latent height', latentHeight], ['latent width', latentWidth]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`omnigen2NumTokens: ${name} must be a positive whole number (got ${v})`);
  }
  return latentHeight * latentWidth;
}

/**
 * The shift m = sqrt(num_tokens)/40 as a float32 (numpy evaluates the shift with the float64
 * scalar demoted to the float32 array's type, which is what makes the golden schedules exact).
 */
export function omnigen2TimeShift(numTokens: number): number {
  if (!Number.isFinite(numTokens) || numTokens <= 0) throw new RangeError(`omnigen2TimeShift: num_tokens must be positive (got ${numTokens})`);
  return f(Math.sqrt(numTokens) / 40);
}

/**
 * The N model timesteps: `t_i = float32(i · (1/N))`, then with dynamic shift
 * `t/(m − m·t + t)`, each operation rounded to float32. `numTokens = null` leaves them unshifted
 * (the scheduler's behaviour when no token count is passed).
 */
export function omnigen2Timesteps(steps: number, numTokens: number | null): Float32Array {
  checkSteps(steps, 'omnigen2Timesteps');
  const out = new Float32Array(steps);
  const step = 1 / steps; // numpy's linspace: float64 step, i·step, cast to float32
  for (let i = 0; i < steps; i++) out[i] = f(i * step);
  if (numTokens === null) return out;
  const m = omnigen2TimeShift(numTokens);
  for (let i = 0; i < steps; i++) {
    const t = out[i];
    out[i] = f(t / f(f(m - f(m * t)) + t));
  }
  return out;
}

/** The timesteps with t_N = 1 appended (the Euler scheduler's `_timesteps`). */
export function withFinalTime(timesteps: Float32Array): Float32Array {
  const out = new Float32Array(timesteps.length + 1);
  out.set(timesteps);
  out[timesteps.length] = 1;
  return out;
}

/** One Euler step `x + (t_next − t)·v` in float32 (new array). */
export function omnigen2EulerStep(sample: Float32Array, modelOutput: Float32Array, t: number, tNext: number): Float32Array {
  if (sample.length !== modelOutput.length) {
    throw new Error(`omnigen2EulerStep: the sample has ${sample.length} values, the model output ${modelOutput.length}`);
  }
  const dt = f(tNext - t);
  const out = new Float32Array(sample.length);
  for (let i = 0; i < sample.length; i++) out[i] = sample[i] + f(dt * modelOutput[i]);
  return out;
}

/** OmniGen2's `FlowMatchEulerDiscreteScheduler` (dynamic_time_shift=True) as a stepper. */
export class OmniGen2EulerScheduler implements OmniGen2Scheduler {
  readonly kind = 'euler' as const;
  private readonly times: Float32Array;
  private index = 0;

  constructor(readonly timesteps: Float32Array) {
    if (timesteps.length < 1) throw new RangeError('OmniGen2EulerScheduler: the schedule is empty');
    this.times = withFinalTime(timesteps);
  }

  get stepIndex(): number {
    return this.index;
  }

  step(modelOutput: Float32Array, sample: Float32Array): Float32Array {
    const i = this.index;
    if (i >= this.timesteps.length) throw new Error(`OmniGen2EulerScheduler: all ${this.timesteps.length} steps were already taken`);
    const out = omnigen2EulerStep(sample, modelOutput, this.times[i], this.times[i + 1]);
    this.index = i + 1;
    return out;
  }
}

/**
 * A fresh scheduler of `kind` for `steps` steps at a latent of `numTokens` = h·w values per
 * channel (see `omnigen2NumTokens`).
 */
export function createOmniGen2Scheduler(kind: OmniGen2SchedulerKind, steps: number, numTokens: number): OmniGen2Scheduler {
  const timesteps = omnigen2Timesteps(steps, numTokens);
  switch (kind) {
    case 'euler': return new OmniGen2EulerScheduler(timesteps);
    case 'dpmsolver++': return DpmSolverPlusPlus.fromFlowTimesteps(timesteps);
    default: throw new Error(`unknown OmniGen2 scheduler ${JSON.stringify(kind)} (expected ${OMNIGEN2_SCHEDULERS.join(' or ')})`);
  }
}
