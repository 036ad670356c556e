// PEFT-format LoRAs for the OmniGen2 transformer (UMO's `UMO_OmniGen2.safetensors`,
// spec/pipelines.md §1.4 and §5.1): validation of every key against the base checkpoint's
// diffusers names, and the merge `W + (α/r)·scale·B·A` baked into the bake cache.
//
// Keys are `<module>.lora_A.<adapter>.weight` [r, in] and `<module>.lora_B.<adapter>.weight`
// [out, r] (adapter `default` as PEFT injects it), also without the adapter segment and with the
// ComfyUI `diffusion_model.` (or diffusers `transformer.`) prefix. The targets are
// `attn.to_q/to_k/to_v/to_out.0` of every attention block of the base. The reference loads the
// file with `load_state_dict(strict=False)` into a freshly added adapter and ignores anything
// that does not match; here every mismatch is an error naming the file and the key.
import {
  Checkpoint, type DType, OverlayWeights, type Weights,
} from '../runtime/safetensors.js';
import type { TensorSpec } from '../runtime/safetensors-stream-writer.js';
import {
  type BakeCache, type BakeEntry, type BakeOutput, type BakePrecision,
  bakeKey, dtypeOfPrecision, overlayBake, weightsFileIdentities, writeBake,
} from '../runtime/bake-cache.js';
import { LORA_DTYPES, formatLoraProblems } from './uno-lora.js';
import { LoraMergeSession } from './merge.js';

/** The attention projections a UMO OmniGen2 LoRA adapts (PEFT `target_modules`). */
export const OMNIGEN2_LORA_PROJECTIONS = ['to_q', 'to_k', 'to_v', 'to_out.0'] as const;

/** Key prefixes accepted in front of the module path. */
export const PEFT_KEY_PREFIXES = ['', 'diffusion_model.', 'transformer.'] as const;

/** How a file spells its keys (all keys of one file must agree). */
export interface PeftKeyFormat {
  /** '' (PEFT as injected), 'diffusion_model.' (ComfyUI) or 'transformer.' (diffusers). */
  readonly prefix: string;
  /** Adapter segment between `lora_A` and `weight` (`default`), or null when absent. */
  readonly adapter: string | null;
}

export interface PeftLoraTarget {
  /** Module path in the base, e.g. `layers.3.attn.to_out.0`. */
  readonly module: string;
  /** Key of the base weight the pair is merged into (`<module>.weight`). */
  readonly baseKey: string;
  /** Base weight shape [out, in]. */
  readonly baseShape: readonly [number, number];
  readonly aKey: string;
  readonly bKey: string;
  readonly aDtype: DType;
  readonly bDtype: DType;
}

export interface PeftLora {
  /** The LoRA file as given (for messages). */
  readonly file: string;
  readonly rank: number;
  readonly format: PeftKeyFormat;
  /** Distinct dtypes of the factors. */
  readonly dtypes: readonly DType[];
  /** One per base target, in base key order. */
  readonly targets: readonly PeftLoraTarget[];
}

export class PeftLoraFormatError extends Error {
  constructor(readonly file: string, readonly problems: readonly string[]) {
    super(formatLoraProblems(file, 'PEFT LoRA for this OmniGen2 transformer', problems));
    this.name = 'PeftLoraFormatError';
  }
}

export interface PeftLoraBaseTarget {
  readonly module: string;
  readonly baseKey: string;
  readonly baseShape: readonly [number, number];
}

const TARGET_KEY = /^(.+\.attn\.(?:to_q|to_k|to_v|to_out\.0))\.weight$/;

/**
 * Every LoRA target of an OmniGen2 transformer with diffusers keys: the
 * `*.attn.{to_q,to_k,to_v,to_out.0}.weight` matrices of all blocks (refiners and main layers),
 * sorted by key. Each block must have all four.
 */
export function omnigen2LoraTargets(base: Weights): PeftLoraBaseTarget[] {
  const out: PeftLoraBaseTarget[] = [];
  const blocks = new Set<string>();
  for (const key of [...base.keys()].sort()) {
    const m = TARGET_KEY.exec(key);
    if (!m) continue;
    const shape = base.shape(key);
    if (shape.length !== 2) throw new Error(`${base.path}: "${key}" has shape [${shape.join(', ')}], expected a 2-D linear weight`);
    out.push({ module: m[1], baseKey: key, baseShape: [shape[0], shape[1]] });
    blocks.add(m[1].slice(0, m[1].lastIndexOf('.attn.')));
  }
  if (out.length === 0) {
    throw new Error(`${base.path}: not an OmniGen2 transformer with diffusers key names (no "*.attn.to_q.weight"); the PEFT LoRA applies to that layout`);
  }
  for (const b of blocks) {
    for (const p of OMNIGEN2_LORA_PROJECTIONS) {
      if (!base.has(`${b}.attn.${p}.weight`)) throw new Error(`${base.path}: block "${b}" has no "${b}.attn.${p}.weight"`);
    }
  }
  return out;
}

