// Multistep DPM-Solver++ (2nd order, midpoint) for flow-matching models, as OmniGen2 and UMO
// configure it (spec/pipelines.md §4.1): `algorithm_type="dpmsolver++"`, `solver_type="midpoint"`,
// `solver_order=2`, `prediction_type="flow_prediction"`, `lower_order_final=True`,
// `final_sigmas_type="zero"`. With σ = 1 − t and α = 1 − σ, λ = ln α − ln σ:
//   x0_i      = x_i + σ_i·v_i
//   1st order: x_{i+1} = (σ_{i+1}/σ_i)·x_i − α_{i+1}(e^{−h} − 1)·x0_i,         h = λ_{i+1} − λ_i
//   2nd order: … − ½·α_{i+1}(e^{−h} − 1)·D1, D1 = (x0_i − x0_{i−1})·h/(λ_i − λ_{i−1})
// Step 0 and the last step are first order. The ends of the schedule are infinite in λ
// (σ = 1 → λ = −∞, σ = 0 → λ = +∞); their limits are taken explicitly, so no NaN arises.
// Every scalar and element operation is rounded to float32 like the float32 reference.
import type { OmniGen2Scheduler } from './omnigen2-schedule.js';

const f = Math.fround;

/** λ(σ) = ln(1 − σ) − ln σ in float32, with λ(1) = −∞ and λ(0) = +∞. */
export function flowLambda(sigma: number): number {
  if (sigma >= 1) return -Infinity;
  if (sigma <= 0) return Infinity;
  return f(f(Math.log(f(1 - sigma))) - f(Math.log(sigma)));
}

/** e^{−h} for h = λ_t − λ_s: 0 when h is +∞ (from data-free σ_s = 1 or to σ_t = 0). */
function expNegH(lambdaT: number, lambdaS: number): number {
  if (lambdaT === Infinity || lambdaS === -Infinity) return 0;
  return f(Math.exp(-f(lambdaT - lambdaS)));
}

export class DpmSolverPlusPlus implements OmniGen2Scheduler {
  readonly kind = 'dpmsolver++' as const;
  private readonly lambdas: Float64Array;
  private index = 0;
  /** x0 of the previous step (null before the first step). */
  private prevX0: Float32Array | null = null;

  /**
   * `timesteps`: the N model times (fed to the network); `sigmas`: N+1 noise levels, σ_i for each
   * step and a final 0, strictly decreasing within [0, 1].
   */
  constructor(readonly timesteps: Float32Array, readonly sigmas: Float32Array) {
    const n = timesteps.length;
    if (n < 1) throw new RangeError('DpmSolverPlusPlus: the schedule is empty');
    if (sigmas.length !== n + 1) throw new RangeError(`DpmSolverPlusPlus: ${n} timesteps need ${n + 1} sigmas, got ${sigmas.length}`);
    if (sigmas[n] !== 0) throw new RangeError(`DpmSolverPlusPlus: the final sigma must be 0 (final_sigmas_type "zero"), got ${sigmas[n]}`);
    for (let i = 0; i < n; i++) {
      const s = sigmas[i];
      if (!(s > 0 && s <= 1)) throw new RangeError(`DpmSolverPlusPlus: sigma ${i} is ${s}; sigmas before the last must lie in (0, 1]`);
      if (!(sigmas[i + 1] < s)) throw new RangeError(`DpmSolverPlusPlus: sigmas must decrease strictly (sigma ${i} = ${s}, sigma ${i + 1} = ${sigmas[i + 1]})`);
    }
    this.lambdas = Float64Array.from(sigmas, flowLambda);
  }

  /** From OmniGen2 times t (0 = noise → 1 = data): σ = [1 − t…, 0] in float32. */
  static fromFlowTimesteps(timesteps: Float32Array): DpmSolverPlusPlus {
    const sigmas = new Float32Array(timesteps.length + 1);
    for (let i = 0; i < timesteps.length; i++) sigmas[i] = f(1 - timesteps[i]);
    return new DpmSolverPlusPlus(timesteps, sigmas);
  }

  get stepIndex(): number {
    return this.index;
  }

  /** Order of the update the next `step` call makes (1 or 2). */
  get nextOrder(): 1 | 2 {
    const last = this.index === this.timesteps.length - 1;
    return this.prevX0 === null || last ? 1 : 2;
  }

  step(modelOutput: Float32Array, sample: Float32Array): Float32Array {
    const i = this.index;
    const n = this.timesteps.length;
    if (i >= n) throw new Error(`DpmSolverPlusPlus: all ${n} steps were already taken`);
    if (sample.length !== modelOutput.length) {
      throw new Error(`DpmSolverPlusPlus: the sample has ${sample.length} values, the model output ${modelOutput.length}`);
    }
    if (this.prevX0 && this.prevX0.length !== sample.length) {
      throw new Error(`DpmSolverPlusPlus: step ${i} has ${sample.length} values, the previous step had ${this.prevX0.length}`);
    }
    const sigmaS = this.sigmas[i];
    const sigmaT = this.sigmas[i + 1];
    const x0 = new Float32Array(sample.length);
    for (let k = 0; k < sample.length; k++) x0[k] = sample[k] + f(sigmaS * modelOutput[k]);

    const alphaT = f(1 - sigmaT);
    const lambdaS = this.lambdas[i];
    const lambdaT = this.lambdas[i + 1];
    const ratio = f(sigmaT / sigmaS);
    const c0 = f(alphaT * f(expNegH(lambdaT, lambdaS) - 1));
    const out = new Float32Array(sample.length);
    const order = this.nextOrder;
    if (order === 1) {
      for (let k = 0; k < sample.length; k++) out[k] = f(ratio * sample[k]) - f(c0 * x0[k]);
    } else {
      const prev = this.prevX0!;
      // D1 = (x0_i − x0_{i−1}) / r with r = h_0/h; r = ∞ (so D1 = 0) when the previous σ was 1.
      const lambdaPrev = this.lambdas[i - 1];
      const invR = lambdaPrev === -Infinity ? 0 : f(1 / f(f(lambdaS - lambdaPrev) / f(lambdaT - lambdaS)));
      const c1 = f(0.5 * c0);
      for (let k = 0; k < sample.length; k++) {
        const d1 = f(invR * f(x0[k] - prev[k]));
        out[k] = f(f(ratio * sample[k]) - f(c0 * x0[k])) - f(c1 * d1);
      }
    }
    this.prevX0 = x0;
    this.index = i + 1;
    return out;
  }
}
