// Per-backbone generation parameters — defaults, ranges and steps from the official demos
// (spec/pipelines.md §5.2) — and the request schemas the UI, the main process and the engine all
// validate against.
import { z } from 'zod';
import type { BackboneId } from './model-manifests.js';

export interface NumberParamSpec {
  readonly kind: 'number';
  readonly label: string;
  readonly min: number;
  readonly max: number;
  readonly step: number;
  readonly default: number;
  readonly integer: boolean;
  readonly help?: string;
  /** Lowest value offered by the UI for real checkpoints (the official demos' minimum); `min` also admits the demo model's small sizes. */
  readonly uiMin?: number;
}

export const MAX_SEED = 2 ** 53 - 1;
/** Seed −1 means "pick a random seed" (the demos' convention). */
export const RANDOM_SEED = -1;

function num(label: string, min: number, max: number, step: number, dflt: number, help?: string): NumberParamSpec {
  return { kind: 'number', label, min, max, step, default: dflt, integer: Number.isInteger(step) && Number.isInteger(min), help };
}

export const UNO_PARAMS = {
  width: { ...num('Width', 64, 2048, 16, 768, 'UNO was trained at 512; UMO recommends 768–1024'), uiMin: 512 },
  height: { ...num('Height', 64, 2048, 16, 768), uiMin: 512 },
  steps: num('Steps', 1, 50, 1, 25),
  guidance: num('Guidance', 1, 5, 0.1, 4),
  seed: num('Seed', -1, MAX_SEED, 1, -1, '−1 picks a random seed'),
  loraScale: num('LoRA scale', 0, 2, 0.05, 1),
} as const;

/** Official UNO/UMO app limit; more are accepted behind a warning. */
export const UNO_REFERENCE_SLOTS = 4;
export const UNO_MAX_REFERENCES = 8;

export const OMNIGEN2_DEFAULT_NEGATIVE_PROMPT =
  '(((deformed))), blurry, over saturation, bad anatomy, disfigured, poorly drawn face, mutation, mutated, (extra_limb), (ugly), (poorly drawn hands), fused fingers, messy drawing, broken legs censor, censored, censor_bar';

export const OMNIGEN2_PARAMS = {
  width: { ...num('Width', 64, 2048, 16, 1024), uiMin: 256 },
  height: { ...num('Height', 64, 2048, 16, 1024), uiMin: 256 },
  steps: { ...num('Steps', 1, 100, 1, 50, 'the OmniGen2 app offers 20–100'), uiMin: 20 },
  textGuidance: num('Text guidance', 1, 8, 0.1, 5),
  imageGuidance: num('Image guidance', 1, 3, 0.1, 2),
  cfgRangeStart: num('CFG range start', 0, 1, 0.1, 0),
  cfgRangeEnd: num('CFG range end', 0, 1, 0.1, 1),
  images: num('Images per prompt', 1, 4, 1, 1),
  maxInputSide: num('Max input image side', 256, 2048, 256, 2048),
  maxPixels: num('Max pixels', 65536, 2359296, 65536, 1048576),
  seed: num('Seed', -1, MAX_SEED, 1, -1, '−1 picks a random seed'),
  loraScale: num('LoRA scale', 0, 2, 0.05, 1),
} as const;

export const OMNIGEN2_REFERENCE_SLOTS = 3;
/** The transformer's image-index embedding has 5 rows. */
export const OMNIGEN2_MAX_REFERENCES = 5;
export const OMNIGEN2_SCHEDULERS = ['euler', 'dpmsolver++'] as const;

export const BACKBONE_LIMITS: Record<BackboneId, { referenceSlots: number; maxReferences: number }> = {
  uno: { referenceSlots: UNO_REFERENCE_SLOTS, maxReferences: UNO_MAX_REFERENCES },
  omnigen2: { referenceSlots: OMNIGEN2_REFERENCE_SLOTS, maxReferences: OMNIGEN2_MAX_REFERENCES },
};

function zNumber(p: NumberParamSpec) {
  let s = z.number({ error: `${p.label} must be a number` })
    .min(p.min, { error: `${p.label} must be at least ${p.min}` })
    .max(p.max, { error: `${p.label} must be at most ${p.max}` });
  if (p.integer) s = s.int({ error: `${p.label} must be a whole number` });
  return s.default(p.default);
}

