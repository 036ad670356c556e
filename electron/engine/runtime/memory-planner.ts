// The memory planner: from checkpoint headers (no weights read), a request and a device budget,
// estimate weight and peak activation bytes per pipeline phase and choose how to run: a precision
// per component, a residency mode (all resident / one phase at a time / the DiT streamed in block
// groups) and, for unfused attention, query chunking. It prefers the highest precision that fits,
// then the least streaming, and records what it gave up. The result is a plain JSON-able value.
//
// Executing a plan (quantized bakes, per-phase sessions, streamed groups) is the pipelines' job;
// this module only computes. See spec/pipelines.md §6 and platform-notes "Memory" / "Types and
// precision on the CPU EP" for the facts the numbers rest on.
import path from 'node:path';
import { OMNIGEN2_MANIFEST, UNO_MANIFEST, type BackboneId, type ManifestComponent } from '../../../shared/model-manifests.js';
import { Checkpoint } from './safetensors.js';
import { ModelFilesError, describeProblems, locateComponent, type LocateOptions } from './model-locator.js';
import type { AttentionShape } from './activation-bytes.js';
import { type ComponentWeightBytes, type DeviceKind, type Precision, type PrecisionChoice, activationElementBytes } from './weight-bytes.js';
import { splitBlockGroups } from './block-groups.js';
import {
  type NetworkMemoryModel, type NetworkWorkload,
  clipTextMemoryModel, fluxDitMemoryModel, omnigen2TransformerMemoryModel, qwen2TextMemoryModel, t5MemoryModel, vaeMemoryModels,
} from './network-memory-models.js';

export const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

// ---------------------------------------------------------------------------------------------
// Measured constants (CPU). Every CPU figure below comes from real generations measured by
//   npm run build && node dist/bench/memory-bench.js --all-settings
// (bench/memory-estimate.ts: one fresh process per configuration, runGenerateJob with the plan
// pinned: one phase at a time, all resident or streamed in 2–3 block groups, float or int8 / int4
// denoiser and text encoders; peak RSS per phase from VmHWM reset at every phase event), on
// onnxruntime-node 1.30, Node 20, Linux x64, 2 cores. Kits: tiny UNO (64², two 320² references),
// mid-size UNO (DiT hidden 512, 4 + 8 blocks, 71 M parameters in BF16; 256², two 320² references),
// tiny OmniGen2 (64², one 64² reference), mid-size OmniGen2 (transformer hidden 512, 6 + 3 blocks,
// 43 M parameters in BF16; 256², one 128² reference). 27 of 28 configurations came out within 15 %
// in both full runs; mid UNO float all resident is estimated high (+13 %, +16 %: every earlier
// session's activation peak is counted as kept), mid OmniGen2 int8 one phase low (−12.5 %, −13 %);
// test/integration/memory-estimate.test.ts re-measures a representative subset.

/**
 * Resident memory outside the networks. CPU: the engine process during a job — Node, onnxruntime-node
 * loaded (64 MiB right after the imports), tokenizers, sharp and the pipeline's own tensors: RSS
 * between phases measured 118–134 MiB (tiny OmniGen2 whole run 134 MiB with ~3 MB of networks;
 * tiny UNO text phase 130 MiB). A GPU EP context and workspaces: assumption, not measured.
 */
const BASELINE_BYTES: Record<DeviceKind, number> = { cpu: 128 * MiB, gpu: 512 * MiB };

/**
 * CPU sessions over float weights stored as bf16/fp16: resident bytes per byte of fp32 weights.
 * The constant-folded Cast makes the fp32 copy (1×), the 16-bit external-data pages ORT maps and
 * touches stay resident until the session is released (0.5×), and graph optimization leaves more
 * initializer copies in the heap. Measured: mid-size DiT (284 MB of fp32 weights from a 142 MB
 * BF16 file) grew RSS by 603 MB at session creation with the arena and prepacking on (592 MB
 * without prepacking, 581 MB without the arena) and kept it until release: 603 / 284 ≈ 2.13; the
 * process peak of that phase (802 MiB) also holds the residue of earlier phases (~14 MiB), so 2.18.
 * Prepacking needs no term of its own: MLAS's packed copies replace the fp32 initializers they were
 * made from (+12 MB measured with prepacking on against off).
 */
const CPU_CAST_WEIGHT_FACTOR = 2.18;

/**
 * Float weights stored in fp32 on CPU: the external-data pages are used as they are (no cast copy).
 * Not measured separately (the kits' fp32 VAE and CLIP weigh a few MB); prepacked MatMul weights
 * would make private copies, which the real fp32 networks here (VAE convolutions, CLIP) barely have.
 */
const CPU_F32_WEIGHT_FACTOR = 1;

/**
 * CPU MatMulNBits weights of a quantized bake (codes, scales, zero points; memory-mapped from the
 * bake file): resident bytes per priced byte. Prepacking copies them into MLAS's layout and the
 * copy replaces the mapped initializer, so they cost their priced size once. The float parts of a
 * quantized network (modulation unless quantized, embedders, norms, biases) are still read from the
 * 16-bit checkpoint and cast: CPU_CAST_WEIGHT_FACTOR. Measured (memory-bench, one phase at a time,
 * RSS at the end of the denoiser's session creation): mid-size UNO DiT int8, 78.8 MiB float +
 * 49.5 MiB MatMulNBits priced: +150 MiB over a phase start whose heap still held ~50 MiB the bake
 * had freed (2.18 · 78.8 + 49.5 − 50 = 171); mid-size OmniGen2 int8, 35.1 + 34.8 MiB: 117 MiB
 * over the 128 MiB baseline (2.18 · 35.1 + 34.8 = 111); int4, 35.1 + 19.2 MiB: 106 MiB (96).
 */