interface ParsedKey {
  prefix: string;
  module: string;
  factor: 'A' | 'B';
  adapter: string | null;
}

const PEFT_KEY = /^(.+)\.lora_([AB])(?:\.([A-Za-z0-9_-]+))?\.weight$/;

function parseKey(key: string): ParsedKey | null {
  const m = PEFT_KEY.exec(key);
  if (!m) return null;
  let path = m[1];
  let prefix = '';
  for (const p of PEFT_KEY_PREFIXES) {
    if (p && path.startsWith(p)) {
      prefix = p;
      path = path.slice(p.length);
      break;
    }
  }
  return { prefix, module: path, factor: m[2] as 'A' | 'B', adapter: m[3] ?? null };
}

function keyFor(format: PeftKeyFormat, module: string, factor: 'A' | 'B'): string {
  return `${format.prefix}${module}.lora_${factor}${format.adapter === null ? '' : `.${format.adapter}`}.weight`;
}

function shapeText(s: readonly (number | string)[]): string {
  return `[${s.join(', ')}]`;
}

function formatText(f: PeftKeyFormat): string {
  return `prefix ${JSON.stringify(f.prefix)}, ${f.adapter === null ? 'no adapter name' : `adapter "${f.adapter}"`}`;
}

/** Why a key that is not a PEFT LoRA factor is there, as precisely as can be told. */
function foreignKeyProblem(key: string): string {
  if (/\.alpha$/.test(key)) return `unexpected key "${key}": per-module alpha tensors are not part of the PEFT format; pass alpha to the loader instead`;
  if (/lora_magnitude_vector|lora_embedding_/.test(key)) return `unexpected key "${key}": DoRA / embedding LoRA factors are not supported`;
  if (/\.lora_(down|up)\.weight$/.test(key) || key.startsWith('lora_unet_')) return `unexpected key "${key}": kohya-style names (lora_down/lora_up); expected PEFT names (lora_A/lora_B)`;
  if (/\.processor\.[a-z_]*lora\d*\.(down|up)\.weight$/.test(key)) return `unexpected key "${key}": a UNO processor LoRA key; this is the OmniGen2 (PEFT) loader`;
  return `unexpected key "${key}": not a PEFT LoRA factor (<module>.lora_A.default.weight / <module>.lora_B.default.weight)`;
}

/**
 * Validate a PEFT LoRA against the OmniGen2 base: one key format throughout, an A/B pair for
 * every target of the base and nothing else, float dtypes, one rank, A [r, in] and B [out, r]
 * matching the base weight [out, in]. Throws PeftLoraFormatError listing every problem.
 */
