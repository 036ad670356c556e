// Measured peak RSS against the memory planner's estimate for the same configuration.
// Writes the kits (tiny UNO, mid-size UNO, tiny OmniGen2) and square reference images, runs each
// configuration as a real generation in a fresh process (memory-case.ts) and plans the same
// request with planMemory (device cpu, an unlimited budget, the residency / precisions / ORT
// session defaults the case runs with). Used by `npm run bench` (memory table) and by
// test/integration/memory-estimate.test.ts.
//
// A configuration has `precisions` and `residency` so quantized bakes and streamed block groups can
// be measured with the same harness once the pipelines execute them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { BackboneId } from '../shared/model-manifests.js';
import { writeTinyUnoKit } from '../electron/engine/kit/tiny-uno-kit.js';
import { writeTinyOmniGen2Kit } from '../electron/engine/kit/tiny-omnigen2-kit.js';
import type { FluxDitSizes } from '../electron/engine/kit/checkpoint-shapes.js';
import type { OmniGen2TransformerSizes } from '../electron/engine/kit/omnigen2-transformer-shapes.js';
import { type MemoryPlan, type Residency, locatePlanCheckpoints, loadPlanModels, planMemory } from '../electron/engine/runtime/memory-planner.js';
import type { PrecisionChoice } from '../electron/engine/runtime/weight-bytes.js';
import { MEMORY_RESULT_PREFIX, type MemoryCaseResult, type MemoryCaseSpec } from './memory-case-protocol.js';
import { runCaseProcess } from './case-process.js';

const MiB = 2 ** 20;

/** The mid-size UNO kit's DiT: the DiT bench's sizes (hidden 512, 8 heads, 4 + 8 blocks, ~70 M parameters). */
export const MEMORY_MID_DIT: Partial<FluxDitSizes> = { hidden: 512, heads: 8, depth: 4, depthSingle: 8 };

/**
 * The mid-size OmniGen2 kit's transformer: hidden 512, 8 heads (4 KV heads, head dim 64), SwiGLU
 * 2048, 6 layers + 1 refiner of each kind (9 blocks, ~43 M parameters in BF16; written in a few seconds).
 */
export const MEMORY_MID_OMNIGEN2_TRANSFORMER: Partial<OmniGen2TransformerSizes> = {
  hidden: 512, heads: 8, kvHeads: 4, multipleOf: 256, layers: 6, refinerLayers: 1, axesDim: [16, 24, 24],
};

export const KIT_NAMES = ['uno-tiny', 'uno-mid', 'omnigen2-tiny', 'omnigen2-mid'] as const;
export type KitName = (typeof KIT_NAMES)[number];

export interface MemoryConfig {
  id: string;
  label: string;
  backbone: BackboneId;
  kit: KitName;
  width: number;
  height: number;
  steps: number;
  /** Square reference images of this side (pixels), before the pipeline's own resize. */
  referenceSides: number[];
  /** Side of each reference as the pipeline feeds it to the VAE (UNO: 512 / 320 long side; OmniGen2: unchanged below its limits). */
  referenceSize?: number;
  /** Pinned precisions (absent: the planner's top precision, what runs unquantized). */
  precisions?: Record<string, PrecisionChoice>;
  residency: Residency;
  streamGroups?: number;
  cpuMemArena: boolean;
  prepack: boolean;
}

export interface MemoryRow {
  config: MemoryConfig;
  measured?: MemoryCaseResult;
  plan: MemoryPlan;
  /** (estimate − measured) / measured. */
  error?: number;
  failure?: string;
  /** The PNG the case wrote (while the harness folder exists). */
  image?: string;
  /** 8-bit pixels against the kit's unquantized one-phase image (same seed and settings). */
  vsFloat?: { identical: boolean; meanAbs: number; maxAbs: number };
}

/** A precision / residency variant of a kit's request. */
export interface MemoryVariant {
  /** Short tag in ids and labels, e.g. `int4 streamed 2`. */
  tag: string;
  /** Precision of the denoiser and the text encoders (absent: the top precision, unquantized). */
  quant?: 'int8' | 'int4';
  residency: Residency;
  streamGroups?: number;
}

/** Every variant the bench measures per kit: each residency unquantized, each quantized precision, and mixes of both. */
export const MEMORY_VARIANTS: readonly MemoryVariant[] = [
  { tag: 'float, one phase', residency: 'one-phase-at-a-time' },
  { tag: 'int8, one phase', quant: 'int8', residency: 'one-phase-at-a-time' },
  { tag: 'int4, one phase', quant: 'int4', residency: 'one-phase-at-a-time' },
  { tag: 'float, all resident', residency: 'all-resident' },
  { tag: 'float, streamed 3', residency: 'dit-streamed', streamGroups: 3 },
  { tag: 'int8, all resident', quant: 'int8', residency: 'all-resident' },
  { tag: 'int4, streamed 2', quant: 'int4', residency: 'dit-streamed', streamGroups: 2 },
];

/** Components quantized by a variant's `quant`: the denoiser and the text encoders (the VAE is convolutions). */
const QUANTIZED_COMPONENTS: Record<BackboneId, readonly string[]> = { uno: ['dit', 't5', 'clip'], omnigen2: ['transformer', 'mllm'] };