function multipleOf16(label: string) {
  return (v: number) => v % 16 === 0 || `${label} must be a multiple of 16 (got ${v})`;
}

export const LoraChoiceSchema = z.object({
  /** A LoRA checkpoint path, or null for none. */
  path: z.string().min(1).nullable().default(null),
  scale: zNumber(UNO_PARAMS.loraScale),
});

export const UnoRequestSchema = z.object({
  backbone: z.literal('uno'),
  prompt: z.string().max(20000, { error: 'Prompt is longer than 20000 characters' }),
  references: z.array(z.string().min(1)).max(UNO_MAX_REFERENCES, { error: `UNO takes at most ${UNO_MAX_REFERENCES} reference images` }).default([]),
  width: zNumber(UNO_PARAMS.width).refine((v) => v % 16 === 0, { error: (i) => String(multipleOf16('Width')(i.input as number)) }),
  height: zNumber(UNO_PARAMS.height).refine((v) => v % 16 === 0, { error: (i) => String(multipleOf16('Height')(i.input as number)) }),
  steps: zNumber(UNO_PARAMS.steps),
  guidance: zNumber(UNO_PARAMS.guidance),
  seed: zNumber(UNO_PARAMS.seed),
  lora: LoraChoiceSchema.default({ path: null, scale: 1 }),
});

export const OmniGen2RequestSchema = z.object({
  backbone: z.literal('omnigen2'),
  prompt: z.string().max(20000),
  negativePrompt: z.string().max(20000).default(OMNIGEN2_DEFAULT_NEGATIVE_PROMPT),
  references: z.array(z.string().min(1)).max(OMNIGEN2_MAX_REFERENCES, { error: `OmniGen2 takes at most ${OMNIGEN2_MAX_REFERENCES} reference images` }).default([]),
  width: zNumber(OMNIGEN2_PARAMS.width),
  height: zNumber(OMNIGEN2_PARAMS.height),
  steps: zNumber(OMNIGEN2_PARAMS.steps),
  textGuidance: zNumber(OMNIGEN2_PARAMS.textGuidance),
  imageGuidance: zNumber(OMNIGEN2_PARAMS.imageGuidance),
  cfgRange: z.tuple([zNumber(OMNIGEN2_PARAMS.cfgRangeStart), zNumber(OMNIGEN2_PARAMS.cfgRangeEnd)]).default([0, 1])
    .refine(([a, b]) => a <= b, { error: 'CFG range start must not exceed its end' }),
  scheduler: z.enum(OMNIGEN2_SCHEDULERS).default('euler'),
  images: zNumber(OMNIGEN2_PARAMS.images),
  maxInputSide: zNumber(OMNIGEN2_PARAMS.maxInputSide),
  maxPixels: zNumber(OMNIGEN2_PARAMS.maxPixels),
  alignRes: z.boolean().default(true),
  seed: zNumber(OMNIGEN2_PARAMS.seed),
  lora: LoraChoiceSchema.default({ path: null, scale: 1 }),
});

export const GenerateRequestSchema = z.discriminatedUnion('backbone', [UnoRequestSchema, OmniGen2RequestSchema]);

export type UnoRequest = z.infer<typeof UnoRequestSchema>;
export type OmniGen2Request = z.infer<typeof OmniGen2RequestSchema>;
export type GenerateRequest = z.infer<typeof GenerateRequestSchema>;
export type GenerateRequestInput = z.input<typeof GenerateRequestSchema>;

/** Validate a request; the error lists every problem as "field: message". */
export function parseGenerateRequest(input: unknown): GenerateRequest {
  const r = GenerateRequestSchema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`);
  throw new RequestValidationError(lines);
}

export class RequestValidationError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid generation request:\n  ${problems.join('\n  ')}`);
    this.name = 'RequestValidationError';
  }
}

/** Snap a size to the nearest valid value of a backbone's width/height spec. */
export function snapSize(v: number, p: NumberParamSpec): number {
  const s = Math.round(v / p.step) * p.step;
  return Math.min(p.max, Math.max(p.min, s));
}
