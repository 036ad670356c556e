// UNO's timestep schedule (spec/pipelines.md §3.4): linspace(1, 0, n+1) in float32, shifted with
// mu from a line through (256, 0.5) and (4096, 1.15). UNO passes `(w//8)·(h//8)//256` as the
// sequence length (not the packed token count): a quirk we reproduce exactly.

const f = Math.fround;

/** torch.linspace(start, end, steps) in float32 (symmetric evaluation from both ends). */
export function linspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const step = f((end - start) / (steps - 1));
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < half ? f(start + f(step * i)) : f(end - f(step * (steps - 1 - i)));
  return out;
}

/** The sequence length UNO's pipeline passes to get_schedule for a width × height request. */
export function unoScheduleSeqLen(width: number, height: number): number {
  const w = Math.floor(width / 16) * 16;
  const h = Math.floor(height / 16) * 16;
  return Math.floor((Math.floor(w / 8) * Math.floor(h / 8)) / 256);
}

/** mu of the time shift for a sequence length (Python float arithmetic, as the reference). */
export function unoShiftMu(seqLen: number, baseShift = 0.5, maxShift = 1.15): number {
  const m = (maxShift - baseShift) / (4096 - 256);
  const b = baseShift - m * 256;
  return m * seqLen + b;
}

/** `steps + 1` timesteps from 1 (noise) to 0 (data), float32 values. */
export function unoSchedule(steps: number, width: number, height: number): Float32Array {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`unoSchedule: steps must be a positive integer (got ${steps})`);
  const t = linspaceF32(1, 0, steps + 1);
  const em = f(Math.exp(unoShiftMu(unoScheduleSeqLen(width, height))));
  const out = new Float32Array(t.length);
  for (let i = 0; i < t.length; i++) {
    // Python `scalar / tensor` is reciprocal(tensor) * scalar in torch: reproduce that rounding.
    const inv = f(f(1 / t[i]) - 1); // 1/0 -> Infinity -> timestep 0
    out[i] = f(f(1 / f(em + inv)) * em);
  }
  return out;
}