const CPU_QUANT_WEIGHT_FACTOR = 1;

/**
 * CPU, dit-streamed: resident bytes of the largest block group per priced-and-cast byte. Every
 * forward creates, runs and releases one group session after another; glibc keeps the freed cast
 * copies of the previous group in the heap (tensors below its dynamic mmap threshold) and the next
 * group reuses most but not all of them (RSS after the last group stays at about one group's
 * weights). Measured (`node dist/bench/memory-bench.js --only streamed`), weights at the denoise
 * peak over the largest group's cast bytes: mid-size UNO float 3 groups 1.40, int4 2 groups 0.85;
 * mid-size OmniGen2 float 3 groups 1.12, int4 2 groups 1.28: 1.15 (each run within 15 %).
 */
const CPU_STREAM_GROUP_FACTOR = 1.15;

/**
 * CPU activation peak / structural estimate (activation-bytes.ts) per network, with the ORT CPU
 * arena on (the engine's default, sessions.ts) and off. Measured:
 * - FLUX DiT (mid-size, 256², two references): +55 MiB over the loaded session in the denoising
 *   steps against a structural 56 MiB with the arena: 1.0. Without the arena the steps reused freed
 *   heap and added nothing over creation; 1.0 keeps the estimate on the safe side.
 * - VAE encoder (320² reference): +86 MiB over the baseline with the arena against a structural
 *   39 MiB (MLAS convolution working buffers and GroupNorm copies): 2.2; without the arena glibc
 *   kept more (+140 MiB): 3.55.
 * - VAE decoder: its one-phase peak hides under the DiT's residue, but all-resident runs show it:
 *   mid-size UNO int8 (256²) grew RSS by 64 MiB in decoding against a structural 48 MiB (1.33),
 *   mid-size OmniGen2 int8 (256²) by 36 MiB against 25 MiB (1.47): 1.4. Without the arena the
 *   encoder's 3.55 (not measured separately; on the safe side).
 * - Text encoders and the OmniGen2 transformer: too small in the kits to separate from the
 *   baseline; 1.0 (structural estimate as it is).
 * (platform-notes' 1238 vs 710 MB arena measurement was one activation-heavy session, not a
 * generation's phase peak; the arena also returns a released session's memory to the OS, which
 * malloc did not: without the arena the tiny UNO run stayed at 258 MiB after its 270 MiB peak.)
 */
const CPU_ACTIVATION_FACTORS: Record<'arena' | 'noArena', Partial<Record<string, number>>> = {
  arena: { 'vae-encoder': 2.2, 'vae-decoder': 1.4 },
  noArena: { 'vae-encoder': 3.55, 'vae-decoder': 3.55 },
};

/** Part of the budget left unplanned (OS, driver, fragmentation): 1/16, so 16 GiB plans to 15 GiB. */
const DEFAULT_RESERVE_FRACTION = 1 / 16;
const DEFAULT_MAX_STREAM_GROUPS = 8;
const QUERY_CHUNKS = [1, 2, 4, 8, 16, 32, 64, 128];

// ---------------------------------------------------------------------------------------------
// Components and their checkpoints

/** Components the planner reads per backbone (manifest ids). */
export const PLAN_COMPONENT_IDS: Record<BackboneId, readonly string[]> = {
  uno: ['dit', 't5', 'clip', 'ae'],
  omnigen2: ['transformer', 'mllm', 'vae'],
};

const isLora = (c: ManifestComponent) => c.id.endsWith('_lora');

/**
 * Checkpoint paths of the components the planner reads (and of LoRAs that are present), located as
 * the pipelines locate them (models root, HF cache, the user's overrides); a ModelFilesError naming
 * what is missing and where it looked.
 */
