// The generation form as plain data, and the pure logic around it: defaults per backbone, size
// presets and snapping, request building and validation (with the same shared specs the main
// process and the engine use), and "reuse settings" from a result's metadata. No React, no DOM.
import {
  BACKBONE_LIMITS,
  GenerateRequestSchema,
  OMNIGEN2_DEFAULT_NEGATIVE_PROMPT,
  OMNIGEN2_PARAMS,
  OMNIGEN2_SCHEDULERS,
  RANDOM_SEED,
  UNO_PARAMS,
  snapSize,
  type GenerateRequestInput,
  type NumberParamSpec,
} from '../../shared/backbone-params.js';
import type { GenerationResult } from '../../shared/engine-protocol.js';
import type { BackboneId } from '../../shared/model-manifests.js';
import type { Settings } from '../../shared/settings.js';

export type Scheduler = (typeof OMNIGEN2_SCHEDULERS)[number];

export interface UnoFields {
  width: number;
  height: number;
  steps: number;
  guidance: number;
}

export interface OmniGen2Fields {
  width: number;
  height: number;
  steps: number;
  negativePrompt: string;
  textGuidance: number;
  imageGuidance: number;
  cfgRangeStart: number;
  cfgRangeEnd: number;
  scheduler: Scheduler;
  images: number;
  maxInputSide: number;
  maxPixels: number;
  alignRes: boolean;
}

/** A reference slot holds the app's stored copy of an image (what the request carries is its path). */
export interface SlotImage {
  id: string;
  url: string;
  path: string;
  name: string;
  width: number;
  height: number;
}

export interface FormState {
  prompt: string;
  /** Reference slots in order; empty slots are null. Shared by both backbones (switching keeps them). */
  slots: (SlotImage | null)[];
  /** The seed typed by the user; used when randomSeed is off. */
  seed: number;
  randomSeed: boolean;
  uno: UnoFields;
  omnigen2: OmniGen2Fields;
}

export const BACKBONE_LABELS: Record<BackboneId, string> = { uno: 'UNO', omnigen2: 'OmniGen2' };

export function sizeSpecs(backbone: BackboneId): { width: NumberParamSpec; height: NumberParamSpec } {
  return backbone === 'uno' ? { width: UNO_PARAMS.width, height: UNO_PARAMS.height } : { width: OMNIGEN2_PARAMS.width, height: OMNIGEN2_PARAMS.height };
}

