// Quantized bakes: the Linear weights of a network rewritten as MatMulNBits tensors (int8 / int4),
// with an optional LoRA merged in float32 first and quantized directly (never rounded to bf16 in
// between), written tensor by tensor into the bake cache and overlaid on the base checkpoint, so
// every other tensor is still read (memory-mapped) from the original file.
//
// Which tensors are quantized follows the memory planner exactly (weight-bytes.ts `tensorBytes`):
// role 'matmul' at the component precision (int8 / int4), role 'modulation' at int8 when
// `quantizeModulation`, every other role stays float; the block size per layer is
// `chooseBlockSize(K, bits)`. A bake for `fp16` on a GPU holds nothing to quantize: it only marks
// the weights so `nn.linear` runs fp16 MatMuls (CPU EPs keep float32, see nn.ts).
//
// File layout (one safetensors file): per quantized `<module>.weight`
//   `<module>.weight.qweight` U8 [N, kBlocks, blockSize·bits/8]
//   `<module>.weight.scales` F32 [N·kBlocks]
//   `<module>.weight.zero_points` U8 [N·ceil(kBlocks/2)] (int4 only)
// and, for LoRA targets left in float, `<module>.weight` F32 (merged). The header metadata
// `umo.quant.layers` maps each quantized weight key to [bits, blockSize].
import crypto from 'node:crypto';
import { Checkpoint, OverlayWeights, SafetensorsError, type TensorInfo, type Weights } from './safetensors.js';
import type { TensorSpec } from './safetensors-stream-writer.js';
import {
  type BakeCache, type BakeEntry, type BakeOutput, bakeKey, weightsFileIdentities,
} from './bake-cache.js';
import {
  type DeviceKind, type PrecisionChoice, type TensorRole, chooseBlockSize, matMulNBitsBytes, quantBits,
} from './weight-bytes.js';
import {
  type LinearStorage, type QuantBits, type QuantizedLinearInfo, quantizeLinear, quantizedTensorKeys, quantizedTensorShapes,
} from './matmul-nbits.js';
import { LoraMergeSession, type LoraScale, UNO_DEFAULT_SCALE, mergeUnoLoraTarget } from '../lora/merge.js';
import { readUnoLora } from '../lora/uno-lora.js';
import { mergePeftLoraTarget, peftLoraMultiplier, readPeftLora } from '../lora/peft-lora.js';

export const QUANT_LAYERS_METADATA = 'umo.quant.layers';
const BAKE_KIND = 'matmul-nbits';
/** Bumped whenever the file layout, the quantizer or the block policy changes (invalidates bakes). */
const FORMAT = 1;

/** A LoRA to merge before quantizing. */
export type QuantLoraSource =
  | { readonly format: 'uno'; readonly file: string; readonly scale?: LoraScale }
  | { readonly format: 'peft'; readonly file: string; readonly alpha?: number; readonly scale?: number };

export type RoleOf = (key: string, t: TensorInfo) => TensorRole;

/** What happens to one base tensor in the bake. */
export interface QuantizedLayerPlan {
  readonly key: string;
  readonly shape: readonly [number, number];
  /** null: written as merged float32 (a LoRA target that stays float). */
  readonly bits: QuantBits | null;
  readonly blockSize: number;
  readonly loraMerged: boolean;
}

/** The tensors a bake rewrites, in base key order (from shapes and roles only). */
export function quantizedBakePlan(base: Weights, roleOf: RoleOf, choice: PrecisionChoice, loraTargets: ReadonlySet<string>): QuantizedLayerPlan[] {
  const bits = quantBits(choice.precision);
  const out: QuantizedLayerPlan[] = [];
  for (const key of [...base.keys()].sort()) {
    const info = base.info(key);
    const role = roleOf(key, info);
    const lora = loraTargets.has(key);
    let b: QuantBits | null = null;
    if (info.shape.length === 2) {
      if (role === 'matmul' && bits !== null) b = bits;
      else if (role === 'modulation' && choice.quantizeModulation) b = 8;
    }
    if (b === null && !lora) continue;
    if (info.shape.length !== 2) throw new SafetensorsError(base.path, `LoRA target "${key}" has shape [${info.shape.join(', ')}], expected a 2-D Linear weight`);
    const [n, k] = info.shape;
    out.push({ key, shape: [n, k], bits: b, blockSize: b === null ? 0 : chooseBlockSize(k, b), loraMerged: lora });
  }
  return out;
}

function specsOf(plan: readonly QuantizedLayerPlan[]): TensorSpec[] {
  const specs: TensorSpec[] = [];
  for (const p of plan) {
    if (p.bits === null) {
      specs.push({ name: p.key, dtype: 'F32', shape: p.shape });
      continue;
    }
    const shapes = quantizedTensorShapes(matMulNBitsBytes(p.shape[0], p.shape[1], p.bits, 4, p.blockSize));
    const keys = quantizedTensorKeys(p.key);
    specs.push({ name: keys.qweight, dtype: 'U8', shape: shapes.qweight });
    specs.push({ name: keys.scales, dtype: 'F32', shape: shapes.scales });
    if (shapes.zeroPoints) specs.push({ name: keys.zeroPoints, dtype: 'U8', shape: shapes.zeroPoints });
  }
  return specs;
}

