// Texts of the memory estimate shown next to Generate (pure: unit-tested without React).
import type { BudgetInfo, MemoryPlanEstimate, PlanAnswer } from '../../shared/umo-api.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** 14.8 GiB, 0.5 GiB, 96 MiB: one decimal in GiB from 1 GiB up, whole MiB below. */
export function formatBytes(bytes: number): string {
  if (bytes >= GiB) {
    const g = bytes / GiB;
    return `${Number.isInteger(Math.round(g * 10) / 10) ? g.toFixed(0) : g.toFixed(1)} GiB`;
  }
  return `${Math.max(1, Math.round(bytes / MiB))} MiB`;
}

const NETWORK_LABELS: Record<string, string> = {
  dit: 'DiT', transformer: 'Transformer', t5: 'T5', clip: 'CLIP', mllm: 'Qwen2.5-VL', 'vae-encoder': 'VAE encoder', 'vae-decoder': 'VAE decoder',
};

export function networkLabel(id: string): string {
  return NETWORK_LABELS[id] ?? id;
}

/** fp16, int8 (+ int8 modulation), "bf16 as fp32" on the CPU. */
export function precisionLabel(precision: string, quantizeModulation = false): string {
  const base = precision === 'bf16-as-fp32-on-cpu' ? 'bf16→fp32' : precision;
  return quantizeModulation ? `${base} + int8 modulation` : base;
}

export function residencyLabel(plan: Pick<MemoryPlanEstimate, 'residency' | 'streamGroups'>): string {
  if (plan.residency === 'all-resident') return 'all models resident';
  if (plan.residency === 'one-phase-at-a-time') return 'one phase at a time';
  return `denoiser streamed in ${plan.streamGroups ?? 2} block groups`;
}

/** The denoiser (DiT / transformer) and its precision: what most decides speed and quality. */
function denoiserText(plan: MemoryPlanEstimate): string | null {
  const denoise = plan.phases.find((p) => p.name === 'denoise');
  const c = denoise?.components[0];
  return c ? `${networkLabel(c.id)} ${precisionLabel(c.precision, c.quantizeModulation)}` : null;
}

/** "Fits in 16 GiB: peak 14.8 GiB · DiT int8 · one phase at a time" / "Does not fit in 8 GiB: needs 14.8 GiB · …". */
export function planHeadline(answer: PlanAnswer): string {
  const { plan } = answer;
  const parts = [denoiserText(plan), residencyLabel(plan)].filter((x): x is string => !!x);
  const head = plan.fits
    ? `Fits in ${formatBytes(plan.budgetBytes)}: peak ${formatBytes(plan.peakBytes)}`
    : `Does not fit in ${formatBytes(plan.budgetBytes)}: needs ${formatBytes(plan.peakBytes)}`;
  return [head, ...parts].join(' · ');
}

const SOURCE_LABELS: Record<BudgetInfo['source'], string> = {
  setting: 'your setting', 'nvidia-smi': 'read from the GPU', 'system-ram': 'from the installed RAM', assumed: 'assumed',
};

/** "Budget 16 GiB (your setting) on cuda" and how it was found. */
export function budgetText(answer: PlanAnswer): string {
  return `Budget ${formatBytes(answer.budget.bytes)} (${SOURCE_LABELS[answer.budget.source]}) on ${answer.ep === 'cpu' ? 'the CPU' : answer.ep}`;
}

const PHASE_LABELS: Record<string, string> = {
  'encode-text': 'Encode prompt', 'encode-references': 'Encode references', denoise: 'Denoise', decode: 'Decode',
};

export function phaseLabel(name: string): string {
  return PHASE_LABELS[name] ?? name;
}

/** The guardrail's message: what is needed, what there is, and the planner's reason. */
export function guardrailText(answer: PlanAnswer): string {
  const { plan } = answer;
  return `This generation needs about ${formatBytes(plan.peakBytes)} but the budget is ${formatBytes(plan.budgetBytes)} `
    + `(${SOURCE_LABELS[answer.budget.source]}). Loading it anyway may run out of memory or spill into system memory and run very slowly.`;
}
