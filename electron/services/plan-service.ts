// Memory estimates before loading: the planner over the checkpoint headers of the models the job
// would use (the demo kit, or the user's files with their overrides), for the device the job will
// run on (the settings' preference resolved against the engine's probe) and the budget (the
// setting, else read from the device with a margin). Also remembers the last budget so the job's
// environment carries the same budget the estimate was made for.
import type { BackboneId } from '../../shared/model-manifests.js';
import type { JobMemoryOptions } from '../../shared/memory-options.js';
import type { Settings } from '../../shared/settings.js';
import type { DeviceInfo, MemoryPlanEstimate, PlanAnswer, PlanQuery } from '../../shared/umo-api.js';
import { readNvidiaGpuMemory, resolveMemoryBudget, type GpuMemoryResult, type MemoryBudget } from '../engine/runtime/device-budget.js';
import { loadPlanModels, locatePlanCheckpoints, planMemory, type MemoryPlan } from '../engine/runtime/memory-planner.js';
import { ModelFilesError, describeProblems } from '../engine/runtime/model-locator.js';
import { overridesFor } from './model-status-service.js';
import { UserInputError } from './service-errors.js';

// Compile-time check: the engine's plan is the JSON the UI reads.
const _planIsEstimate = (p: MemoryPlan): MemoryPlanEstimate => p;
void _planIsEstimate;

export interface PlanServiceOptions {
  getSettings(): Settings;
  /** Where the demo kit lives and whether it is installed (generation uses it when the setting says so). */
  demoModelsDir: string;
  demoAvailable(): boolean;
  /** Hugging Face cache override (`null` disables it, undefined = the default location). */
  hfCache?: string | null;
  /** The engine's probe (cached by the caller). */
  listDevices(): Promise<DeviceInfo[]>;
  /** GPU memory reader (default nvidia-smi); tests pass a fake. */
  readGpuMemory?: () => Promise<GpuMemoryResult>;
  totalRamBytes?: number;
  /** Milliseconds a device reading is reused (nvidia-smi is not free; the UI replans while the user types). */
  budgetCacheMs?: number;
}

export interface ResolvedDevice {
  ep: string;
  kind: 'cpu' | 'gpu';
  /** The GPU allocates from system RAM (Apple silicon, or a software WebGPU adapter). */
  sharesSystemRam?: boolean;
  warning?: string;
}

/** The provider a preference resolves to on this machine, from the engine's probe. */
export function resolveDevice(pref: Settings['devicePreference'], devices: readonly DeviceInfo[], platform: string = process.platform): ResolvedDevice {
  const kind = (ep: string): 'cpu' | 'gpu' => (ep === 'cpu' ? 'cpu' : 'gpu');
  const shared = (d: DeviceInfo | undefined) => d !== undefined && d.ep !== 'cpu' && (platform === 'darwin' || /software adapter/.test(d.detail));
  const resolved = (d: DeviceInfo | undefined, ep: string): ResolvedDevice => ({ ep, kind: kind(ep), ...(shared(d) ? { sharesSystemRam: true } : {}) });
  if (pref === 'auto') {
    const d = devices.find((x) => x.auto);
    return resolved(d, d?.ep ?? 'cpu');
  }
  const d = devices.find((x) => x.ep === pref);
  if (d?.works) return resolved(d, pref);
  const why = d ? (d.available ? `it failed: ${d.detail}` : `not available: ${d.detail}`) : 'not reported by the engine';
  return { ep: 'cpu', kind: 'cpu', warning: `The chosen device ${pref} does not work here (${why}); the CPU is used.` };
}

export class PlanService {
  private gpuReading: { at: number; value: Promise<GpuMemoryResult> } | null = null;

  constructor(private readonly opts: PlanServiceOptions) {}

  /** Checkpoint paths the planner reads for a backbone, or a UserInputError naming what is missing. */
  checkpoints(backbone: BackboneId): Record<string, string> {
    const s = this.opts.getSettings();
    const demo = s.useDemoModel && backbone === 'uno' && this.opts.demoAvailable();
    try {
      return locatePlanCheckpoints(backbone, demo
        ? { modelsRoot: this.opts.demoModelsDir, hfCache: null }
        : { modelsRoot: s.modelsRoot, hfCache: this.opts.hfCache, overrides: overridesFor(s, backbone) });
    } catch (e) {
      if (!(e instanceof ModelFilesError)) throw e;
      const problems = describeProblems(e.located).split('\n').filter((l) => l.trim());
      throw new UserInputError(`No memory estimate: model files are missing or unusable\n${describeProblems(e.located)}`, problems);
    }
  }

  async budgetFor(device: 'cpu' | 'gpu', sharesSystemRam = false): Promise<MemoryBudget> {
    const s = this.opts.getSettings();
    const budget = await resolveMemoryBudget({
      settingGiB: s.memoryBudgetGiB, device, totalRamBytes: this.opts.totalRamBytes, gpuUsesSystemRam: sharesSystemRam,
      readGpuMemory: () => this.readGpuMemoryCached(),
    });
    return budget;
  }

  async plan(query: PlanQuery): Promise<PlanAnswer> {
    const s = this.opts.getSettings();
    const paths = this.checkpoints(query.backbone);
    const device = resolveDevice(s.devicePreference, await this.opts.listDevices());
    const budget = await this.budgetFor(device.kind, device.sharesSystemRam);
    let models;
    try {
      models = loadPlanModels(query.backbone, paths);
    } catch (e) {
      throw new UserInputError(`No memory estimate: ${(e as Error).message}`);
    }
    const plan = planMemory(models, {
      device: device.kind, budgetBytes: budget.bytes,
      request: { width: query.width, height: query.height, references: query.references },
    });
    return {
      plan, budget: { bytes: budget.bytes, source: budget.source, detail: budget.detail }, ep: device.ep,
      ...(device.warning ? { deviceWarning: device.warning } : {}),
    };
  }

  /** The memory options of a job started now: the budget for the device it will run on. */
  async jobMemory(): Promise<JobMemoryOptions> {
    const s = this.opts.getSettings();
    let devices: DeviceInfo[] = [];
    try {
      devices = await this.opts.listDevices();
    } catch {
      // No probe answer: the engine resolves the device itself; plan for the CPU's RAM unless a budget is set.
    }
    const device = resolveDevice(s.devicePreference, devices);
    const budget = await this.budgetFor(device.kind, device.sharesSystemRam);
    return { budgetBytes: budget.bytes };
  }

  private readGpuMemoryCached(): Promise<GpuMemoryResult> {
    const now = Date.now();
    const ttl = this.opts.budgetCacheMs ?? 10_000;
    if (!this.gpuReading || now - this.gpuReading.at > ttl) {
      const read = this.opts.readGpuMemory ?? (() => readNvidiaGpuMemory());
      this.gpuReading = { at: now, value: read() };
    }
    return this.gpuReading.value;
  }
}
