// Flow-matching Euler step of UNO's `denoise`: `img = img + (t_prev - t_curr) * pred`, where t runs
// from 1 (noise) to 0 (data), `t_curr` is the timestep the prediction was made at and `t_prev` the
// next (smaller) one, so the step size is negative. The timesteps are a Python list, so the
// difference is taken in double precision and reaches the tensor op as a float32 scalar.
import { roundToBf16 } from './bf16.js';

const f = Math.fround;

function checkLengths(x: Float32Array, v: Float32Array): void {
  if (x.length !== v.length) throw new Error(`eulerStep: latent has ${x.length} values, prediction ${v.length}`);
}

/** One step in float32 (the float32 reference run): `x + f32(tNext − tCurr)·v`, each op rounded to float32. */
export function eulerStep(x: Float32Array, v: Float32Array, tCurr: number, tNext: number): Float32Array {
  checkLengths(x, v);
  const dt = f(tNext - tCurr);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] + f(dt * v[i]);
  return out;
}

/**
 * One step as the bf16 pipeline computes it: the product `dt·v` is evaluated in float32 and rounded to
 * bf16, then the sum is evaluated in float32 and rounded to bf16 (torch's opmath rule for bf16 tensors
 * with a scalar). Inputs must already hold bf16 values; the result holds bf16 values.
 */
export function eulerStepBf16(x: Float32Array, v: Float32Array, tCurr: number, tNext: number): Float32Array {
  checkLengths(x, v);
  const dt = f(tNext - tCurr);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = roundToBf16(x[i] + roundToBf16(dt * v[i]));
  return out;
}