export function defaultForm(): FormState {
  return {
    prompt: '',
    slots: Array.from({ length: BACKBONE_LIMITS.uno.referenceSlots }, () => null),
    seed: 0,
    randomSeed: true,
    uno: {
      width: UNO_PARAMS.width.default,
      height: UNO_PARAMS.height.default,
      steps: UNO_PARAMS.steps.default,
      guidance: UNO_PARAMS.guidance.default,
    },
    omnigen2: {
      width: OMNIGEN2_PARAMS.width.default,
      height: OMNIGEN2_PARAMS.height.default,
      steps: OMNIGEN2_PARAMS.steps.default,
      negativePrompt: OMNIGEN2_DEFAULT_NEGATIVE_PROMPT,
      textGuidance: OMNIGEN2_PARAMS.textGuidance.default,
      imageGuidance: OMNIGEN2_PARAMS.imageGuidance.default,
      cfgRangeStart: OMNIGEN2_PARAMS.cfgRangeStart.default,
      cfgRangeEnd: OMNIGEN2_PARAMS.cfgRangeEnd.default,
      scheduler: 'euler',
      images: OMNIGEN2_PARAMS.images.default,
      maxInputSide: OMNIGEN2_PARAMS.maxInputSide.default,
      maxPixels: OMNIGEN2_PARAMS.maxPixels.default,
      alignRes: true,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Sizes

export interface SizeLimits {
  min: number;
  max: number;
  step: number;
}

/** Allowed width/height range: the demo model admits the spec's small sizes, real checkpoints start at `uiMin`. */
export function sizeLimits(backbone: BackboneId, demoActive: boolean): SizeLimits {
  const spec = sizeSpecs(backbone).width;
  return { min: demoActive ? spec.min : (spec.uiMin ?? spec.min), max: spec.max, step: spec.step };
}

/** Snap a typed size to the spec's step and clamp it into the limits; non-numbers give the default. */
export function snapDimension(value: number, backbone: BackboneId, limits: SizeLimits): number {
  const spec = sizeSpecs(backbone).width;
  if (!Number.isFinite(value)) return spec.default;
  const s = snapSize(value, spec);
  const lo = Math.ceil(limits.min / limits.step) * limits.step;
  const hi = Math.floor(limits.max / limits.step) * limits.step;
  return Math.min(hi, Math.max(lo, s));
}

export const ASPECT_RATIOS = ['1:1', '4:3', '3:4', '16:9', '9:16', '3:2', '2:3'] as const;
export type AspectRatio = (typeof ASPECT_RATIOS)[number];

export interface SizePreset {
  ratio: AspectRatio;
  width: number;
  height: number;
}

/** Presets keep the backbone's default area (768² for UNO/UMO, 1024² for OmniGen2), snapped to the spec. */
export function sizePresets(backbone: BackboneId, limits: SizeLimits): SizePreset[] {
  const spec = sizeSpecs(backbone);
  const area = spec.width.default * spec.height.default;
  return ASPECT_RATIOS.map((ratio) => {
    const [a, b] = ratio.split(':').map(Number);
    const w = Math.sqrt((area * a) / b);
    const h = Math.sqrt((area * b) / a);
    return { ratio, width: snapDimension(w, backbone, limits), height: snapDimension(h, backbone, limits) };
  });
}

/** The preset matching a size exactly, if any ("Custom" otherwise). */
export function matchingPreset(presets: readonly SizePreset[], width: number, height: number): SizePreset | undefined {
  return presets.find((p) => p.width === width && p.height === height);
}

// ---------------------------------------------------------------------------------------------
// References

export function visibleSlotCount(backbone: BackboneId, slots: readonly unknown[]): number {
  return Math.max(BACKBONE_LIMITS[backbone].referenceSlots, slots.length);
}

/** Slots padded to the backbone's default count (the list never shrinks below what the user sees). */
export function normalizeSlots<T>(backbone: BackboneId, slots: readonly (T | null)[]): (T | null)[] {
  const out = slots.slice();
  // Empty slots past the backbone's default (UNO's 4th after switching to OmniGen2) go away.
  while (out.length > BACKBONE_LIMITS[backbone].referenceSlots && out[out.length - 1] === null) out.pop();
  while (out.length < BACKBONE_LIMITS[backbone].referenceSlots) out.push(null);
  return out;
}

export function filledReferences<T>(slots: readonly (T | null)[]): T[] {
  return slots.filter((s): s is T => s !== null);
}

/** Move the content of slot `from` to slot `to`, shifting the ones between (like reordering a list). */
export function moveSlot<T>(slots: readonly (T | null)[], from: number, to: number): (T | null)[] {
  if (from === to || from < 0 || to < 0 || from >= slots.length || to >= slots.length) return slots.slice();
  const out = slots.slice();
  if (out[to] === null) {
    out[to] = out[from];
    out[from] = null;
    return out;
  }
  const [item] = out.splice(from, 1);
  out.splice(to, 0, item);
  return out;
}

/**
 * Where `count` new images go when dropped on slot `at` (or on the area when `at` is undefined):
 * the target slot first (replacing its image), then the following empty slots, then new slots up to `max`.
 */
export function placementSlots(slots: readonly unknown[], count: number, max: number, at?: number): number[] {
  const out: number[] = [];
  if (at !== undefined && at >= 0 && at < max) out.push(at);
  const empty = slots.map((s, i) => (s === null && i !== at ? i : -1)).filter((i) => i >= 0);
  const start = at ?? -1;
  const ordered = [...empty.filter((i) => i > start), ...empty.filter((i) => i < start)];
  for (const i of ordered) out.push(i);
  for (let i = Math.max(slots.length, (at ?? -1) + 1); i < max; i++) out.push(i);
  return out.slice(0, count);
}

export function setSlot<T>(slots: readonly (T | null)[], index: number, value: T | null): (T | null)[] {
  const out = slots.slice();
  while (out.length <= index) out.push(null);
  out[index] = value;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Requests

export interface LoraState {
  path: string | null;
  scale: number;
}

export function loraFromSettings(settings: Pick<Settings, 'activeLora' | 'loraScale'>, backbone: BackboneId): LoraState {
  return { path: settings.activeLora[backbone], scale: settings.loraScale };
}

export function buildRequest(form: FormState, backbone: BackboneId, lora: LoraState): GenerateRequestInput {
  const references = filledReferences(form.slots).map((r) => r.path);
  const seed = form.randomSeed ? RANDOM_SEED : form.seed;
  if (backbone === 'uno') {
    const f = form.uno;
    return {
      backbone: 'uno', prompt: form.prompt, references, width: f.width, height: f.height,
      steps: f.steps, guidance: f.guidance, seed, lora: { path: lora.path, scale: lora.scale },
    };
  }
  const f = form.omnigen2;
  return {
    backbone: 'omnigen2', prompt: form.prompt, negativePrompt: f.negativePrompt, references,
    width: f.width, height: f.height, steps: f.steps, textGuidance: f.textGuidance, imageGuidance: f.imageGuidance,
    cfgRange: [f.cfgRangeStart, f.cfgRangeEnd], scheduler: f.scheduler, images: f.images,
    maxInputSide: f.maxInputSide, maxPixels: f.maxPixels, alignRes: f.alignRes, seed,
    lora: { path: lora.path, scale: lora.scale },
  };
}

/** Problems with a request as readable lines (empty when valid), checked with the shared schema. */
export function validateRequest(request: GenerateRequestInput, limits?: SizeLimits): string[] {
  const problems: string[] = [];
  const r = GenerateRequestSchema.safeParse(request);
  if (!r.success) {
    for (const issue of r.error.issues) problems.push(issue.message);
  }
  if (limits) {
    for (const key of ['width', 'height'] as const) {
      const v = request[key];
      if (typeof v === 'number' && v < limits.min) problems.push(`${key === 'width' ? 'Width' : 'Height'} must be at least ${limits.min} for real checkpoints`);
    }
  }
  return [...new Set(problems)];
}

// ---------------------------------------------------------------------------------------------
// Result parameters ("reuse settings" and the parameter table)

export interface ResultParams {
  backbone: BackboneId;
  prompt?: string;
  negativePrompt?: string;
  seed: number;
  width: number;
  height: number;
  steps?: number;
  guidance?: number;
  textGuidance?: number;
  imageGuidance?: number;
  cfgRange?: [number, number];
  scheduler?: Scheduler;
  images?: number;
  maxInputSide?: number;
  maxPixels?: number;
  alignRes?: boolean;
  loraPath?: string | null;
  loraScale?: number;
}

function parseJsonObject(s: string | undefined): Record<string, unknown> | null {
  if (!s) return null;
  try {
    const v: unknown = JSON.parse(s);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function pick(sources: Array<Record<string, unknown> | null>, ...keys: string[]): unknown {
  for (const src of sources) {
    if (!src) continue;
    for (const k of keys) if (src[k] !== undefined && src[k] !== null && src[k] !== '') return src[k];
  }
  return undefined;
}

function asNumber(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function asString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/**
 * The parameters of a result. Reads the request JSON when the metadata holds one (`request` or
 * `parameters`), else flat keys (`prompt`, `steps`, `guidance`, ...); the result's own fields
 * (seed, size, backbone) always win because they are what was actually used.
 */
export function readResultParams(result: GenerationResult): ResultParams {
  const md = result.metadata;
  const req = parseJsonObject(md.request) ?? parseJsonObject(md.parameters);
  const lora = req && typeof req.lora === 'object' && req.lora ? (req.lora as Record<string, unknown>) : null;
  const sources = [req, md as Record<string, unknown>];
  const cfgRaw = pick(sources, 'cfgRange', 'cfg_range');
  let cfgRange: [number, number] | undefined;
  if (Array.isArray(cfgRaw) && cfgRaw.length === 2) {
    const a = asNumber(cfgRaw[0]);
    const b = asNumber(cfgRaw[1]);
    if (a !== undefined && b !== undefined) cfgRange = [a, b];
  } else if (typeof cfgRaw === 'string') {
    const parsed = cfgRaw.split(/[,\s]+/).map(Number);
    if (parsed.length === 2 && parsed.every(Number.isFinite)) cfgRange = [parsed[0], parsed[1]];
  }
  const scheduler = asString(pick(sources, 'scheduler'));
  const alignRaw = pick(sources, 'alignRes', 'align_res');
  const loraPathRaw = lora ? lora.path : pick([md as Record<string, unknown>], 'loraPath', 'lora_path', 'lora');
  return {
    backbone: result.backbone,
    prompt: asString(pick(sources, 'prompt')),
    negativePrompt: asString(pick(sources, 'negativePrompt', 'negative_prompt')),
    seed: result.seed,
    width: result.width,
    height: result.height,
    steps: asNumber(pick(sources, 'steps', 'num_steps')),
    guidance: asNumber(pick(sources, 'guidance')),
    textGuidance: asNumber(pick(sources, 'textGuidance', 'text_guidance')),
    imageGuidance: asNumber(pick(sources, 'imageGuidance', 'image_guidance')),
    cfgRange,
    scheduler: (OMNIGEN2_SCHEDULERS as readonly string[]).includes(scheduler ?? '') ? (scheduler as Scheduler) : undefined,
    images: asNumber(pick(sources, 'images', 'num_images_per_prompt')),
    maxInputSide: asNumber(pick(sources, 'maxInputSide', 'max_input_image_side_length')),
    maxPixels: asNumber(pick(sources, 'maxPixels', 'max_pixels')),
    alignRes: typeof alignRaw === 'boolean' ? alignRaw : alignRaw === 'true' ? true : alignRaw === 'false' ? false : undefined,
    loraPath: typeof loraPathRaw === 'string' && loraPathRaw !== '' && loraPathRaw !== 'none' ? loraPathRaw : loraPathRaw === undefined ? undefined : null,
    loraScale: asNumber(lora ? lora.scale : pick([md as Record<string, unknown>], 'loraScale', 'lora_scale')),
  };
}

function clampTo(spec: NumberParamSpec, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  return Math.min(spec.max, Math.max(spec.min, v));
}

/** Fill the form from a result's parameters (prompt, size, steps, guidance, ... and a fixed seed). References stay. */
export function applyResultParams(form: FormState, p: ResultParams): FormState {
  const next: FormState = { ...form, prompt: p.prompt ?? form.prompt, seed: p.seed, randomSeed: false };
  if (p.backbone === 'uno') {
    const f = form.uno;
    next.uno = {
      width: clampTo(UNO_PARAMS.width, p.width, f.width),
      height: clampTo(UNO_PARAMS.height, p.height, f.height),
      steps: clampTo(UNO_PARAMS.steps, p.steps, f.steps),
      guidance: clampTo(UNO_PARAMS.guidance, p.guidance, f.guidance),
    };
  } else {
    const f = form.omnigen2;
    next.omnigen2 = {
      width: clampTo(OMNIGEN2_PARAMS.width, p.width, f.width),
      height: clampTo(OMNIGEN2_PARAMS.height, p.height, f.height),
      steps: clampTo(OMNIGEN2_PARAMS.steps, p.steps, f.steps),
      negativePrompt: p.negativePrompt ?? f.negativePrompt,
      textGuidance: clampTo(OMNIGEN2_PARAMS.textGuidance, p.textGuidance, f.textGuidance),
      imageGuidance: clampTo(OMNIGEN2_PARAMS.imageGuidance, p.imageGuidance, f.imageGuidance),
      cfgRangeStart: clampTo(OMNIGEN2_PARAMS.cfgRangeStart, p.cfgRange?.[0], f.cfgRangeStart),
      cfgRangeEnd: clampTo(OMNIGEN2_PARAMS.cfgRangeEnd, p.cfgRange?.[1], f.cfgRangeEnd),
      scheduler: p.scheduler ?? f.scheduler,
      images: clampTo(OMNIGEN2_PARAMS.images, p.images, f.images),
      maxInputSide: clampTo(OMNIGEN2_PARAMS.maxInputSide, p.maxInputSide, f.maxInputSide),
      maxPixels: clampTo(OMNIGEN2_PARAMS.maxPixels, p.maxPixels, f.maxPixels),
      alignRes: p.alignRes ?? f.alignRes,
    };
  }
  return next;
}

// ---------------------------------------------------------------------------------------------
// Display helpers

export function formatEta(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return 'unknown';
  if (n >= 1e9) return `${(n / 1e9).toFixed(n >= 1e10 ? 0 : 1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(0)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} kB`;
  return `${n} B`;
}

export function fileName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}