export function readPeftLora(w: Weights, base: Weights): PeftLora {
  const expected = omnigen2LoraTargets(base);
  const file = w.path;
  const problems: string[] = [];
  const keys = [...w.keys()].sort();
  if (keys.length === 0) throw new PeftLoraFormatError(file, ['the file holds no tensors']);

  // Key format: every factor key must use the same prefix and adapter segment.
  const parsed = new Map<string, ParsedKey>();
  const formats = new Map<string, { format: PeftKeyFormat; count: number; example: string }>();
  for (const k of keys) {
    const p = parseKey(k);
    if (!p) {
      problems.push(foreignKeyProblem(k));
      continue;
    }
    parsed.set(k, p);
    const id = `${p.prefix}|${p.adapter ?? ''}`;
    const e = formats.get(id);
    if (e) e.count++;
    else formats.set(id, { format: { prefix: p.prefix, adapter: p.adapter }, count: 1, example: k });
  }
  if (formats.size === 0) throw new PeftLoraFormatError(file, problems.slice(0, 1).concat(`none of its ${keys.length} keys is a PEFT LoRA factor`));
  const ranked = [...formats.values()].sort((a, b) => b.count - a.count);
  const format = ranked[0].format;
  for (const other of ranked.slice(1)) {
    problems.push(`keys mix formats: ${other.count} key(s) like "${other.example}" (${formatText(other.format)}) vs ${ranked[0].count} like "${ranked[0].example}" (${formatText(format)})`);
  }

  // Modules present in the file that the base has no target for.
  const targetModules = new Set(expected.map((e) => e.module));
  for (const [k, p] of parsed) {
    if (p.prefix !== format.prefix || p.adapter !== format.adapter) continue; // reported above
    if (!targetModules.has(p.module)) {
      const block = /^(.*?)\.(\d+)\./.exec(p.module);
      const inBase = base.has(`${p.module}.weight`);
      const prefixed = expected.find((e) => p.module.endsWith(`.${e.module}`));
      const why = prefixed
        ? `unknown key prefix "${p.module.slice(0, p.module.length - prefixed.module.length)}" before "${prefixed.module}" (accepted: none, ${PEFT_KEY_PREFIXES.filter(Boolean).map((x) => `"${x}"`).join(', ')})`
        : inBase
        ? `"${p.module}" is not one of the adapted projections (${OMNIGEN2_LORA_PROJECTIONS.map((x) => `attn.${x}`).join(', ')})`
        : block && !expected.some((e) => e.module.startsWith(`${block[1]}.${block[2]}.`))
          ? `block "${block[1]}.${block[2]}" does not exist in the base`
          : `the base has no module "${p.module}"`;
      problems.push(`unexpected key "${k}": ${why}`);
    }
  }

  // Rank from the first A present; every pair must agree.
  let rank = -1;
  for (const e of expected) {
    const k = keyFor(format, e.module, 'A');
    if (w.has(k) && w.shape(k).length === 2) { rank = w.shape(k)[0]; break; }
  }
  if (rank === 0) problems.push('rank 0 (lora_A weights have no rows)');
  if (rank < 0 && !expected.some((e) => w.has(keyFor(format, e.module, 'B')))) {
    problems.push(`none of the ${2 * expected.length} expected factor keys is present (e.g. "${keyFor(format, expected[0].module, 'A')}")`);
    throw new PeftLoraFormatError(file, problems);
  }

  const targets: PeftLoraTarget[] = [];
  const dtypes = new Set<DType>();
  const r: number | string = rank > 0 ? rank : 'r';
  for (const e of expected) {
    const [out, inF] = e.baseShape;
    const aKey = keyFor(format, e.module, 'A');
    const bKey = keyFor(format, e.module, 'B');
    let ok = true;
    for (const [key, want, which] of [[aKey, [r, inF], 'A'], [bKey, [out, r], 'B']] as const) {
      if (!w.has(key)) {
        problems.push(`missing key "${key}" (expected shape ${shapeText(want)} for base "${e.baseKey}" ${shapeText(e.baseShape)})`);
        ok = false;
        continue;
      }
      const info = w.info(key);
      if (!LORA_DTYPES.includes(info.dtype)) {
        problems.push(`"${key}" has dtype ${info.dtype}; LoRA factors must be ${LORA_DTYPES.join(', ')}`);
        ok = false;
      }
      dtypes.add(info.dtype);
      const s = info.shape;
      if (s.length === 2 && s[0] === want[0] && s[1] === want[1]) continue;
      ok = false;
      const keyRank = which === 'A' ? s[0] : s[1];
      const widthOk = s.length === 2 && (which === 'A' ? s[1] === inF : s[0] === out);
      problems.push(widthOk && rank > 0 && keyRank !== rank
        ? `"${key}" has rank ${keyRank} (shape ${shapeText(s)}), but the other pairs have rank ${rank}`
        : `"${key}" has shape ${shapeText(s)}, expected ${shapeText(want)} (base "${e.baseKey}" is ${shapeText(e.baseShape)})`);
    }
    if (ok) {
      targets.push({
        module: e.module, baseKey: e.baseKey, baseShape: e.baseShape, aKey, bKey,
        aDtype: w.info(aKey).dtype, bDtype: w.info(bKey).dtype,
      });
    }
  }
  if (problems.length) throw new PeftLoraFormatError(file, problems);
  return { file, rank, format, dtypes: [...dtypes], targets };
}

/** How strongly a PEFT LoRA is merged: `W + (alpha/rank)·scale·B·A`. */
export interface PeftLoraStrength {
  /** LoRA alpha; the rank when omitted (UMO: r = alpha = 512, the file stores no alpha). */
  readonly alpha?: number;
  /** Extra multiplier (diffusers' `fuse_lora(lora_scale)`), default 1. */
  readonly scale?: number;
}

/** The multiplier of B·A: (alpha/rank)·scale, checked. */
export function peftLoraMultiplier(rank: number, strength: PeftLoraStrength = {}): number {
  const alpha = strength.alpha ?? rank;
  const scale = strength.scale ?? 1;
  if (!Number.isFinite(alpha) || alpha <= 0) throw new RangeError(`LoRA alpha must be a positive finite number (got ${alpha})`);
  if (!Number.isFinite(scale)) throw new RangeError(`LoRA scale must be a finite number (got ${scale})`);
  if (!Number.isSafeInteger(rank) || rank < 1) throw new RangeError(`LoRA rank must be a positive whole number (got ${rank})`);
  return (alpha / rank) * scale;
}

