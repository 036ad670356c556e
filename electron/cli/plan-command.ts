// `umo-studio plan`: the memory plan for a backbone, request and budget, from the checkpoint
// headers only (nothing is loaded). Prints a table, or the plan as JSON with --json.
import { parseArgs } from 'node:util';
import { formatPlan, loadPlanModels, locatePlanCheckpoints, parseByteSize, planMemory } from '../engine/runtime/memory-planner.js';
import type { PrecisionChoice } from '../engine/runtime/weight-bytes.js';
import { parsePrecisionSetting } from '../../shared/memory-options.js';
import { UsageError } from './usage-error.js';

export const PLAN_USAGE = `umo-studio plan --backbone uno|omnigen2 --models-root DIR --budget 16GiB --width W --height H --refs N
    [--ref-size PX] [--batch N] [--device cpu|gpu] [--attention fused|unfused] [--max-stream-groups N]
    [--precision COMPONENT=fp32|fp16|bf16-as-fp32-on-cpu|int8|int4[+mod]]... [--json]`;

function wholeNumber(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`plan: --${name} must be a whole number ≥ ${min} (got "${v}")`);
  return n;
}

function parsePrecision(s: string): [string, PrecisionChoice] {
  try {
    return parsePrecisionSetting(s);
  } catch (e) {
    throw new UsageError(`plan: --precision ${(e as Error).message}`);
  }
}

export async function runPlanCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      backbone: { type: 'string', default: 'uno' },
      'models-root': { type: 'string' },
      budget: { type: 'string' },
      width: { type: 'string' },
      height: { type: 'string' },
      refs: { type: 'string', default: '1' },
      'ref-size': { type: 'string' },
      batch: { type: 'string' },
      device: { type: 'string', default: 'gpu' },
      attention: { type: 'string' },
      'max-stream-groups': { type: 'string' },
      precision: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
    },
  });
  const backbone = values.backbone;
  if (backbone !== 'uno' && backbone !== 'omnigen2') throw new UsageError(`plan: unknown --backbone "${backbone}" (uno or omnigen2)`);
  if (!values['models-root']) throw new UsageError(`plan: --models-root DIR is required\n${PLAN_USAGE}`);
  if (!values.budget) throw new UsageError(`plan: --budget SIZE is required (e.g. 16GiB)\n${PLAN_USAGE}`);
  let budgetBytes: number;
  try {
    budgetBytes = parseByteSize(values.budget);
  } catch (e) {
    throw new UsageError(`plan: --budget ${(e as Error).message}`);
  }
  // Tiny budgets are legitimate for the tiny kits; a budget too small for anything gets the planner's "does not fit".
  if (!(budgetBytes > 0)) throw new UsageError(`plan: --budget ${values.budget} must be more than 0 (give the memory of the device, e.g. 16GiB)`);
  const device = values.device;
  if (device !== 'cpu' && device !== 'gpu') throw new UsageError(`plan: unknown --device "${device}" (cpu or gpu)`);
  const attention = values.attention;
  if (attention !== undefined && attention !== 'fused' && attention !== 'unfused') throw new UsageError(`plan: unknown --attention "${attention}" (fused or unfused)`);
  const defaultSize = backbone === 'uno' ? 768 : 1024;
  const width = wholeNumber('width', values.width, 16) ?? defaultSize;
  const height = wholeNumber('height', values.height, 16) ?? defaultSize;
  const references = wholeNumber('refs', values.refs, 0)!;
  const precisions = Object.fromEntries((values.precision ?? []).map(parsePrecision));

  const paths = locatePlanCheckpoints(backbone, { modelsRoot: values['models-root'] });
  const models = loadPlanModels(backbone, paths);
  const plan = planMemory(models, {
    device, budgetBytes, attention, precisions,
    maxStreamGroups: wholeNumber('max-stream-groups', values['max-stream-groups'], 0),
    request: {
      width, height, references,
      referenceSize: wholeNumber('ref-size', values['ref-size'], 16),
      batch: wholeNumber('batch', values.batch, 1),
    },
  });
  process.stdout.write(values.json ? `${JSON.stringify(plan, null, 2)}\n` : formatPlan(plan));
  return plan.fits ? 0 : 3;
}
