// How a job should use memory: the device budget the engine plans for, and overrides that pin
// a precision per component or a residency mode (tests, benchmarks, the CLI). The engine plans
// with electron/engine/runtime/memory-planner.ts and executes that plan exactly.
import { z } from 'zod';

/** Precisions a component can run at (the planner's names). */
export const PRECISION_NAMES = ['fp32', 'fp16', 'bf16-as-fp32-on-cpu', 'int8', 'int4'] as const;
export const RESIDENCY_MODES = ['all-resident', 'one-phase-at-a-time', 'dit-streamed'] as const;

export const PrecisionChoiceSchema = z.object({
  precision: z.enum(PRECISION_NAMES),
  /** Also quantize the DiT's modulation projections to int8. */
  quantizeModulation: z.boolean().optional(),
});

export const JobMemoryOptionsSchema = z.object({
  /** Device memory to plan for (bytes); absent: the device's own size when readable, else no limit. */
  budgetBytes: z.number().positive().optional(),
  /** Pin a component's precision (component ids: dit, t5, clip, vae / transformer, mllm, vae). */
  precisions: z.record(z.string(), PrecisionChoiceSchema).optional(),
  /** Pin the residency mode instead of letting the planner choose. */
  residency: z.enum(RESIDENCY_MODES).optional(),
  /** Block groups of the streamed denoiser (residency dit-streamed). */
  streamGroups: z.number().int().min(2).max(64).optional(),
  /** Run even when the plan does not fit the budget (the user's "load anyway"). */
  loadAnyway: z.boolean().optional(),
});
export type JobMemoryOptions = z.infer<typeof JobMemoryOptionsSchema>;

/** Parse `dit=int4`, `dit=int4+mod` (CLI and settings form). */
export function parsePrecisionSetting(s: string): [string, z.infer<typeof PrecisionChoiceSchema>] {
  const m = /^([a-z0-9_-]+)=([a-z0-9-]+?)(\+mod)?$/.exec(s.trim());
  if (!m || !(PRECISION_NAMES as readonly string[]).includes(m[2])) {
    throw new Error(`"${s}": expected COMPONENT=PRECISION with PRECISION one of ${PRECISION_NAMES.join(', ')} (optionally +mod to quantize the modulation too)`);
  }
  return [m[1], { precision: m[2] as (typeof PRECISION_NAMES)[number], quantizeModulation: m[3] !== undefined }];
}