export interface MergedPeftTensor {
  readonly key: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** The float32 base tensor `t.baseKey` with `multiplier · B·A` added (never rounded in between). */
export async function mergePeftLoraTarget(session: LoraMergeSession, lora: PeftLora, loraWeights: Weights, base: Weights,
  t: PeftLoraTarget, multiplier: number): Promise<Float32Array> {
  const [out, inF] = t.baseShape;
  base.expectShape(t.baseKey, [out, inF]);
  const a = loraWeights.readFloat32(t.aKey);
  const b = loraWeights.readFloat32(t.bKey);
  for (const [key, v] of [[t.aKey, a], [t.bKey, b]] as const) {
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) throw new Error(`${loraWeights.path}: "${key}" holds a non-finite value (${v[i]}) at element ${i}`);
    }
  }
  const merged = await session.merge(base.readFloat32(t.baseKey), b, a, out, inF, lora.rank, multiplier);
  for (let i = 0; i < merged.length; i++) {
    if (!Number.isFinite(merged[i])) throw new Error(`merging ${lora.file} into "${t.baseKey}" produced a non-finite value at element ${i}`);
  }
  return merged;
}

/** The merged base tensors, one at a time, in `lora.targets` order (float32). */
export async function* mergePeftLora(lora: PeftLora, loraWeights: Weights, base: Weights, strength: PeftLoraStrength = {}): AsyncGenerator<MergedPeftTensor> {
  const s = peftLoraMultiplier(lora.rank, strength);
  const session = await LoraMergeSession.create();
  try {
    for (const t of lora.targets) {
      yield { key: t.baseKey, shape: t.baseShape, data: await mergePeftLoraTarget(session, lora, loraWeights, base, t, s) };
    }
  } finally {
    await session.release();
  }
}

/** Tensor specs of a bake of `lora` at `precision`. */
export function peftLoraBakeSpecs(lora: PeftLora, precision: BakePrecision): TensorSpec[] {
  const dtype = dtypeOfPrecision(precision);
  return lora.targets.map((t) => ({ name: t.baseKey, dtype, shape: t.baseShape }));
}

/** Bake key: base file identities, LoRA content hash, the effective multiplier inputs, precision. */
export async function peftLoraBakeKey(cache: BakeCache, base: Weights, loraFile: string, lora: PeftLora, strength: PeftLoraStrength, precision: BakePrecision): Promise<string> {
  peftLoraMultiplier(lora.rank, strength);
  dtypeOfPrecision(precision);
  return bakeKey({
    kind: 'peft-lora-merge',
    format: 1,
    base: weightsFileIdentities(base),
    lora: await cache.contentSha256(loraFile),
    alpha: strength.alpha ?? lora.rank,
    scale: strength.scale ?? 1,
    precision,
  });
}

/** Write the merged tensors into a bake output, one tensor at a time. */
export async function writePeftLoraBake(
  out: BakeOutput, lora: PeftLora, loraWeights: Weights, base: Weights, strength: PeftLoraStrength, precision: BakePrecision,
  onProgress?: (done: number, total: number, key: string) => void,
): Promise<void> {
  await writeBake(out, peftLoraBakeSpecs(lora, precision), {
    'umo.bake_kind': 'peft-lora-merge',
    'umo.lora_file': lora.file,
    'umo.lora_rank': String(lora.rank),
    'umo.lora_alpha': String(strength.alpha ?? lora.rank),
    'umo.lora_scale': String(strength.scale ?? 1),
    'umo.precision': precision,
  }, mergePeftLora(lora, loraWeights, base, strength), onProgress);
}

export interface PeftLoraBake {
  /** Base weights with the merged tensors overlaid (pass this to the transformer builder). */
  readonly weights: OverlayWeights;
  readonly lora: PeftLora;
  readonly entry: BakeEntry;
}

/**
 * Validate `loraFile` against the OmniGen2 transformer `base`, then return the merged weights
 * from the bake cache (merging and baking on a miss). Call `entry.release()` when done.
 */
export async function bakePeftLora(opts: {
  base: Weights;
  loraFile: string;
  /** Default: the rank (scale α/r = 1, as UMO). */
  alpha?: number;
  /** Default 1. */
  scale?: number;
  precision: BakePrecision;
  cache: BakeCache;
  onProgress?: (done: number, total: number, key: string) => void;
}): Promise<PeftLoraBake> {
  const strength: PeftLoraStrength = { alpha: opts.alpha, scale: opts.scale };
  const loraWeights = Checkpoint.open(opts.loraFile);
  const lora = readPeftLora(loraWeights, opts.base);
  const key = await peftLoraBakeKey(opts.cache, opts.base, opts.loraFile, lora, strength, opts.precision);
  const { weights, entry } = await overlayBake(opts.cache, key,
    (out) => writePeftLoraBake(out, lora, loraWeights, opts.base, strength, opts.precision, opts.onProgress),
    opts.base, lora.targets.map((t) => ({ key: t.baseKey, shape: t.baseShape })));
  return { weights, lora, entry };
}
