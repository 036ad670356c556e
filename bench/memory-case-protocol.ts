// What the memory-estimate harness sends to a case process and what it prints back. A case is one
// fresh process running one real generation (the engine's runGenerateJob, as the CLI and the engine
// process call it) with the memory plan pinned, so its peak RSS is that generation's own.
import type { BackboneId } from '../shared/model-manifests.js';
import type { PrecisionChoice } from '../electron/engine/runtime/weight-bytes.js';
import type { Residency } from '../electron/engine/runtime/memory-planner.js';

export const MEMORY_RESULT_PREFIX = 'BENCH_MEMORY_RESULT ';

export interface MemoryCaseSpec {
  id: string;
  backbone: BackboneId;
  modelsRoot: string;
  /** Bake cache under `<cacheDir>/bakes` (quantized bakes land there once precisions are pinned). */
  cacheDir: string;
  outputDir: string;
  width: number;
  height: number;
  steps: number;
  /** Reference image files. */
  references: string[];
  /** Pinned precision per component (dit, t5, clip, vae / transformer, mllm, vae); absent: the planner's choice. */
  precisions?: Record<string, PrecisionChoice>;
  /** Residency the job is planned and executed with. */
  residency: Residency;
  /** Block groups when residency is dit-streamed. */
  streamGroups?: number;
  /** ORT CPU memory arena for every session of the job. */
  cpuMemArena: boolean;
  /** ORT weight prepacking (private packed copies of MatMul weights). */
  prepack: boolean;
}

/** Peak RSS between two pipeline phase events (VmHWM reset at each event). */
export interface MemorySegment {
  phase: string;
  detail?: string;
  peakMb: number;
  /** RSS when the segment ended. */
  endMb: number;
}

export interface MemoryCaseResult {
  id: string;
  /** RSS after the engine modules (pipelines, onnxruntime-node) are imported, before the job. */
  importedRssMb: number;
  /** Largest segment peak (= the process's peak RSS during the job). */
  peakRssMb: number;
  /** process.resourceUsage().maxRSS at the end (MiB; the kernel's high-water mark, reset per segment on Linux). */
  maxRssMb: number;
  segments: MemorySegment[];
  /** Linux could reset VmHWM per segment (clear_refs); otherwise segment peaks are cumulative. */
  perSegmentPeaks: boolean;
  wallMs: number;
}

export function parseMemoryCaseSpec(arg: string | undefined): MemoryCaseSpec {
  if (!arg) throw new Error('memory-case: pass the case spec as one JSON argument');
  const s = JSON.parse(arg) as MemoryCaseSpec;
  for (const k of ['id', 'backbone', 'modelsRoot', 'cacheDir', 'outputDir', 'residency'] as const) {
    if (typeof s[k] !== 'string') throw new Error(`memory-case: spec.${k} must be a string`);
  }
  for (const k of ['width', 'height', 'steps'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) throw new Error(`memory-case: spec.${k} must be a positive integer`);
  }
  if (!Array.isArray(s.references)) throw new Error('memory-case: spec.references must be an array of files');
  if (typeof s.cpuMemArena !== 'boolean' || typeof s.prepack !== 'boolean') throw new Error('memory-case: spec.cpuMemArena and spec.prepack must be booleans');
  return s;
}