/** The request of each kit (tiny: 64²; mid: 256²), as the pipelines run it. */
const KIT_REQUESTS: Record<KitName, Pick<MemoryConfig, 'backbone' | 'width' | 'height' | 'steps' | 'referenceSides' | 'referenceSize'> & { label: string }> = {
  'uno-tiny': { label: 'UNO tiny 64², 2 refs', backbone: 'uno', width: 64, height: 64, steps: 2, referenceSides: [96, 96] },
  'uno-mid': { label: 'UNO mid 256², 2 refs', backbone: 'uno', width: 256, height: 256, steps: 2, referenceSides: [96, 96] },
  'omnigen2-tiny': { label: 'OmniGen2 tiny 64², 1 ref', backbone: 'omnigen2', width: 64, height: 64, steps: 2, referenceSides: [64], referenceSize: 64 },
  'omnigen2-mid': { label: 'OmniGen2 mid 256², 1 ref', backbone: 'omnigen2', width: 256, height: 256, steps: 2, referenceSides: [128], referenceSize: 128 },
};

/** One configuration: a kit's request under a variant and ORT session settings. */
export function memoryConfig(kit: KitName, v: MemoryVariant, o: { cpuMemArena: boolean; prepack: boolean }): MemoryConfig {
  const { label, ...request } = KIT_REQUESTS[kit];
  const settings = `${o.cpuMemArena ? 'arena' : 'no-arena'}${o.prepack ? '' : ', no prepack'}`;
  const precisions = v.quant
    ? Object.fromEntries(QUANTIZED_COMPONENTS[request.backbone].map((c) => [c, { precision: v.quant! }]))
    : undefined;
  return {
    id: `${kit}-${v.tag}-${settings}`.replace(/[^a-z0-9]+/gi, '-'), label: `${label}, ${v.tag} (${settings})`, kit, ...request,
    residency: v.residency, ...(v.streamGroups !== undefined ? { streamGroups: v.streamGroups } : {}),
    ...(precisions ? { precisions } : {}), cpuMemArena: o.cpuMemArena, prepack: o.prepack,
  };
}

/** Every kit under every variant (the bench's table). */
export function allMemoryConfigs(o: { cpuMemArena: boolean; prepack: boolean }, kits: readonly KitName[] = KIT_NAMES): MemoryConfig[] {
  return kits.flatMap((k) => MEMORY_VARIANTS.map((v) => memoryConfig(k, v, o)));
}

const variant = (tag: string) => MEMORY_VARIANTS.find((v) => v.tag === tag)!;

/**
 * The subset test/integration/memory-estimate.test.ts runs (every residency, both quantized
 * precisions, both backbones, tiny and mid-size), short enough for the suite; the bench runs them all.
 */
export function representativeMemoryConfigs(o: { cpuMemArena: boolean; prepack: boolean }): MemoryConfig[] {
  return [
    memoryConfig('uno-tiny', variant('int4, streamed 2'), o),
    memoryConfig('omnigen2-tiny', variant('int8, all resident'), o),
    memoryConfig('uno-mid', variant('int8, one phase'), o),
  ];
}

/** The unquantized one-phase configurations (the planner's original calibration set). */
export function defaultMemoryConfigs(o: { cpuMemArena: boolean; prepack: boolean }): MemoryConfig[] {
  return KIT_NAMES.map((k) => memoryConfig(k, MEMORY_VARIANTS[0], o));
}

export interface MemoryHarness {
  dir: string;
  roots: Record<KitName, string>;
  dispose(): void;
}

