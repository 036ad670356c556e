// UNO's timestep schedule (spec/pipelines.md §3.4): linspace(1, 0, n+1) in float32, shifted with
// mu from a line through (256, 0.5) and (4096, 1.15). UNO passes `(w//8)·(h//8)//256` as the
// sequence length (not the packed token count): a quirk we reproduce exactly. The arithmetic follows
// torch's float32 ops one by one (vectorised linspace, `1 / t` as a reciprocal, `e^mu / x` as
// reciprocal-then-multiply), which makes every golden schedule float32-exact.

const f = Math.fround;

/** Float32 lanes of torch's AVX2 `Vectorized<float>`; the CPU kernels emit two of them per loop step. */
const AVX2_FLOAT_LANES = 8;

/**
 * `torch.linspace(start, end, steps)` in float32 as torch 1.13's CPU kernel computes it on AVX2.
 * Elements before the halfway index are `start + step·i`, the others `end − step·(steps−1−i)`, but
 * the vectorised loop fills 16 elements at a time as two 8-lane `arange(base, step)` vectors whose
 * base follows that rule at the vector's first index and whose lanes are `base + k·step`; the
 * remaining (< 16) elements use the scalar rule. Every operation rounds to float32 (no FMA), which
 * is what makes all golden schedules float32-exact.
 */
export function linspaceF32(start: number, end: number, steps: number): Float32Array {
  if (!Number.isSafeInteger(steps) || steps < 0) throw new RangeError(`linspace: steps must be a non-negative whole number (got ${steps})`);
  const out = new Float32Array(steps);
  if (steps === 0) return out;
  const s0 = f(start);
  const e0 = f(end);
  if (steps === 1) {
    out[0] = s0;
    return out;
  }
  const step = f(f(e0 - s0) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  const scalarAt = (i: number): number => (i < halfway ? f(s0 + f(step * i)) : f(e0 - f(step * (steps - i - 1))));
  const block = 2 * AVX2_FLOAT_LANES;
  let i = 0;
  for (; i + block <= steps; i += block) {
    for (let v = i; v < i + block; v += AVX2_FLOAT_LANES) {
      const base = scalarAt(v);
      out[v] = base;
      for (let k = 1; k < AVX2_FLOAT_LANES; k++) out[v + k] = f(base + f(k * step));
    }
  }
  for (; i < steps; i++) out[i] = scalarAt(i);
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
  if (!Number.isSafeInteger(steps) || steps < 1) throw new RangeError(`unoSchedule: steps must be a positive whole number (got ${steps})`);
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isFinite(v) || v < 16) throw new RangeError(`unoSchedule: ${name} must be at least 16 pixels (got ${v})`);
  }
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
