// Merging a UNO/UMO processor LoRA into the fused FLUX DiT weights, `W[rows] += s · up · down`,
// one tensor at a time (the products run as a small fp32 MatMul graph on ORT's CPU EP), and
// baking the merged tensors into the bake cache so the DiT builder reads them through an
// OverlayWeights.
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../runtime/graph.js';
import { createSession, type NetSession } from '../runtime/sessions.js';
import {
  Checkpoint, type DType, OverlayWeights, type Weights, f32ToBf16Bits, f32ToF16Bits, f16BitsToF32,
} from '../runtime/safetensors.js';
import type { TensorSpec } from '../runtime/safetensors-stream-writer.js';
import {
  type BakeCache, type BakeEntry, type BakeOutput, type BakePrecision,
  bakeKey, dtypeOfPrecision, overlayBake, weightsFileIdentities, writeBake,
} from '../runtime/bake-cache.js';
import { type UnoLora, type UnoLoraTarget, readUnoLora } from './uno-lora.js';

/**
 * How strongly the LoRA is applied.
 * - `scale`: `W + scale · up · down` (UNO/UMO inference: scale 1, no alpha/rank factor).
 * - `update_model_with_lora`: UNO's `update_model_with_lora(checkpoint, weight)`, which multiplies
 *   both `down` and `up` by `weight` in the file's dtype (rounded, see `scaleInDtype`), i.e. an
 *   effective weight².
 */
export type LoraScale =
  | { readonly mode: 'scale'; readonly scale: number }
  | { readonly mode: 'update_model_with_lora'; readonly weight: number };

export const UNO_DEFAULT_SCALE: LoraScale = { mode: 'scale', scale: 1 };

function checkScale(s: LoraScale): void {
  const v = s.mode === 'scale' ? s.scale : s.mode === 'update_model_with_lora' ? s.weight : NaN;
  if (!Number.isFinite(v)) throw new Error(`LoRA scale ${JSON.stringify(s)} is not valid (expected { mode: 'scale', scale } or { mode: 'update_model_with_lora', weight } with a finite number)`);
}

/**
 * `x · weight` as torch 1.13's CPU kernel computes a tensor of `dtype` times a Python float (the
 * golden reference): the scalar is first converted to `dtype`, the product is taken in float32,
 * then rounded to `dtype` (round-to-nearest-even). For BF16 and 0.7 the factor is 0.69921875.
 * In place.
 */
export function scaleInDtype(x: Float32Array, weight: number, dtype: DType): Float32Array {
  switch (dtype) {
    case 'F32': {
      const w = Math.fround(weight);
      for (let i = 0; i < x.length; i++) x[i] = x[i] * w;
      return x;
    }
    case 'BF16': {
      const w = bf16Value(weight);
      const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
      for (let i = 0; i < x.length; i++) {
        x[i] = x[i] * w; // stored as float32: the op-math product
        bits[i] = f32ToBf16Bits(x[i]) << 16;
      }
      return x;
    }
    case 'F16': {
      const w = f16BitsToF32(f32ToF16Bits(weight));
      for (let i = 0; i < x.length; i++) x[i] = f16BitsToF32(f32ToF16Bits(x[i] * w));
      return x;
    }
    default:
      throw new Error(`scaleInDtype: unsupported dtype ${dtype}`);
  }
}

function bf16Value(x: number): number {
  const u = new Uint32Array([f32ToBf16Bits(x) << 16]);
  return new Float32Array(u.buffer)[0];
}

/** The two factors (float32) and the scalar multiplier of their product for one target. */
export function loraFactors(w: Weights, t: UnoLoraTarget, scale: LoraScale): { down: Float32Array; up: Float32Array; s: number } {
  checkScale(scale);
  const down = w.readFloat32(t.downKey);
  const up = w.readFloat32(t.upKey);
  for (const [key, v] of [[t.downKey, down], [t.upKey, up]] as const) {
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) throw new Error(`${w.path}: "${key}" holds a non-finite value (${v[i]}) at element ${i}`);
    }
  }
  if (scale.mode === 'scale') return { down, up, s: scale.scale };
  return { down: scaleInDtype(down, scale.weight, t.downDtype), up: scaleInDtype(up, scale.weight, t.upDtype), s: 1 };
}

/** One fp32 graph, dynamic sizes: `merged = weight + s · (up @ down)`. */
function mergeGraph(): GraphBuilder {
  const b = new GraphBuilder('lora_merge');
  const weight = b.input('weight', 'float32', ['out', 'in']);
  const up = b.input('up', 'float32', ['out', 'rank']);
  const down = b.input('down', 'float32', ['rank', 'in']);
  const s = b.input('scale', 'float32', []);
  const delta = b.op('Mul', [b.op('MatMul', [up, down]), s]);
  b.output(b.op('Add', [weight, delta]), 'merged', 'float32', ['out', 'in']);
  return b;
}

/** An ORT CPU session computing `W + s · up · down`, reused for every tensor of a merge. */
export class LoraMergeSession {
  private constructor(private readonly session: NetSession) {}

  static async create(): Promise<LoraMergeSession> {
    // The arena would keep the largest tensor's peak until release; the merge streams anyway.
    return new LoraMergeSession(await createSession(mergeGraph().build(), { ep: 'cpu', enableCpuMemArena: false }));
  }