/** Write the kits the configurations need into a temporary folder. */
export async function prepareMemoryHarness(kits: readonly KitName[], log: (l: string) => void = () => undefined): Promise<MemoryHarness> {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'umo-memory-')));
  const roots = {} as Record<KitName, string>;
  for (const k of new Set(kits)) {
    roots[k] = path.join(dir, k);
    const t0 = performance.now();
    if (k === 'uno-tiny') await writeTinyUnoKit(roots[k]);
    else if (k === 'uno-mid') await writeTinyUnoKit(roots[k], { dit: MEMORY_MID_DIT });
    else if (k === 'omnigen2-mid') writeTinyOmniGen2Kit(roots[k], { transformer: MEMORY_MID_OMNIGEN2_TRANSFORMER });
    else writeTinyOmniGen2Kit(roots[k]);
    log(`memory: wrote the ${k} kit in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  return { dir, roots, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

async function referenceFiles(dir: string, sides: readonly number[]): Promise<string[]> {
  const out: string[] = [];
  for (const [i, side] of sides.entries()) {
    const file = path.join(dir, `ref-${side}-${i}.png`);
    if (!fs.existsSync(file)) {
      await sharp({ create: { width: side, height: side, channels: 3, background: { r: 40 + 60 * i, g: 120, b: 200 - 50 * i } } }).png().toFile(file);
    }
    out.push(file);
  }
  return out;
}

/** UNO's reference long side (spec §3.1): 512 for one reference, 320 for several. */
function unoReferenceSide(n: number): number {
  return n <= 1 ? 512 : 320;
}

/** The planner's estimate for exactly what the case runs. */
export function estimateFor(c: MemoryConfig, modelsRoot: string): MemoryPlan {
  const models = loadPlanModels(c.backbone, locatePlanCheckpoints(c.backbone, { modelsRoot }));
  const refs = c.referenceSides.length;
  return planMemory(models, {
    request: {
      width: c.width, height: c.height, references: refs,
      referenceSize: c.referenceSize ?? (c.backbone === 'uno' ? unoReferenceSide(refs) : undefined),
    },
    device: 'cpu', budgetBytes: 2 ** 50, residency: c.residency,
    ...(c.streamGroups !== undefined ? { streamGroups: c.streamGroups } : {}),
    ...(c.precisions ? { precisions: c.precisions } : {}),
    cpuMemArena: c.cpuMemArena, cpuPrepack: c.prepack,
  });
}

const CASE_SCRIPT = fileURLToPath(new URL('./memory-case.js', import.meta.url));

/** Run every configuration in its own process and plan it. */
export async function runMemoryConfigs(h: MemoryHarness, configs: readonly MemoryConfig[], opts: {
  script?: string; timeoutMs?: number; log?: (l: string) => void;
} = {}): Promise<MemoryRow[]> {
  const log = opts.log ?? (() => undefined);
  const rows: MemoryRow[] = [];
  for (const c of configs) {
    const plan = estimateFor(c, h.roots[c.kit]);
    const caseDir = path.join(h.dir, 'cases', c.id);
    fs.mkdirSync(caseDir, { recursive: true });
    const spec: MemoryCaseSpec = {
      id: c.id, backbone: c.backbone, modelsRoot: h.roots[c.kit], cacheDir: path.join(h.dir, 'cache'), outputDir: caseDir,
      width: c.width, height: c.height, steps: c.steps, references: await referenceFiles(h.dir, c.referenceSides),
      residency: c.residency, cpuMemArena: c.cpuMemArena, prepack: c.prepack,
      ...(c.streamGroups !== undefined ? { streamGroups: c.streamGroups } : {}),
      ...(c.precisions ? { precisions: c.precisions } : {}),
    };
    try {
      const measured = await runCaseProcess<MemoryCaseResult>(opts.script ?? CASE_SCRIPT, spec, MEMORY_RESULT_PREFIX, c.id, opts.timeoutMs ?? 300_000);
      const error = (plan.peakBytes / MiB - measured.peakRssMb) / measured.peakRssMb;
      rows.push({ config: c, measured, plan, error, image: path.join(caseDir, `${c.id}.png`) });
      log(`memory: ${c.label}: measured ${measured.peakRssMb.toFixed(0)} MiB, estimate ${(plan.peakBytes / MiB).toFixed(0)} MiB (${(100 * error).toFixed(1)} %)`);
    } catch (e) {
      rows.push({ config: c, plan, failure: (e as Error).message });
      log(`memory: ${c.label}: failed: ${(e as Error).message}`);
    }
  }
  return rows;
}

/** Planner phase -> the pipeline segments it covers. */
const SEGMENTS_OF: Record<string, (s: { phase: string; detail?: string }) => boolean> = {
  'encode-text': (s) => s.phase === 'encoding',
  'encode-references': (s) => s.phase === 'references',
  denoise: (s) => s.phase === 'denoising' || (s.phase === 'loading' && s.detail === 'transformer'),
  decode: (s) => s.phase === 'decoding' || s.phase === 'saving',
};

/** Measured peak of a planner phase (MiB), or null when no segment matches. */
export function measuredPhasePeakMb(r: MemoryCaseResult, phase: string): number | null {
  const match = SEGMENTS_OF[phase];
  const peaks = r.segments.filter((s) => match?.(s)).map((s) => s.peakMb);
  return peaks.length ? Math.max(...peaks) : null;
}

/**
 * Compare every case's image with the unquantized one-phase image of the same kit and session
 * settings: residency modes must give identical bytes, quantized ones stay near it.
 */
export async function compareImagesToFloat(rows: MemoryRow[]): Promise<void> {
  const key = (c: MemoryConfig) => `${c.kit}|${c.cpuMemArena}|${c.prepack}`;
  const reference = new Map<string, MemoryRow>();
  for (const r of rows) {
    if (r.image && !r.config.precisions && r.config.residency === 'one-phase-at-a-time') reference.set(key(r.config), r);
  }
  for (const r of rows) {
    const ref = reference.get(key(r.config));
    if (!r.image || !ref?.image || ref === r || !fs.existsSync(r.image) || !fs.existsSync(ref.image)) continue;
    const [a, b] = await Promise.all([sharp(ref.image).raw().toBuffer(), sharp(r.image).raw().toBuffer()]);
    let sum = 0;
    let max = 0;
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      sum += d;
      max = Math.max(max, d);
    }
    r.vsFloat = { identical: fs.readFileSync(ref.image).equals(fs.readFileSync(r.image)), meanAbs: sum / a.length, maxAbs: max };
  }
}