export function locatePlanCheckpoints(backbone: BackboneId, where: LocateOptions): Record<string, string> {
  const out: Record<string, string> = {};
  const manifest = backbone === 'uno' ? UNO_MANIFEST : OMNIGEN2_MANIFEST;
  const wanted = manifest.components.filter((c) => PLAN_COMPONENT_IDS[backbone].includes(c.id) || isLora(c));
  const located = wanted.map((c) => locateComponent(c, where));
  const bad = located.filter((l) => l.status !== 'found' && !isLora(l.component));
  if (bad.length) throw new ModelFilesError(bad, `cannot plan ${backbone}: model files are missing or unusable\n${describeProblems(bad)}`);
  for (const l of located) if (l.status === 'found' && l.path) out[l.component.id] = l.path;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Loaded models

/** A precision group: networks that share one precision choice (the VAE's encoder and decoder). */
interface ComponentGroup {
  id: string;
  label: string;
  networks: NetworkMemoryModel[];
  /** How much a precision step here costs in quality relative to other components. */
  qualityWeight: number;
}

interface PhaseSpec {
  name: string;
  networks: string[];
  /** The network that may be streamed in block groups. */
  streamable?: string;
}

export interface PlanModels {
  backbone: BackboneId;
  groups: ComponentGroup[];
  phases: PhaseSpec[];
  notes: string[];
}

function open(paths: Record<string, string>, id: string, backbone: BackboneId): Checkpoint {
  const p = paths[id];
  if (!p) throw new Error(`cannot plan ${backbone}: no checkpoint given for component "${id}" (need ${PLAN_COMPONENT_IDS[backbone].join(', ')})`);
  return Checkpoint.open(p);
}

/** Read the headers of a backbone's checkpoints (component id -> file or folder) into memory models. */
export function loadPlanModels(backbone: BackboneId, paths: Record<string, string>): PlanModels {
  const notes: string[] = [];
  for (const id of ['uno_lora', 'umo_lora']) {
    if (!paths[id]) continue;
    const lora = Checkpoint.open(paths[id]);
    notes.push(`${path.basename(paths[id])} (${(lora.parameterCount() / 1e6).toFixed(0)} M parameters) is merged into the ${backbone === 'uno' ? 'DiT' : 'transformer'} bake `
      + 'in full precision before any quantization: no runtime bytes of its own');
  }
  if (backbone === 'uno') {
    const dit = fluxDitMemoryModel(open(paths, 'dit', backbone));
    const t5 = t5MemoryModel(open(paths, 't5', backbone));
    const clip = clipTextMemoryModel(open(paths, 'clip', backbone));
    const vae = vaeMemoryModels(open(paths, 'ae', backbone));
    return {
      backbone, notes,
      groups: [
        { id: 'dit', label: 'DiT', networks: [dit], qualityWeight: 3 },
        { id: 't5', label: 'T5', networks: [t5], qualityWeight: 1 },
        { id: 'clip', label: 'CLIP', networks: [clip], qualityWeight: 1 },
        { id: 'vae', label: 'VAE', networks: [vae.encoder, vae.decoder], qualityWeight: 2 },
      ],
      phases: [
        { name: 'encode-references', networks: ['vae-encoder'] },
        { name: 'encode-text', networks: ['t5', 'clip'] },
        { name: 'denoise', networks: ['dit'], streamable: 'dit' },
        { name: 'decode', networks: ['vae-decoder'] },
      ],
    };
  }
  const transformer = omnigen2TransformerMemoryModel(open(paths, 'transformer', backbone));
  const mllm = qwen2TextMemoryModel(open(paths, 'mllm', backbone));
  const vae = vaeMemoryModels(open(paths, 'vae', backbone));
  return {
    backbone, notes,
    groups: [
      { id: 'transformer', label: 'transformer', networks: [transformer], qualityWeight: 3 },
      { id: 'mllm', label: 'MLLM', networks: [mllm], qualityWeight: 1 },
      { id: 'vae', label: 'VAE', networks: [vae.encoder, vae.decoder], qualityWeight: 2 },
    ],
    phases: [
      { name: 'encode-text', networks: ['mllm'] },
      { name: 'encode-references', networks: ['vae-encoder'] },
      { name: 'denoise', networks: ['transformer'], streamable: 'transformer' },
      { name: 'decode', networks: ['vae-decoder'] },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Request

export interface PlanRequest {
  width: number;
  height: number;
  references: number;
  /** Long side of each reference in pixels (taken as square: the most tokens for that side). Default per backbone. */
  referenceSize?: number;
  /** Images per prompt (the denoiser runs them as one batch; the VAE decodes them one by one). */
  batch?: number;
  /** Denoiser passes per step (UNO 1; OmniGen2 3 with references, 2 without). */
  cfgPasses?: number;
  /** Run the CFG passes as one batch (peak × passes) instead of one after the other. */
  cfgBatched?: boolean;
  /** OmniGen2: prompt tokens after the chat template (default 200). */
  textTokens?: number;
}

/** UNO's reference rule: long side 512 for one reference, 320 for several (spec §3.1); OmniGen2: up to 1024² pixels (§4.3). */
export function defaultReferenceSize(backbone: BackboneId, references: number): number {
  if (backbone === 'uno') return references <= 1 ? 512 : 320;
  return 1024;
}

const UNO_T5_TOKENS = 512;
const OMNIGEN2_DEFAULT_TEXT_TOKENS = 200;

function validateRequest(r: PlanRequest): void {
  const positiveInt = (name: string, v: number | undefined, min = 1) => {
    if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new Error(`plan request: ${name} must be a whole number ≥ ${min} (got ${v})`);
  };
  positiveInt('width', r.width, 16);
  positiveInt('height', r.height, 16);
  positiveInt('references', r.references, 0);
  positiveInt('referenceSize', r.referenceSize, 16);
  positiveInt('batch', r.batch);
  positiveInt('cfgPasses', r.cfgPasses);
  positiveInt('textTokens', r.textTokens);
}

interface Workloads {
  byNetwork: Record<string, NetworkWorkload>;
  /** Multiplier on denoiser activations (batch, batched CFG passes). */
  denoiseMultiplier: number;
  /** Elements carried through the denoise phase (text states, reference tokens, latents). */
  carriedElements: number;
  cfgPasses: number;
  referenceSize: number;
}

function workloads(backbone: BackboneId, r: PlanRequest): Workloads {
  const refSize = r.referenceSize ?? defaultReferenceSize(backbone, r.references);
  const tokensOf = (w: number, h: number) => Math.ceil(h / 16) * Math.ceil(w / 16);
  const noise = tokensOf(r.width, r.height);
  const refs = Array.from({ length: r.references }, () => tokensOf(refSize, refSize));
  // References are encoded one at a time and all have the same size here: one image sets the encoder's peak.
  const refImages = Array.from({ length: Math.min(1, r.references) }, () => ({ width: refSize, height: refSize }));
  const out = [{ width: r.width, height: r.height }];
  const batch = r.batch ?? 1;
  const refTokens = refs.reduce((a, b) => a + b, 0);
  if (backbone === 'uno') {
    const passes = r.cfgPasses ?? 1;
    const base = { noiseTokens: noise, referenceTokens: refs };
    return {
      byNetwork: {
        'vae-encoder': { ...base, textTokens: 0, images: refImages },
        t5: { ...base, textTokens: UNO_T5_TOKENS, images: [] },
        clip: { ...base, textTokens: 77, images: [] },
        dit: { ...base, textTokens: UNO_T5_TOKENS, images: [] },
        'vae-decoder': { ...base, textTokens: 0, images: out },
      },
      denoiseMultiplier: batch * (r.cfgBatched ? passes : 1),
      // T5 states [512, 4096] (+ pooled CLIP), reference tokens [n, 64], noise and velocity per image and pass.
      carriedElements: UNO_T5_TOKENS * 4096 + 768 + refTokens * 64 + batch * noise * 64 * (1 + passes),
      cfgPasses: passes,
      referenceSize: refSize,
    };
  }
  const text = r.textTokens ?? OMNIGEN2_DEFAULT_TEXT_TOKENS;
  const passes = r.cfgPasses ?? (r.references > 0 ? 3 : 2);
  const base = { noiseTokens: noise, referenceTokens: refs };
  return {
    byNetwork: {
      mllm: { ...base, textTokens: text, images: [] },
      'vae-encoder': { ...base, textTokens: 0, images: refImages },
      // The longest pass (prompt + references + noise); the others are shorter and run after it.
      transformer: { ...base, textTokens: text, images: [] },
      'vae-decoder': { ...base, textTokens: 0, images: out },
    },
    denoiseMultiplier: batch * (r.cfgBatched ? passes : 1),
    // Two prompts' hidden states [L, 2048], reference latents as tokens, noise + one velocity per pass.
    carriedElements: 2 * text * 2048 + refTokens * 64 + batch * noise * 64 * (1 + passes),
    cfgPasses: passes,
    referenceSize: refSize,
  };
}

// ---------------------------------------------------------------------------------------------
// Options and result

/** Measured corrections per network id: activation bytes × scale + offsetBytes. */
export type ActivationCalibration = Partial<Record<string, { scale?: number; offsetBytes?: number }>>;

export interface PlanOptions {
  request: PlanRequest;
  budgetBytes: number;
  device: DeviceKind;
  /** Budget left unplanned; default 1/16 of the budget. */
  reserveBytes?: number;
  /** Attention form; default fused on CPU (MultiHeadAttention, tiled), unfused on GPU (the form that is correct on WebGPU today). */
  attention?: 'fused' | 'unfused';
  /** Most block groups the denoiser may be streamed in (0 or 1: no streaming). Default 8. */
  maxStreamGroups?: number;
  /** Fix a component's precision instead of searching (component ids: dit, t5, clip, vae / transformer, mllm, vae). */
  precisions?: Partial<Record<string, PrecisionChoice>>;
  /** CPU only: sessions use ORT's memory arena (default true, as sessions.ts creates them). */
  cpuMemArena?: boolean;
  /**
   * CPU only: sessions prepack MatMul weights (default true, as sessions.ts). Priced the same either
   * way: the packed copies replace the fp32 initializers (measured +12 MB on a 284 MB DiT).
   */
  cpuPrepack?: boolean;
  calibration?: ActivationCalibration;
  /** Pin the residency mode (tests, benchmarks, the CLI) instead of searching. */
  residency?: Residency;
  /** With residency dit-streamed: pin the number of block groups. */
  streamGroups?: number;
}

export type Residency = 'all-resident' | 'one-phase-at-a-time' | 'dit-streamed';

export interface PlannedComponent {
  /** Network id (dit, t5, clip, vae-encoder, vae-decoder, transformer, mllm). */
  id: string;
  precision: Precision;
  quantizeModulation: boolean;
  weightBytes: number;
  parameters: number;
}

export interface PlannedPhase {
  name: string;
  components: PlannedComponent[];
  /** Weights resident during the phase (all weights when all-resident; one block group when streamed). */
  residentWeightBytes: number;
  activationBytes: number;
  /** Which moment of which network gives the activation peak. */
  activationPeakAt: string;
  attention: AttentionShape;
  peakBytes: number;
}

export interface MemoryPlan {
  backbone: BackboneId;
  device: DeviceKind;
  budgetBytes: number;
  reserveBytes: number;
  fits: boolean;
  peakBytes: number;
  residency: Residency;
  /** Block groups of the streamed denoiser (dit-streamed only). */
  streamGroups?: number;
  phases: PlannedPhase[];
  gaveUp: string[];
  notes: string[];
  /** Why nothing fits (fits = false). */
  reason?: string;
  request: Required<Pick<PlanRequest, 'width' | 'height' | 'references'>> & { referenceSize: number; batch: number; cfgPasses: number };
}

// ---------------------------------------------------------------------------------------------
// Precision ladders

interface LadderStep {
  choice: PrecisionChoice;
  cost: number;
}

function ladder(g: ComponentGroup, device: DeviceKind): LadderStep[] {
  const stored = g.networks[0].storedDtype;
  const steps: LadderStep[] = [];
  if (device === 'cpu') {
    // Every float precision costs fp32 bytes on the CPU EP; name the one that matches the file.
    const top: Precision = stored === 'F32' ? 'fp32' : stored === 'BF16' ? 'bf16-as-fp32-on-cpu' : 'fp16';
    steps.push({ choice: { precision: top }, cost: 0 });
  } else if (stored === 'F32') {
    steps.push({ choice: { precision: 'fp32' }, cost: 0 }, { choice: { precision: 'fp16' }, cost: 1 });
  } else {
    // bf16 -> fp16 narrows the exponent range (a small loss); fp16 files are kept as they are.
    steps.push({ choice: { precision: 'fp16' }, cost: stored === 'BF16' ? 1 : 0 });
  }
  if (g.networks.some((n) => n.quantizable)) {
    const mod = g.networks.some((n) => n.hasModulation);
    steps.push({ choice: { precision: 'int8' }, cost: 2 });
    if (mod) steps.push({ choice: { precision: 'int8', quantizeModulation: true }, cost: 3 });
    steps.push({ choice: { precision: 'int4' }, cost: 4 });
    if (mod) steps.push({ choice: { precision: 'int4', quantizeModulation: true }, cost: 5 });
  }
  return steps;
}

function combinations(lists: LadderStep[][]): LadderStep[][] {
  let out: LadderStep[][] = [[]];
  for (const l of lists) out = out.flatMap((prefix) => l.map((s) => [...prefix, s]));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Evaluation of one candidate

interface Candidate {
  choices: Map<string, PrecisionChoice>; // group id -> choice
  residency: Residency;
  streamGroups: number;
}

/** Split block sizes (in order) into `groups` contiguous groups of about equal bytes (`splitBlockGroups`); the largest group's bytes. */
export function largestBlockGroup(blocks: readonly number[], groups: number): number {
  return Math.max(0, ...splitBlockGroups(blocks, groups).map((g) => g.bytes));
}

interface Context {
  models: PlanModels;
  opts: PlanOptions;
  work: Workloads;
  networks: Map<string, NetworkMemoryModel>;
  groupOf: Map<string, ComponentGroup>;
  limit: number;
  baseline: number;
  attentionKind: 'fused' | 'unfused';
}

function choiceLabel(c: PrecisionChoice): string {
  return `${c.precision}${c.quantizeModulation ? '+int8-modulation' : ''}`;
}

/**
 * Resident bytes of priced weights on the device. CPU: float weights cast from a 16-bit file cost
 * CPU_CAST_WEIGHT_FACTOR × their fp32 bytes (fp32 files CPU_F32_WEIGHT_FACTOR), MatMulNBits parts of
 * a quantized bake CPU_QUANT_WEIGHT_FACTOR; the float parts of a quantized network are cast like any
 * other float weight. GPU: the priced size (the upload; not measured on a GPU yet).
 */
function residentWeightBytes(net: NetworkMemoryModel, choice: PrecisionChoice, device: DeviceKind, w: ComponentWeightBytes): number {
  if (device !== 'cpu') return w.total;
  const quantizedPart = (quantized(choice) ? w.byRole.matmul : 0) + (choice.quantizeModulation ? w.byRole.modulation : 0);
  const floatFactor = net.storedDtype === 'F32' ? CPU_F32_WEIGHT_FACTOR : CPU_CAST_WEIGHT_FACTOR;
  return quantizedPart * CPU_QUANT_WEIGHT_FACTOR + (w.total - quantizedPart) * floatFactor;
}

/**
 * Resident weights of a streamed network: its non-block weights (embedders, final layer; taken as
 * loaded throughout, an upper bound since they live in the first and last groups) plus the largest
 * group, split as the pipelines split it (by priced bytes, `splitBlockGroups`).
 */
function streamedWeightBytes(net: NetworkMemoryModel, choice: PrecisionChoice, device: DeviceKind, groups: number): number {
  const blocks = net.blockWeights!(choice, device);
  const resident = blocks.map((b) => residentWeightBytes(net, choice, device, b));
  const split = splitBlockGroups(blocks.map((b) => b.total), groups);
  const largest = Math.max(0, ...split.map((g) => resident.slice(g.first, g.end).reduce((x, y) => x + y, 0)));
  const whole = residentWeightBytes(net, choice, device, net.weights(choice, device));
  const outside = whole - resident.reduce((x, y) => x + y, 0);
  return outside + largest * (device === 'cpu' ? CPU_STREAM_GROUP_FACTOR : 1);
}

function evaluate(ctx: Context, cand: Candidate): MemoryPlan {
  const { models, opts, work, networks, groupOf } = ctx;
  const device = opts.device;
  const actBytes = activationElementBytes(device);
  const arena = opts.cpuMemArena ?? true;
  const actFactor = (net: string) => (device === 'cpu' ? CPU_ACTIVATION_FACTORS[arena ? 'arena' : 'noArena'][net] ?? 1 : 1);
  const choiceOf = (net: string) => cand.choices.get(groupOf.get(net)!.id)!;
  const weightOf = (net: string) => residentWeightBytes(networks.get(net)!, choiceOf(net), device, networks.get(net)!.weights(choiceOf(net), device));
  const phases = models.phases.filter((p) => p.name !== 'encode-references' || opts.request.references > 0);
  const allWeights = phases.flatMap((p) => p.networks).filter((n, i, a) => a.indexOf(n) === i).reduce((s, n) => s + weightOf(n), 0);
  // All resident: a session's allocator (the CPU arena; a GPU EP's device arena) keeps its activation
  // peak until the session is released, so the networks of earlier phases still hold theirs.
  const retains = cand.residency === 'all-resident' && (device !== 'cpu' || arena);
  let retained = 0;

  const planned: PlannedPhase[] = phases.map((p) => {
    let resident = cand.residency === 'all-resident' ? allWeights : p.networks.reduce((s, n) => s + weightOf(n), 0);
    if (cand.residency === 'dit-streamed' && p.streamable) {
      resident = resident - weightOf(p.streamable) + streamedWeightBytes(networks.get(p.streamable)!, choiceOf(p.streamable), device, cand.streamGroups);
    }
    const isDenoise = p.streamable !== undefined;
    const activationFor = (attention: AttentionShape) => {
      let best = { bytes: 0, at: 'nothing' };
      for (const n of p.networks) {
        const e = networks.get(n)!.activations(work.byNetwork[n], attention);
        const cal = opts.calibration?.[n];
        const mult = isDenoise ? work.denoiseMultiplier : 1;
        const bytes = e.elements * mult * actBytes * actFactor(n) * (cal?.scale ?? 1) + (cal?.offsetBytes ?? 0);
        if (bytes > best.bytes) best = { bytes, at: `${n}: ${e.worst}` };
      }
      if (isDenoise) best.bytes += work.carriedElements * activationElementBytes(device);
      return best;
    };
    let attention: AttentionShape = { kind: ctx.attentionKind };
    let act = activationFor(attention);
    // Only the denoisers' graphs split attention into query chunks (attentionQueryChunks); the
    // encoders' and the VAE's unfused attention is priced whole, as it runs.
    if (ctx.attentionKind === 'unfused' && isDenoise) {
      for (const chunks of QUERY_CHUNKS) {
        attention = { kind: 'unfused', queryChunks: chunks };
        act = activationFor(attention);
        if (ctx.baseline + resident + retained + act.bytes <= ctx.limit) break;
      }
    }
    const components: PlannedComponent[] = p.networks.map((n) => {
      const c = choiceOf(n);
      const wb = networks.get(n)!.weights(c, device);
      return { id: n, precision: c.precision, quantizeModulation: c.quantizeModulation === true, weightBytes: wb.total, parameters: wb.parameters };
    });
    const held = retained;
    if (retains) retained += act.bytes;
    return {
      name: p.name, components, residentWeightBytes: resident, activationBytes: act.bytes + held,
      activationPeakAt: held > 0 ? `${act.at} (+ ${fmtGiB(held)} kept by the sessions of earlier phases)` : act.at, attention,
      peakBytes: ctx.baseline + resident + held + act.bytes,
    };
  });
  const peakBytes = Math.max(...planned.map((p) => p.peakBytes));
  const req = opts.request;
  return {
    backbone: models.backbone, device, budgetBytes: opts.budgetBytes, reserveBytes: opts.budgetBytes - ctx.limit,
    fits: peakBytes <= ctx.limit, peakBytes, residency: cand.residency,
    ...(cand.residency === 'dit-streamed' ? { streamGroups: cand.streamGroups } : {}),
    phases: planned, gaveUp: [], notes: [],
    request: { width: req.width, height: req.height, references: req.references, referenceSize: work.referenceSize, batch: req.batch ?? 1, cfgPasses: work.cfgPasses },
  };
}

// ---------------------------------------------------------------------------------------------
// Search

/** 144.2 MiB, 14.8 GiB: MiB below 1 GiB, so small budgets never read as "needs 0.1 GiB, leaves 0.1 GiB". */
function fmtGiB(bytes: number): string {
  if (bytes < GiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  return `${(bytes / GiB).toFixed(1)} GiB`;
}

function describeGiveUps(ctx: Context, plan: MemoryPlan, cand: Candidate, ladders: Map<string, LadderStep[]>): string[] {
  const out: string[] = [];
  for (const g of ctx.models.groups) {
    const chosen = cand.choices.get(g.id)!;
    const top = ladders.get(g.id)![0].choice;
    if (chosen.precision !== top.precision || chosen.quantizeModulation !== top.quantizeModulation) {
      const mod = g.networks.some((n) => n.hasModulation) && quantized(chosen)
        ? (chosen.quantizeModulation ? ', modulation in int8 too' : ', modulation kept float') : '';
      out.push(`${g.label} in ${chosen.precision}${mod} (instead of ${top.precision})`);
    }
  }
  const textPhase = ctx.models.backbone === 'uno' ? 'T5 and CLIP' : 'the MLLM';
  if (cand.residency !== 'all-resident') {
    out.push(`one phase at a time: ${textPhase} released before the ${ctx.models.backbone === 'uno' ? 'DiT' : 'transformer'} loads, the VAE loaded only to encode references and to decode`);
  }
  if (cand.residency === 'dit-streamed') {
    const denoise = ctx.models.phases.find((p) => p.streamable)!;
    const net = ctx.networks.get(denoise.streamable!)!;
    const total = net.blockBytes!(cand.choices.get(ctx.groupOf.get(net.id)!.id)!, ctx.opts.device).reduce((a, b) => a + b, 0);
    out.push(`${ctx.models.backbone === 'uno' ? 'DiT' : 'transformer'} streamed in ${cand.streamGroups} groups of blocks (sessions per group, run in sequence every step: ${fmtGiB(total)} loaded per forward pass)`);
  }
  for (const p of plan.phases) {
    if (p.attention.kind === 'unfused' && (p.attention.queryChunks ?? 1) > 1) {
      out.push(`${p.name}: attention scores in ${p.attention.queryChunks} query chunks (slower than one unfused attention)`);
    }
  }
  return out;
}

function quantized(c: PrecisionChoice): boolean {
  return c.precision === 'int8' || c.precision === 'int4';
}

function planNotes(ctx: Context, plan: MemoryPlan): string[] {
  const { opts } = ctx;
  const notes = [...ctx.models.notes];
  if (opts.device === 'cpu') {
    notes.push('CPU EP: bf16/fp16 weights are cast to fp32 when a session is created (fp32-sized RAM); only int8/int4 (MatMulNBits) save memory');
    notes.push((opts.cpuMemArena ?? true)
      ? `sessions with the ORT CPU memory arena on (the engine default); VAE activations × 2.2 (encoder) / × 1.4 (decoder) as measured${plan.residency === 'all-resident' ? '; each resident session keeps its activation peak' : ''}`
      : 'sessions with enableCpuMemArena: false; VAE activations × 3.55 as measured (freed memory stays in the process)');
    notes.push(`bf16/fp16 weights cost ${CPU_CAST_WEIGHT_FACTOR}× their fp32 bytes while a session lives (fp32 cast + the mapped 16-bit pages + optimizer copies, measured), the float parts of int8/int4 networks too; MatMulNBits weights their own size`);
  } else {
    notes.push('GPU: fp16 plans store the Linear weights in fp16 (fp16 MatMuls); activations, norms, biases and convolutions stay fp32, as the graphs compute in fp32 on every EP');
    if (plan.residency === 'all-resident') notes.push('all resident: each session keeps its activation peak on the device until released (counted in every later phase)');
    notes.push('GPU budget is device memory; streamed blocks are read from host RAM / the page cache every step');
  }
  if (plan.residency === 'dit-streamed') {
    notes.push(opts.device === 'cpu'
      ? `streaming on CPU re-reads (and casts or prepacks) every block group each step (the largest group priced × ${CPU_STREAM_GROUP_FACTOR} for the heap the previous group leaves): with less free RAM than the weights, that is disk reads every step; --max-stream-groups 0 prefers lower precision instead`
      : 'streaming uploads every block group each step (host RAM to device); --max-stream-groups 0 prefers lower precision instead');
  }
  notes.push(`attention ${ctx.attentionKind}${ctx.attentionKind === 'fused' ? ' (com.microsoft.MultiHeadAttention, no S×S scores)' : ' (S×S scores per head; the form that is correct on WebGPU today)'}`);
  notes.push(`baseline ${fmtGiB(ctx.baseline)} for the process / EP context; reserve ${fmtGiB(plan.reserveBytes)} of the budget left unplanned`);
  if (ctx.models.backbone === 'omnigen2') {
    notes.push(`${ctx.work.cfgPasses} transformer passes per step, run one after the other (the longest, prompt + references + noise, sets the peak)`);
    if (opts.request.references === 1) notes.push('OmniGen2 with exactly one reference generates at the reference size (align_res); the plan uses the requested size');
  }
  notes.push('activation estimates are structural (live tensors at the worst moment of each network); calibrate with measured peaks via `calibration`');
  return notes;
}

/** Choose a plan for a budget: highest precision that fits, then the least streaming. */
export function planMemory(models: PlanModels, opts: PlanOptions): MemoryPlan {
  validateRequest(opts.request);
  if (!(opts.budgetBytes > 0)) throw new Error(`plan: the budget must be a positive number of bytes (got ${opts.budgetBytes})`);
  const networks = new Map<string, NetworkMemoryModel>();
  const groupOf = new Map<string, ComponentGroup>();
  for (const g of models.groups) for (const n of g.networks) { networks.set(n.id, n); groupOf.set(n.id, g); }
  const reserve = opts.reserveBytes ?? opts.budgetBytes * DEFAULT_RESERVE_FRACTION;
  const ctx: Context = {
    models, opts, networks, groupOf, work: workloads(models.backbone, opts.request),
    limit: opts.budgetBytes - reserve, baseline: BASELINE_BYTES[opts.device],
    attentionKind: opts.attention ?? (opts.device === 'cpu' ? 'fused' : 'unfused'),
  };
  const ladders = new Map<string, LadderStep[]>();
  for (const g of models.groups) {
    const pinned = opts.precisions?.[g.id];
    const full = ladder(g, opts.device);
    ladders.set(g.id, pinned ? [{ choice: pinned, cost: 0 }] : full);
  }
  for (const id of Object.keys(opts.precisions ?? {})) {
    if (!models.groups.some((g) => g.id === id)) {
      throw new Error(`plan: no component "${id}" in ${models.backbone} (components: ${models.groups.map((g) => g.id).join(', ')})`);
    }
  }
  const combos = combinations(models.groups.map((g) => ladders.get(g.id)!))
    .map((steps) => {
      const choices = new Map(models.groups.map((g, i) => [g.id, steps[i].choice]));
      const cost = steps.reduce((s, st, i) => s + st.cost * models.groups[i].qualityWeight, 0);
      const bytes = models.groups.reduce((s, g) => s + g.networks.reduce((t, n) => t + n.weights(choices.get(g.id)!, opts.device).total, 0), 0);
      return { choices, cost, bytes };
    })
    .sort((a, b) => a.cost - b.cost || b.bytes - a.bytes);
  const maxGroups = Math.max(1, opts.maxStreamGroups ?? DEFAULT_MAX_STREAM_GROUPS);
  const residencies: Array<{ residency: Residency; streamGroups: number }> = [
    { residency: 'all-resident', streamGroups: 1 },
    { residency: 'one-phase-at-a-time', streamGroups: 1 },
  ];
  for (let g = 2; g <= maxGroups; g++) residencies.push({ residency: 'dit-streamed', streamGroups: g });
  if (opts.residency) {
    const pinned = residencies.filter((r) => r.residency === opts.residency && (opts.streamGroups === undefined || r.streamGroups === opts.streamGroups));
    if (opts.residency === 'dit-streamed' && opts.streamGroups !== undefined && !pinned.length) pinned.push({ residency: 'dit-streamed', streamGroups: opts.streamGroups });
    residencies.splice(0, residencies.length, ...pinned);
  }

  let smallest: { plan: MemoryPlan; cand: Candidate } | null = null;
  for (const combo of combos) {
    for (const r of residencies) {
      const cand: Candidate = { choices: combo.choices, ...r };
      const plan = evaluate(ctx, cand);
      if (plan.fits) {
        plan.gaveUp = describeGiveUps(ctx, plan, cand, ladders);
        plan.notes = planNotes(ctx, plan);
        return plan;
      }
      if (!smallest || plan.peakBytes < smallest.plan.peakBytes) smallest = { plan, cand };
    }
  }
  const { plan, cand } = smallest!;
  plan.gaveUp = describeGiveUps(ctx, plan, cand, ladders);
  plan.notes = planNotes(ctx, plan);
  const worst = plan.phases.reduce((a, b) => (b.peakBytes > a.peakBytes ? b : a));
  plan.reason = `does not fit: even the smallest plan needs ${fmtGiB(plan.peakBytes)} (${worst.name}: ${fmtGiB(worst.residentWeightBytes)} weights + ${fmtGiB(worst.activationBytes)} activations), `
    + `but ${fmtGiB(opts.budgetBytes)} minus a ${fmtGiB(reserve)} reserve leaves ${fmtGiB(ctx.limit)}; lower the resolution or the number of references, or raise the budget`;
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Printing

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function precisionSummary(plan: MemoryPlan): string {
  const seen = new Map<string, string>();
  for (const p of plan.phases) {
    for (const c of p.components) {
      const id = c.id === 'vae-encoder' || c.id === 'vae-decoder' ? 'vae' : c.id;
      seen.set(id, choiceLabel({ precision: c.precision, quantizeModulation: c.quantizeModulation }));
    }
  }
  return [...seen.entries()].map(([k, v]) => `${k} ${v}`).join(', ');
}

export function residencySummary(plan: MemoryPlan): string {
  if (plan.residency === 'dit-streamed') return `streamed in ${plan.streamGroups} groups`;
  return plan.residency === 'all-resident' ? 'all resident' : 'one phase at a time';
}

/** A human-readable plan (the CLI's default output). */
export function formatPlan(plan: MemoryPlan): string {
  const r = plan.request;
  const lines: string[] = [];
  lines.push(`${plan.backbone} on ${plan.device}, ${r.width}×${r.height}, ${r.references} reference(s) of ${r.referenceSize}px, batch ${r.batch}: `
    + `budget ${fmtGiB(plan.budgetBytes)} (${fmtGiB(plan.reserveBytes)} reserve)`);
  lines.push(`${plan.fits ? 'fits' : 'DOES NOT FIT'}: peak ${fmtGiB(plan.peakBytes)}; ${residencySummary(plan)}; ${precisionSummary(plan)}`);
  if (plan.reason) lines.push(plan.reason);
  lines.push('');
  lines.push(`${pad('phase', 18)}${pad('weights', 11)}${pad('activations', 13)}${pad('peak', 11)}components`);
  for (const p of plan.phases) {
    const comps = p.components.map((c) => `${c.id} ${choiceLabel({ precision: c.precision, quantizeModulation: c.quantizeModulation })} ${fmtGiB(c.weightBytes)}`).join('; ');
    const attn = p.attention.kind === 'unfused' && (p.attention.queryChunks ?? 1) > 1 ? ` [attention in ${p.attention.queryChunks} chunks]` : '';
    lines.push(`${pad(p.name, 18)}${pad(fmtGiB(p.residentWeightBytes), 11)}${pad(fmtGiB(p.activationBytes), 13)}${pad(fmtGiB(p.peakBytes), 11)}${comps}${attn}`);
    lines.push(`${' '.repeat(18)}activation peak at ${p.activationPeakAt}`);
  }
  if (plan.gaveUp.length) {
    lines.push('', 'gave up:');
    for (const g of plan.gaveUp) lines.push(`  - ${g}`);
  }
  if (plan.notes.length) {
    lines.push('', 'notes:');
    for (const n of plan.notes) lines.push(`  - ${n}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One Markdown table of plans (backbone × budget × size → residency, precisions, peak). */
export function formatPlanTable(plans: readonly MemoryPlan[]): string {
  const head = '| backbone | device | budget | size | refs | fits | peak | residency | precisions | gave up |\n|---|---|---|---|---|---|---|---|---|---|';
  const rows = plans.map((p) => `| ${p.backbone} | ${p.device} | ${(p.budgetBytes / GiB).toFixed(0)} GiB | ${p.request.width}² | ${p.request.references} `
    + `| ${p.fits ? 'yes' : '**no**'} | ${fmtGiB(p.peakBytes)} | ${residencySummary(p)} | ${precisionSummary(p)} `
    + `| ${p.gaveUp.filter((g) => !g.startsWith('one phase') && !/ streamed in /.test(g)).map((g) => g.replace(/ \(.*\)$/, '')).join('; ') || '—'} |`);
  return `${head}\n${rows.join('\n')}\n`;
}

/** Parse a byte size such as `16GiB`, `12 GB`, `8000MiB`, `1.5e10`. */
export function parseByteSize(s: string): number {
  const m = /^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmgt]i?b?|b)?\s*$/i.exec(s);
  if (!m) throw new Error(`"${s}" is not a size (examples: 16GiB, 12GB, 8000MiB)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 'b').toLowerCase();
  const powers: Record<string, number> = { k: 1, m: 2, g: 3, t: 4 };
  if (unit === 'b') return n;
  const p = powers[unit[0]];
  const base = unit.includes('i') ? 1024 : 1000;
  return n * base ** p;
}
