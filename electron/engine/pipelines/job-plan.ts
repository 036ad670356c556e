// The memory plan of one job, and what the pipelines do with it: which precision each component
// runs at (quantized bakes for int8/int4), whether networks stay resident between phases and
// jobs, and whether the denoiser is streamed in block groups. The plan is computed with the same
// planner the UI and `umo-studio plan` show, from the checkpoint headers only, so what the user
// saw before loading is what runs.
import type { BackboneId } from '../../../shared/model-manifests.js';
import type { JobMemoryOptions } from '../../../shared/memory-options.js';
import { type ExecutionProvider, hasGpuDevice } from '../runtime/sessions.js';
import { type MemoryPlan, type PlanRequest, loadPlanModels, planMemory } from '../runtime/memory-planner.js';
import { resolveMemoryBudget } from '../runtime/device-budget.js';
import type { DeviceKind, PrecisionChoice } from '../runtime/weight-bytes.js';
import type { RoleOf } from '../runtime/quantized-bake.js';
import type { Residency } from './device-fallback.js';
import type { NetworkPool } from './network-pool.js';

export class PlanDoesNotFitError extends Error {
  readonly code = 'does-not-fit';
  constructor(readonly plan: MemoryPlan) {
    super(`${plan.reason ?? 'the memory plan does not fit the budget'}\n(to run anyway, choose "Load anyway" or pass --load-anyway)`);
    this.name = 'PlanDoesNotFitError';
  }
}

export interface JobPlan {
  readonly plan: MemoryPlan;
  readonly device: DeviceKind;
  /** Precision of a component group (dit, t5, clip, vae / transformer, mllm, vae). */
  precision(component: string): PrecisionChoice;
  /** Pool residency for a network when the plan keeps networks resident, else undefined (release after use). */
  resident(network: string): Residency | undefined;
  /** Block groups of the streamed denoiser, or undefined when it runs whole. */
  readonly streamGroups: number | undefined;
  /** Weight bytes of each block of a streamable network at its planned precision (where the groups split). */
  blockBytes(network: string): number[] | undefined;
  /** Tensor roles of a network (what a quantized bake rewrites), from the planner's memory model. */
  roleOf(network: string): RoleOf;
  /**
   * Query chunks the plan chose for the unfused attention of a phase (encode-references,
   * encode-text, denoise, decode), or undefined when the phase runs fused attention or one chunk.
   * Only meaningful for a network that really runs unfused (not after a fall-back to CPU).
   */
  queryChunks(phase: string): number | undefined;
}

/** The planned query chunks of `phase` (see `JobPlan.queryChunks`). */
export function plannedQueryChunks(plan: Pick<MemoryPlan, 'phases' | 'backbone'>, phase: string): number | undefined {
  const p = plan.phases.find((x) => x.name === phase);
  if (!p) throw new Error(`memory plan for ${plan.backbone} has no phase "${phase}" (has ${plan.phases.map((x) => x.name).join(', ')})`);
  const chunks = p.attention.kind === 'unfused' ? p.attention.queryChunks ?? 1 : 1;
  return chunks > 1 ? chunks : undefined;
}

export interface PlanJobArgs {
  backbone: BackboneId;
  /** Component id -> checkpoint path (requireBackbone's result). */
  files: Record<string, string>;
  request: PlanRequest;
  ep: ExecutionProvider;
  memory?: JobMemoryOptions;
  pool: NetworkPool;
  /** Anything else that changes the networks (LoRA file and scale): part of the resident keys. */
  variant: string;
}

/**
 * The budget a job plans for when it does not bring one (the CLI without --budget): the same rule
 * the app's estimate uses (device-budget.ts): RAM minus a margin on the CPU or a GPU that shares
 * it, the free memory nvidia-smi reports, else an assumed size.
 */
async function defaultBudgetBytes(ep: ExecutionProvider, device: DeviceKind): Promise<number> {
  const sharesRam = device === 'gpu' && (process.platform === 'darwin' || (ep === 'webgpu' && !hasGpuDevice()));
  return (await resolveMemoryBudget({ settingGiB: null, device, gpuUsesSystemRam: sharesRam })).bytes;
}

/** The precision group of a network: the VAE's encoder and decoder share one choice. */
const groupOf = (network: string) => (network === 'vae-encoder' || network === 'vae-decoder' ? 'vae' : network);

/** Plan a job, release pooled networks this plan will not use, and describe how to execute it. */
export async function planJob(args: PlanJobArgs): Promise<JobPlan> {
  const device: DeviceKind = args.ep === 'cpu' ? 'cpu' : 'gpu';
  const memory = args.memory ?? {};
  const models = loadPlanModels(args.backbone, args.files);
  const plan = planMemory(models, {
    request: args.request, device,
    budgetBytes: memory.budgetBytes ?? await defaultBudgetBytes(args.ep, device),
    precisions: memory.precisions,
    residency: memory.residency,
    streamGroups: memory.streamGroups,
  });
  if (!plan.fits && !memory.loadAnyway) throw new PlanDoesNotFitError(plan);

  const choices = new Map<string, PrecisionChoice>();
  for (const phase of plan.phases) {
    for (const c of phase.components) choices.set(groupOf(c.id), { precision: c.precision, quantizeModulation: c.quantizeModulation });
  }
  // Resident networks are keyed by everything that shapes them; a job with another plan frees the old ones first.
  // Query chunks change the graphs too, so they are part of the key.
  const queryChunks = plan.phases.map((p) => [p.name, plannedQueryChunks(plan, p.name) ?? 1]);
  const signature = JSON.stringify({ backbone: args.backbone, files: args.files, variant: args.variant, precisions: [...choices], queryChunks });
  const keep = plan.residency === 'all-resident';
  await args.pool.retainOnly(new Set(keep ? args.pool.keys().filter((k) => k.startsWith(signature)) : []));
  const choiceOf = (component: string): PrecisionChoice => {
    const c = choices.get(groupOf(component));
    if (!c) throw new Error(`memory plan for ${args.backbone} has no component "${component}" (has ${[...choices.keys()].join(', ')})`);
    return c;
  };
  const modelOf = (network: string) => {
    const model = models.groups.flatMap((g) => g.networks).find((n) => n.id === network);
    if (!model) throw new Error(`memory plan for ${args.backbone} has no network "${network}"`);
    return model;
  };
  return {
    plan, device,
    precision: (component) => choiceOf(component),
    resident(network) {
      return keep ? { pool: args.pool, key: `${signature}|${network}` } : undefined;
    },
    streamGroups: plan.residency === 'dit-streamed' ? plan.streamGroups : undefined,
    queryChunks: (phase) => plannedQueryChunks(plan, phase),
    roleOf(network) {
      return modelOf(network).roleOf;
    },
    blockBytes(network) {
      return modelOf(network).blockBytes?.(choiceOf(network), device);
    },
  };
}