/** A LoRA opened and validated against the base: its targets and a per-tensor fp32 merge. */
interface OpenedLora {
  readonly targets: ReadonlySet<string>;
  readonly identity: Record<string, unknown>;
  merged(session: LoraMergeSession, key: string): Promise<Float32Array>;
}

async function openLora(src: QuantLoraSource, base: Weights, cache: BakeCache): Promise<OpenedLora> {
  const loraWeights = Checkpoint.open(src.file);
  const sha256 = await cache.contentSha256(src.file);
  if (src.format === 'uno') {
    const lora = readUnoLora(loraWeights, base);
    const scale = src.scale ?? UNO_DEFAULT_SCALE;
    const byKey = new Map(lora.targets.map((t) => [t.baseKey, t]));
    if (byKey.size !== lora.targets.length) throw new Error(`${src.file}: several LoRA pairs target the same base tensor; a quantized bake merges one pair per tensor`);
    return {
      targets: new Set(byKey.keys()),
      identity: { format: 'uno', sha256, scale },
      merged: (session, key) => mergeUnoLoraTarget(session, lora, loraWeights, base, byKey.get(key)!, scale),
    };
  }
  const lora = readPeftLora(loraWeights, base);
  const multiplier = peftLoraMultiplier(lora.rank, { alpha: src.alpha, scale: src.scale });
  const byKey = new Map(lora.targets.map((t) => [t.baseKey, t]));
  return {
    targets: new Set(byKey.keys()),
    identity: { format: 'peft', sha256, alpha: src.alpha ?? lora.rank, scale: src.scale ?? 1 },
    merged: (session, key) => mergePeftLoraTarget(session, lora, loraWeights, base, byKey.get(key)!, multiplier),
  };
}

/** Stream the plan into a bake output: one base tensor (read, merged, quantized) at a time. */
async function writeQuantizedBake(out: BakeOutput, base: Weights, plan: readonly QuantizedLayerPlan[], lora: OpenedLora | null,
  metadata: Record<string, string>, onProgress?: (done: number, total: number, key: string) => void): Promise<void> {
  const writer = out.begin(specsOf(plan), metadata);
  const session = lora && plan.some((p) => p.loraMerged) ? await LoraMergeSession.create() : null;
  try {
    let done = 0;
    for (const p of plan) {
      const w = p.loraMerged ? await lora!.merged(session!, p.key) : base.readFloat32(p.key);
      if (p.bits === null) {
        writer.write(p.key, w);
      } else {
        const q = quantizeLinear(w, p.shape[0], p.shape[1], p.bits, p.blockSize, `${base.path}: "${p.key}"`);
        const keys = quantizedTensorKeys(p.key);
        writer.write(keys.qweight, q.qweight);
        writer.write(keys.scales, q.scales);
        if (q.zeroPoints) writer.write(keys.zeroPoints, q.zeroPoints);
      }
      onProgress?.(++done, plan.length, p.key);
    }
    writer.finish();
  } finally {
    await session?.release();
  }
}

/**
 * Base weights with a quantized bake overlaid: `quantizedLinear(key)` tells `nn.linear` which
 * Linear weights to run as MatMulNBits (from the bake's header, checked against the tensor shapes).
 */
export class QuantizedWeights extends OverlayWeights implements LinearStorage {
  private readonly layers = new Map<string, QuantizedLinearInfo>();

  constructor(private readonly baseWeights: Weights, private readonly bake: Checkpoint | null, readonly linearCompute: 'float32' | 'float16') {
    super(baseWeights, bake ?? new EmptyWeights(baseWeights.path));
    if (!bake) return;
    const meta = bake.files[0]?.metadata[QUANT_LAYERS_METADATA];
    let parsed: unknown;
    try {
      parsed = JSON.parse(meta ?? '{}');
    } catch {
      throw new SafetensorsError(bake.path, `metadata "${QUANT_LAYERS_METADATA}" is not valid JSON`);
    }
    for (const [key, v] of Object.entries(parsed as Record<string, unknown>)) {
      const [bits, blockSize] = Array.isArray(v) ? v as number[] : [];
      if ((bits !== 4 && bits !== 8) || !Number.isInteger(blockSize)) {
        throw new SafetensorsError(bake.path, `metadata "${QUANT_LAYERS_METADATA}" entry "${key}" is ${JSON.stringify(v)}, expected [4 | 8, blockSize]`);
      }
      const [n, k] = baseWeights.expectShape(key, [null, null]);
      const l = matMulNBitsBytes(n, k, bits, 4, blockSize);
      const shapes = quantizedTensorShapes(l);
      const keys = quantizedTensorKeys(key);
      bake.expectShape(keys.qweight, shapes.qweight);
      bake.expectShape(keys.scales, shapes.scales);
      if (shapes.zeroPoints) bake.expectShape(keys.zeroPoints, shapes.zeroPoints);
      this.layers.set(key, {
        n, k, bits, blockSize, qweightKey: keys.qweight, scalesKey: keys.scales, zeroPointsKey: shapes.zeroPoints ? keys.zeroPoints : null,
      });
    }
  }

