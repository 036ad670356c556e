// OmniGen2's guidance per denoising step (spec/pipelines.md §4.2, `OmniGen2Pipeline.processing`):
// which transformer passes a step runs and how their velocities are combined.
//   cond   = F(x, t, prompt,          references)
//   ref    = F(x, t, negative prompt, references)
//   uncond = F(x, t, negative prompt, no references)
// Guidance is on at step i of N iff cfg_start ≤ i/N ≤ cfg_end (inclusive); outside, both scales
// are 1. Text > 1 and image > 1: 3 passes, `uncond + image·(ref − uncond) + text·(cond − ref)`;
// only text > 1: 2 passes, `uncond + text·(cond − uncond)`; otherwise `cond` alone. Without
// references the image scale is forced to 1.

const f = Math.fround;

export type OmniGen2Pass = 'cond' | 'ref' | 'uncond';

export interface OmniGen2GuidanceSettings {
  readonly textGuidance: number;
  readonly imageGuidance: number;
  /** [start, end] as fractions of the schedule, inclusive. */
  readonly cfgRange: readonly [number, number];
  /** Number of reference images (0 forces the image guidance to 1). */
  readonly referenceCount: number;
}

export interface OmniGen2StepGuidance {
  readonly step: number;
  /** Scales in effect at this step (1 outside the cfg range). */
  readonly textScale: number;
  readonly imageScale: number;
  /** Transformer passes to run, in the reference's order. */
  readonly passes: readonly OmniGen2Pass[];
}

/** Velocities of the passes of one step (those listed in `passes` must be present). */
export type OmniGen2PassOutputs = Partial<Record<OmniGen2Pass, Float32Array>>;

/** Throws a specific error for settings the reference would run with nonsensical results. */
export function checkOmniGen2Guidance(s: OmniGen2GuidanceSettings): void {
  for (const [name, v] of [['text guidance', s.textGuidance], ['image guidance', s.imageGuidance]] as const) {
    if (!Number.isFinite(v)) throw new RangeError(`${name} must be a finite number (got ${v})`);
  }
  if (!Array.isArray(s.cfgRange) || s.cfgRange.length !== 2 || !s.cfgRange.every((v) => Number.isFinite(v))) {
    throw new RangeError(`cfg range must be two finite numbers [start, end] (got ${JSON.stringify(s.cfgRange)})`);
  }
  const [a, b] = s.cfgRange;
  if (a > b) throw new RangeError(`cfg range start ${a} is after its end ${b}`);
  if (!Number.isSafeInteger(s.referenceCount) || s.referenceCount < 0) {
    throw new RangeError(`reference count must be a non-negative whole number (got ${s.referenceCount})`);
  }
}

/** The image guidance scale the pipeline uses: forced to 1 when there are no reference images. */
export function effectiveImageGuidance(s: OmniGen2GuidanceSettings): number {
  return s.referenceCount === 0 ? 1 : s.imageGuidance;
}

/** Whether guidance applies at step `step` of `steps` (`cfg_start ≤ step/steps ≤ cfg_end`). */
export function inCfgRange(cfgRange: readonly [number, number], step: number, steps: number): boolean {
  const x = step / steps;
  return cfgRange[0] <= x && x <= cfgRange[1];
}

/** The scales and passes of step `step` (0-based) of `steps`. */
export function omnigen2StepGuidance(s: OmniGen2GuidanceSettings, step: number, steps: number): OmniGen2StepGuidance {
  checkOmniGen2Guidance(s);
  if (!Number.isSafeInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive whole number (got ${steps})`);
  if (!Number.isSafeInteger(step) || step < 0 || step >= steps) throw new RangeError(`step ${step} is outside 0..${steps - 1}`);
  const on = inCfgRange(s.cfgRange, step, steps);
  const textScale = on ? s.textGuidance : 1;
  const imageScale = on ? effectiveImageGuidance(s) : 1;
  const passes: OmniGen2Pass[] = textScale > 1 && imageScale > 1
    ? ['cond', 'ref', 'uncond']
    : textScale > 1 ? ['cond', 'uncond'] : ['cond'];
  return { step, textScale, imageScale, passes };
}

/** Transformer passes of every step (e.g. for plans and progress: 3 / 2 / 1 per step). */
export function omnigen2PassesPerStep(s: OmniGen2GuidanceSettings, steps: number): number[] {
  return Array.from({ length: steps }, (_, i) => omnigen2StepGuidance(s, i, steps).passes.length);
}

/**
 * The guided velocity of one step, in float32 with the reference's operation order (the scales
 * rounded to float32, as torch multiplies a float32 tensor by a Python float). Returns a new array.
 */
export function combineOmniGen2Guidance(g: OmniGen2StepGuidance, outputs: OmniGen2PassOutputs): Float32Array {
  const need = (p: OmniGen2Pass): Float32Array => {
    const v = outputs[p];
    if (!v) throw new Error(`step ${g.step}: the "${p}" pass output is missing (this step runs ${g.passes.join(', ')})`);
    return v;
  };
  const cond = need('cond');
  for (const p of g.passes) {
    if (need(p).length !== cond.length) throw new Error(`step ${g.step}: the "${p}" pass output has ${need(p).length} values, "cond" has ${cond.length}`);
  }
  const out = new Float32Array(cond.length);
  const text = f(g.textScale);
  if (g.passes.length === 3) {
    const ref = need('ref');
    const uncond = need('uncond');
    const image = f(g.imageScale);
    for (let i = 0; i < out.length; i++) {
      const u = uncond[i];
      out[i] = f(u + f(image * f(ref[i] - u))) + f(text * f(cond[i] - ref[i]));
    }
  } else if (g.passes.length === 2) {
    const uncond = need('uncond');
    for (let i = 0; i < out.length; i++) out[i] = uncond[i] + f(text * f(cond[i] - uncond[i]));
  } else {
    out.set(cond);
  }
  return out;
}