  /** `weight` [out, in] + s · up [out, rank] @ down [rank, in], in float32. */
  async merge(weight: Float32Array, up: Float32Array, down: Float32Array, out: number, inF: number, rank: number, s: number): Promise<Float32Array> {
    if (weight.length !== out * inF || up.length !== out * rank || down.length !== rank * inF) {
      throw new Error(`LoraMergeSession: sizes do not match [${out}, ${inF}] = [${out}, ${rank}] @ [${rank}, ${inF}]`);
    }
    const r = await this.session.run({
      weight: new ort.Tensor('float32', weight, [out, inF]),
      up: new ort.Tensor('float32', up, [out, rank]),
      down: new ort.Tensor('float32', down, [rank, inF]),
      scale: new ort.Tensor('float32', Float32Array.of(s), []),
    });
    return r.merged.data as Float32Array;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

export interface MergedTensor {
  readonly key: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/**
 * The float32 base tensor `t.baseKey` with `t` merged into its rows (full base shape). Never
 * rounded to a lower precision: quantized bakes quantize this directly.
 */
export async function mergeUnoLoraTarget(session: LoraMergeSession, lora: UnoLora, loraWeights: Weights, base: Weights,
  t: UnoLoraTarget, scale: LoraScale): Promise<Float32Array> {
  const [rows, inF] = t.baseShape;
  base.expectShape(t.baseKey, [rows, inF]);
  const { down, up, s } = loraFactors(loraWeights, t, scale);
  const full = base.readFloat32(t.baseKey);
  const part = full.subarray(t.rowStart * inF, t.rowEnd * inF);
  const merged = await session.merge(part, up, down, t.rowEnd - t.rowStart, inF, lora.rank, s);
  for (let i = 0; i < merged.length; i++) {
    if (!Number.isFinite(merged[i])) {
      throw new Error(`merging ${lora.file} into "${t.baseKey}" produced a non-finite value at element ${t.rowStart * inF + i}`);
    }
  }
  full.set(merged, t.rowStart * inF);
  return full;
}

/**
 * The merged base tensors, one at a time (float32, full base shape), in `lora.targets` order.
 * Only one base tensor and its product are alive at any moment.
 */
export async function* mergeUnoLora(lora: UnoLora, loraWeights: Weights, base: Weights, scale: LoraScale): AsyncGenerator<MergedTensor> {
  checkScale(scale);
  const session = await LoraMergeSession.create();
  try {
    for (const t of lora.targets) {
      yield { key: t.baseKey, shape: t.baseShape, data: await mergeUnoLoraTarget(session, lora, loraWeights, base, t, scale) };
    }
  } finally {
    await session.release();
  }
}

/** Tensor specs of a bake of `lora` at `precision` (header known before any product is computed). */
export function unoLoraBakeSpecs(lora: UnoLora, precision: BakePrecision): TensorSpec[] {
  const dtype = dtypeOfPrecision(precision);
  return lora.targets.map((t) => ({ name: t.baseKey, dtype, shape: t.baseShape }));
}

/** Inputs of a UNO LoRA bake key: base file identities, LoRA content hash, scale, precision. */
export async function unoLoraBakeKey(cache: BakeCache, base: Weights, loraFile: string, scale: LoraScale, precision: BakePrecision): Promise<string> {
  checkScale(scale);
  dtypeOfPrecision(precision);
  return bakeKey({
    kind: 'uno-lora-merge',
    format: 1,
    base: weightsFileIdentities(base),
    lora: await cache.contentSha256(loraFile),
    scale,
    precision,
  });
}

/** Write the merged tensors of `lora` into a bake output, streaming one tensor at a time. */
export async function writeUnoLoraBake(
  out: BakeOutput, lora: UnoLora, loraWeights: Weights, base: Weights, scale: LoraScale, precision: BakePrecision,
  onProgress?: (done: number, total: number, key: string) => void,
): Promise<void> {
  await writeBake(out, unoLoraBakeSpecs(lora, precision), {
    'umo.bake_kind': 'uno-lora-merge',
    'umo.lora_file': lora.file,
    'umo.lora_rank': String(lora.rank),
    'umo.lora_scale': JSON.stringify(scale),
    'umo.precision': precision,
  }, mergeUnoLora(lora, loraWeights, base, scale), onProgress);
}

export interface UnoLoraBake {
  /** Base weights with the merged tensors overlaid (pass this to the DiT builder). */
  readonly weights: OverlayWeights;
  readonly lora: UnoLora;
  readonly entry: BakeEntry;
}

/**
 * Validate `loraFile` against `base`, then return the merged weights from the bake cache
 * (merging and baking them on a miss). Call `entry.release()` when the weights are no longer used.
 */
export async function bakeUnoLora(opts: {
  base: Weights;
  loraFile: string;
  scale?: LoraScale;
  precision: BakePrecision;
  cache: BakeCache;
  onProgress?: (done: number, total: number, key: string) => void;
}): Promise<UnoLoraBake> {
  const scale = opts.scale ?? UNO_DEFAULT_SCALE;
  const loraWeights = Checkpoint.open(opts.loraFile);
  const lora = readUnoLora(loraWeights, opts.base);
  const key = await unoLoraBakeKey(opts.cache, opts.base, opts.loraFile, scale, opts.precision);
  const { weights, entry } = await overlayBake(opts.cache, key,
    (out) => writeUnoLoraBake(out, lora, loraWeights, opts.base, scale, opts.precision, opts.onProgress),
    opts.base, lora.targets.map((t) => ({ key: t.baseKey, shape: t.baseShape })));
  return { weights, lora, entry };
}
