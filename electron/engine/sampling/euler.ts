// Flow-matching Euler step used by UNO's `denoise`: x <- x + (t_next - t_curr)·v, with t going
// from 1 (noise) to 0 (data), in float32.

export function eulerStep(x: Float32Array, v: Float32Array, tCurr: number, tNext: number): Float32Array {
  if (x.length !== v.length) throw new Error(`eulerStep: latent has ${x.length} values, prediction ${v.length}`);
  const dt = Math.fround(tNext - tCurr);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] + Math.fround(dt * v[i]);
  return out;
}
