// All main-process services wired into one object with the `window.umo` request methods (UmoApi
// minus onEvent, which is an emitter here). Web mode serves it over HTTP + WebSocket; the Electron
// main will expose the same object over IPC. Plain Node: no Electron import.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { GenerateRequestInput } from '../../shared/backbone-params.js';
import type { BackboneId } from '../../shared/model-manifests.js';
import type { LoraEntry, Settings, SettingsPatch } from '../../shared/settings.js';
import type {
  AppInfo, DeviceInfo, GenerateOptions, HistoryItem, ModelStatus, PlanAnswer, PlanQuery, ReferenceImage, UmoApi, UmoEvent,
} from '../../shared/umo-api.js';
import type { GpuMemoryResult } from '../engine/runtime/device-budget.js';
import { appPaths, type AppPaths } from './app-paths.js';
import { installDemoKit } from './demo-model.js';
import { EngineHost, forkEngineProcess, packageRoot, type SpawnEngine } from './engine-host.js';
import { JobService, type InterruptedJob } from './job-service.js';
import { LoraRegistry } from './lora-registry.js';
import { ModelStatusService } from './model-status-service.js';
import { PlanService, resolveDevice } from './plan-service.js';
import { ReferenceStore } from './reference-store.js';
import { UserInputError } from './service-errors.js';
import { JsonSettingsService, parseSettingsPatch, type SettingsStore } from './settings-service.js';

export type AppMode = 'desktop' | 'web';
export type FileKind = 'outputs' | 'references';

export interface AppServicesOptions {
  dataDir: string;
  mode: AppMode;
  /** How the engine process is started (tests pass a scripted fake; Electron passes utilityProcess). */
  spawnEngine?: SpawnEngine;
  /** Settings backend; default a JSON file `<dataDir>/settings.json`. */
  settings?: SettingsStore;
  /** URL of a stored file; default `/files/<kind>/<name>` (web) or `app-image://<kind>/<name>` (desktop). */
  fileUrl?(kind: FileKind, name: string): string;
  /** Hugging Face cache folder (`null` disables it; default: the usual location). */
  hfCache?: string | null;
  appVersion?: string;
  /** How long `listDevices` waits for the engine's probe. */
  probeTimeoutMs?: number;
  cancelDeadlineMs?: number;
  /** GPU memory reader for budgets (default nvidia-smi); tests pass a fake. */
  readGpuMemory?: () => Promise<GpuMemoryResult>;
}

/** The request half of UmoApi (what IPC and HTTP dispatch to), plus the host-facing extras. */
export type AppServiceApi = Omit<UmoApi, 'onEvent'>;

export interface AppServices extends AppServiceApi {
  readonly mode: AppMode;
  readonly paths: AppPaths;
  readonly settings: SettingsStore;
  readonly references: ReferenceStore;
  readonly loras: LoraRegistry;
  readonly models: ModelStatusService;
  readonly jobs: JobService;
  readonly engine: EngineHost;
  readonly plans: PlanService;
  /** Every UmoEvent (engine events, history-added, settings-changed) as 'event'. */
  readonly events: EventEmitter<{ event: [UmoEvent] }>;
  /** Subscribe to events; returns the unsubscribe function. */
  subscribe(listener: (ev: UmoEvent) => void): () => void;
  /** Warnings from start-up (a settings file that had to be repaired). */
  readonly startupWarnings: readonly string[];
  /** Jobs the previous run left unfinished, as `failed` events; each is handed out once. */
  takeStartupNotices(): UmoEvent[];
  /** The folders a stored file of this kind may be served from. */
  fileRoots(kind: FileKind): string[];
  /** A result file and the names the web server offers it under. */
  resultFile(jobId: string): { file: string; name: string; url: string };
  close(): Promise<void>;
}

function readPackageVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export async function createAppServices(opts: AppServicesOptions): Promise<AppServices> {
  const paths = appPaths(opts.dataDir);
  for (const d of [paths.dataDir, paths.referencesDir, paths.defaultOutputDir, paths.cacheDir]) fs.mkdirSync(d, { recursive: true });
  const fileUrl = opts.fileUrl ?? (opts.mode === 'web'
    ? (kind: FileKind, name: string) => `/files/${kind}/${encodeURIComponent(name)}`
    : (kind: FileKind, name: string) => `app-image://${kind}/${encodeURIComponent(name)}`);
  const appVersion = opts.appVersion ?? readPackageVersion();

  let startupWarnings: string[] = [];
  let settings: SettingsStore;
  if (opts.settings) settings = opts.settings;
  else {
    const json = new JsonSettingsService(paths.settingsFile);
    startupWarnings = [...json.warnings];
    settings = json;
  }

  const events = new EventEmitter<{ event: [UmoEvent] }>();
  events.setMaxListeners(0);
  const emit = (ev: UmoEvent) => events.emit('event', ev);

  const references = new ReferenceStore({ dir: paths.referencesDir, urlFor: (name) => fileUrl('references', name) });
  const loras = new LoraRegistry({ settings, uploadDir: paths.lorasDir });
  const models = new ModelStatusService({ getSettings: () => settings.get(), demoModelsDir: paths.demoModelsDir, dataDir: paths.dataDir, hfCache: opts.hfCache });
  const engine = new EngineHost(opts.spawnEngine ?? (() => forkEngineProcess()), { cancelDeadlineMs: opts.cancelDeadlineMs });

  // The engine's device probe: once per engine process (a restart probes again), shared by every
  // caller. When the preference the user chose does not work here, say so once per probe.
  let probe: Promise<DeviceInfo[]> | null = null;
  engine.on('restart', () => { probe = null; });
  const probeDevices = (): Promise<DeviceInfo[]> => {
    if (probe) return probe;
    const timeoutMs = opts.probeTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the engine did not report its devices within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    const p = Promise.race([engine.probe(), timeout]).finally(() => clearTimeout(timer));
    probe = p;
    p.then((devices) => {
      const warning = resolveDevice(settings.get().devicePreference, devices).warning;
      if (warning) emit({ type: 'warning', message: warning });
    }, () => { if (probe === p) probe = null; });
    return p;
  };

  const plans = new PlanService({
    getSettings: () => settings.get(), demoModelsDir: paths.demoModelsDir, demoAvailable: () => models.demoAvailable(),
    hfCache: opts.hfCache, listDevices: probeDevices, readGpuMemory: opts.readGpuMemory,
  });
  const jobs = new JobService({
    host: engine, settings, paths, references, appVersion, hfCache: opts.hfCache,
    outputUrl: (file) => fileUrl('outputs', path.basename(file)),
    demoAvailable: () => models.demoAvailable(),
  });
  jobs.onEvent(emit);
  settings.onChange((s) => emit({ type: 'settings-changed', settings: s }));
  engine.on('restart', (reason: string) => emit({ type: 'warning', message: `The engine was restarted: ${reason}` }));

  let notices: InterruptedJob[] = [...jobs.interrupted];

  const resultFile = (jobId: string) => {
    const item = jobs.historyItem(jobId);
    if (!item) throw new UserInputError(`no result for job ${jobId} in this session`);
    return { file: path.resolve(item.result.file), name: path.basename(item.result.file), url: item.url };
  };

  const services: AppServices = {
    mode: opts.mode, paths, settings, references, loras, models, jobs, engine, plans, events, startupWarnings,

    subscribe(listener) {
      events.on('event', listener);
      return () => events.off('event', listener);
    },

    takeStartupNotices() {
      const out: UmoEvent[] = [
        ...startupWarnings.map((message) => ({ type: 'warning' as const, message })),
        ...notices.map((n) => n.event),
      ];
      notices = [];
      startupWarnings = [];
      return out;
    },

    fileRoots(kind) {
      return kind === 'references' ? [paths.referencesDir] : jobs.outputDirs();
    },

    resultFile,

    async getAppInfo(): Promise<AppInfo> {
      return { version: appVersion, mode: opts.mode, platform: `${process.platform}-${process.arch}` };
    },

    async getSettings(): Promise<Settings> {
      return settings.get();
    },

    async updateSettings(patch: SettingsPatch): Promise<Settings> {
      return settings.update(parseSettingsPatch(patch));
    },

    async getModelStatus(backbone: BackboneId): Promise<ModelStatus> {
      const status = await models.getModelStatus(backbone);
      // LoRAs that come with the models (UNO, UMO) belong in the LoRA list without being added by hand.
      loras.rememberKnown(status.components
        .filter((c) => c.id.endsWith('_lora') && c.status === 'found' && c.path)
        .map((c) => ({ path: path.resolve(c.path!), label: path.basename(c.path!), backbone })));
      return status;
    },

    async listDevices(): Promise<DeviceInfo[]> {
      return probeDevices();
    },

    async planRequest(query: PlanQuery): Promise<PlanAnswer> {
      return plans.plan(query);
    },

    async importReference(input): Promise<ReferenceImage> {
      if ('bytes' in input) return references.importBytes(input.name, input.bytes);
      return references.importFile(input.path);
    },

    async referenceFromResult(jobId: string): Promise<ReferenceImage> {
      const r = resultFile(jobId);
      return references.importFile(r.file, r.name);
    },

    async generate(request: GenerateRequestInput, options?: GenerateOptions): Promise<{ jobId: string }> {
      jobs.resolveRequest(request); // bad input fails before the device probe and budget reading
      // The engine plans the job for the same budget the estimate used (setting, else the device's).
      const memory = await plans.jobMemory();
      return jobs.generate(request, { ...memory, ...(options?.loadAnyway ? { loadAnyway: true } : {}) });
    },

    async cancel(jobId: string): Promise<void> {
      jobs.cancel(jobId);
    },

    async listHistory(): Promise<HistoryItem[]> {
      return jobs.listHistory();
    },

    async addLora(input): Promise<LoraEntry | null> {
      if (input.bytes) {
        if (!input.name) throw new UserInputError('an uploaded LoRA needs its file name');
        return loras.addBytes(input.backbone, input.name, input.bytes);
      }
      if (input.path) return loras.addFile(input.backbone, input.path, input.name);
      // The desktop shell opens a file dialog before calling this; here there is nothing to add.
      throw new UserInputError(opts.mode === 'web' ? 'choose a LoRA file to upload' : 'no LoRA file was given');
    },

    async setActiveLora(backbone: BackboneId, p: string | null): Promise<Settings> {
      return loras.setActive(backbone, p);
    },

    async installDemoModel(): Promise<ModelStatus> {
      await installDemoKit(paths.demoModelsDir);
      const s = settings.get();
      if (!s.useDemoModel || s.backbone !== 'uno') settings.update({ useDemoModel: true, backbone: 'uno' });
      return models.getModelStatus('uno');
    },

    async revealResult(jobId: string): Promise<void> {
      // Web mode: the client downloads `<url>?download=1`; the desktop shell reveals the file itself.
      const r = resultFile(jobId);
      if (!fs.existsSync(r.file)) throw new UserInputError(`the result file ${r.file} no longer exists`);
    },

    async close() {
      events.removeAllListeners();
      await jobs.close();
    },
  };
  return services;
}