  quantizedLinear(weightKey: string): QuantizedLinearInfo | null {
    return this.layers.get(weightKey) ?? null;
  }

  /** The same weights with plain Linears computing in `c` (a GPU job that falls back to the CPU EP needs float32). */
  withLinearCompute(c: 'float32' | 'float16'): QuantizedWeights {
    return c === this.linearCompute ? this : new QuantizedWeights(this.baseWeights, this.bake, c);
  }

  /** Weight keys stored as MatMulNBits. */
  quantizedKeys(): string[] {
    return [...this.layers.keys()];
  }
}

/** An empty Weights (no bake: only the linear compute type changes). */
class EmptyWeights implements Weights {
  constructor(readonly path: string) {}
  keys(): string[] { return []; }
  has(): boolean { return false; }
  info(name: string): TensorInfo { throw new SafetensorsError(this.path, `missing tensor "${name}"`); }
  shape(name: string): readonly number[] { return this.info(name).shape; }
  expectShape(name: string): readonly number[] { return this.info(name).shape; }
  readFloat32(name: string): Float32Array { this.info(name); return new Float32Array(0); }
}

export interface QuantizedWeightsOptions {
  /** The base checkpoint (its files are the bake's identity). */
  readonly base: Weights;
  /** LoRA merged in float32 before quantizing. */
  readonly lora?: QuantLoraSource | null;
  /** The component precision (from the memory plan). */
  readonly choice: PrecisionChoice;
  /** The network's tensor roles (network-memory-models.ts). */
  readonly roleOf: RoleOf;
  readonly cache: BakeCache;
  /** 'gpu': any precision below fp32 runs the plain Linears as fp16 MatMuls; 'cpu' (default) keeps float32. */
  readonly device?: DeviceKind;
  readonly onProgress?: (done: number, total: number, key: string) => void;
}

export interface QuantizedWeightsResult {
  /** Pass to the network builder. */
  readonly weights: QuantizedWeights;
  /** The bake used (null when nothing needed baking: float precision without a LoRA). */
  readonly entry: BakeEntry | null;
  /** The rewritten tensors. */
  readonly plan: readonly QuantizedLayerPlan[];
  /** End the use of the bake file (it becomes evictable). */
  release(): void;
}

/**
 * The weights of one network at `choice` (int8 / int4 MatMulNBits per the planner's roles, LoRA
 * merged in float32 first), from the bake cache or baked now with progress. Float precisions
 * without a LoRA bake nothing.
 */
export async function quantizedWeights(opts: QuantizedWeightsOptions): Promise<QuantizedWeightsResult> {
  const { base, choice, cache } = opts;
  // On a GPU every plan below fp32 runs its float Linears (modulation, embedders, unquantized
  // layers) as fp16 MatMuls: int4 with float32 modulation would keep FLUX's 3.2 B modulation
  // parameters at 4 bytes each (12.8 GB), more than the quantized blocks save.
  const compute = opts.device === 'gpu' && choice.precision !== 'fp32' ? 'float16' : 'float32';
  const lora = opts.lora ? await openLora(opts.lora, base, cache) : null;
  const plan = quantizedBakePlan(base, opts.roleOf, choice, lora?.targets ?? new Set());
  if (plan.length === 0) {
    return { weights: new QuantizedWeights(base, null, compute), entry: null, plan, release: () => undefined };
  }
  const layers: Record<string, [number, number]> = {};
  for (const p of plan) if (p.bits !== null) layers[p.key] = [p.bits, p.blockSize];
  const layersJson = JSON.stringify(layers);
  const key = bakeKey({
    kind: BAKE_KIND,
    format: FORMAT,
    base: weightsFileIdentities(base),
    lora: lora?.identity ?? null,
    precision: choice.precision,
    quantizeModulation: choice.quantizeModulation ?? false,
    // Which tensors are rewritten, at which bits and block (decided by roleOf and chooseBlockSize).
    plan: crypto.createHash('sha256').update(JSON.stringify(plan.map((p) => [p.key, p.bits, p.blockSize, p.loraMerged]))).digest('hex'),
  });
  const metadata: Record<string, string> = {
    'umo.bake_kind': BAKE_KIND,
    'umo.quant.format': String(FORMAT),
    'umo.precision': choice.precision,
    [QUANT_LAYERS_METADATA]: layersJson,
  };
  if (opts.lora) metadata['umo.lora_file'] = opts.lora.file;
  const entry = await cache.getOrBake(key, (out) => writeQuantizedBake(out, base, plan, lora, metadata, opts.onProgress));
  try {
    const weights = new QuantizedWeights(base, Checkpoint.open(entry.path), compute);
    return { weights, entry, plan, release: () => entry.release() };
  } catch (e) {
    entry.release();
    throw e;
  }
}
