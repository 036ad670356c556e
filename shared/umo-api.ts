// The renderer's API (`window.umo`): implemented by Electron IPC (preload) in the desktop app and by
// HTTP + WebSocket in web mode. One channel map, checked at compile time (types) and at run time
// (the zod schemas of each channel's argument).
import { z } from 'zod';
import { GenerateRequestSchema, type GenerateRequestInput } from './backbone-params.js';
import type { EngineEvent, GenerationResult } from './engine-protocol.js';
import type { BackboneId } from './model-manifests.js';
import { SettingsPatchSchema, type LoraEntry, type Settings, type SettingsPatch } from './settings.js';

export interface AppInfo {
  version: string;
  mode: 'desktop' | 'web';
  platform: string;
}

export interface ReferenceImage {
  id: string;
  /** URL the renderer can show (`app-image://…` in the desktop app, `/files/…` in web mode). */
  url: string;
  /** Absolute path of the stored copy (what generation requests carry). */
  path: string;
  name: string;
  width: number;
  height: number;
}

export interface ComponentStatus {
  id: string;
  label: string;
  repo: string;
  file: string;
  optional: boolean;
  approxBytes: number;
  status: 'found' | 'missing' | 'invalid';
  path?: string;
  source?: 'override' | 'models-root' | 'hf-cache';
  bytes?: number;
  problem?: string;
  searched: string[];
  downloadUrl: string;
}

export interface ModelStatus {
  backbone: BackboneId;
  ready: boolean;
  components: ComponentStatus[];
  /** Bytes still to download for the missing required components. */
  missingBytes: number;
  freeDiskBytes: number | null;
  /** The demo model (random weights) is installed and selectable. */
  demoAvailable: boolean;
  /** The models folder from the settings (null when none is set) and what is wrong with it, if anything. */
  modelsRoot?: { path: string; problem: string | null } | null;
  /** The Hugging Face cache folder that was searched (null when searching it is disabled). */
  hfCache?: { path: string; exists: boolean } | null;
}

/** What a desktop file dialog is for: the models folder, or one component's file/folder override. */
export type FolderChoice =
  | { kind: 'models-root' }
  | { kind: 'component'; backbone: BackboneId; component: string };

export interface HistoryItem {
  jobId: string;
  url: string;
  result: GenerationResult;
  createdAt: number;
}

export interface DeviceInfo {
  ep: string;
  available: boolean;
  works: boolean;
  detail: string;
  /** The provider the "auto" preference resolves to (e.g. a software WebGPU adapter is skipped). */
  auto?: boolean;
}

/** What a memory estimate is asked for: the request's shape (device and budget come from the settings). */
export interface PlanQuery {
  backbone: BackboneId;
  width: number;
  height: number;
  /** Number of reference images. */
  references: number;
}

/** Where the memory budget came from. */
export type BudgetSource = 'setting' | 'nvidia-smi' | 'system-ram' | 'assumed';

export interface BudgetInfo {
  bytes: number;
  source: BudgetSource;
  /** What was read and the margin taken off, e.g. "nvidia-smi: 16376 MiB total, 612 MiB in use, 512 MiB margin". */
  detail: string;
}

/** One component of a planned phase (a subset of the engine's MemoryPlan, as JSON). */
export interface PlanComponentEstimate {
  id: string;
  precision: string;
  quantizeModulation: boolean;
  weightBytes: number;
}

export interface PlanPhaseEstimate {
  name: string;
  components: PlanComponentEstimate[];
  residentWeightBytes: number;
  activationBytes: number;
  activationPeakAt: string;
  peakBytes: number;
}

/** The memory planner's plan (JSON; the engine's MemoryPlan carries at least these fields). */
export interface MemoryPlanEstimate {
  backbone: BackboneId;
  device: 'cpu' | 'gpu';
  budgetBytes: number;
  reserveBytes: number;
  fits: boolean;
  peakBytes: number;
  residency: 'all-resident' | 'one-phase-at-a-time' | 'dit-streamed';
  streamGroups?: number;
  phases: PlanPhaseEstimate[];
  gaveUp: string[];
  notes: string[];
  reason?: string;
  /** The request as planned, with the planner's defaults filled in. */
  request: { width: number; height: number; references: number; referenceSize: number; batch: number; cfgPasses: number };
}

/** The answer of `planRequest`: the plan, the budget it was made for and the execution provider. */
export interface PlanAnswer {
  plan: MemoryPlanEstimate;
  budget: BudgetInfo;
  /** The execution provider the job will use (the preference resolved against the probe). */
  ep: string;
  /** Set when the chosen provider does not work here and the CPU is planned instead. */
  deviceWarning?: string;
}

export interface GenerateOptions {
  /** Run even when the memory plan does not fit the budget. */
  loadAnyway?: boolean;
}

/** Events the app pushes to the renderer besides engine events. */
export type AppEvent =
  | { type: 'settings-changed'; settings: Settings }
  | { type: 'history-added'; item: HistoryItem }
  | { type: 'menu-command'; command: 'generate' | 'cancel' | 'open-settings' | 'open-setup' };

export type UmoEvent = EngineEvent | AppEvent;

export interface UmoApi {
  getAppInfo(): Promise<AppInfo>;
  getSettings(): Promise<Settings>;
  updateSettings(patch: SettingsPatch): Promise<Settings>;
  getModelStatus(backbone: BackboneId): Promise<ModelStatus>;
  listDevices(): Promise<DeviceInfo[]>;
  /**
   * Memory estimate for a request before anything loads: the planner over the checkpoint headers, for
   * the settings' device and budget. Rejects with the list of missing files when models are missing.
   */
  planRequest(query: PlanQuery): Promise<PlanAnswer>;
  /** Store a reference image (validated and decoded by the app); bytes in web mode, a path on desktop. */
  importReference(input: { name: string; bytes: Uint8Array } | { path: string }): Promise<ReferenceImage>;
  /** Use a previous result as a reference image. */
  referenceFromResult(jobId: string): Promise<ReferenceImage>;
  /**
   * Queue a generation. The engine plans it for the settings' budget and refuses a plan that does not
   * fit unless `loadAnyway` is set (the user's answer to the guardrail).
   */
  generate(request: GenerateRequestInput, options?: GenerateOptions): Promise<{ jobId: string }>;
  cancel(jobId: string): Promise<void>;
  listHistory(): Promise<HistoryItem[]>;
  /** Validate and remember a LoRA checkpoint (desktop: opens a file dialog when no path is given). */
  addLora(input: { backbone: BackboneId; path?: string; name?: string; bytes?: Uint8Array }): Promise<LoraEntry | null>;
  setActiveLora(backbone: BackboneId, path: string | null): Promise<Settings>;
  /**
   * Install the built-in demo model (the tiny UNO kit: random weights in the real layouts) into the
   * app's data folder if it is not there yet, switch to it (`useDemoModel`, backbone UNO) and return
   * the UNO model status.
   */
  installDemoModel(): Promise<ModelStatus>;
  /**
   * Desktop only (absent in web mode, where the UI offers a text field): a native dialog for the
   * models folder or a component override; resolves with the chosen path, or null when cancelled.
   */
  chooseFolder?(choice: FolderChoice): Promise<string | null>;
  /** Desktop only: reveal the output folder / save a copy of a result. Web mode answers with a download URL. */
  revealResult(jobId: string): Promise<void>;
  onEvent(listener: (ev: UmoEvent) => void): () => void;
}

/** Runtime schemas for the arguments of each request channel (IPC and HTTP validate with these). */
export const ApiArgSchemas = {
  getAppInfo: z.tuple([]),
  getSettings: z.tuple([]),
  updateSettings: z.tuple([SettingsPatchSchema]),
  getModelStatus: z.tuple([z.enum(['uno', 'omnigen2'])]),
  listDevices: z.tuple([]),
  planRequest: z.tuple([z.object({
    backbone: z.enum(['uno', 'omnigen2']),
    width: z.number().int().min(16).max(8192),
    height: z.number().int().min(16).max(8192),
    references: z.number().int().min(0).max(16),
  })]),
  importReference: z.tuple([z.union([
    z.object({ name: z.string().min(1).max(255), bytes: z.instanceof(Uint8Array) }),
    z.object({ path: z.string().min(1) }),
  ])]),
  referenceFromResult: z.tuple([z.string().min(1)]),
  generate: z.tuple([GenerateRequestSchema, z.object({ loadAnyway: z.boolean().optional() }).strict().optional()]),
  cancel: z.tuple([z.string().min(1)]),
  listHistory: z.tuple([]),
  addLora: z.tuple([z.object({
    backbone: z.enum(['uno', 'omnigen2']),
    path: z.string().min(1).optional(),
    name: z.string().min(1).max(255).optional(),
    bytes: z.instanceof(Uint8Array).optional(),
  })]),
  setActiveLora: z.tuple([z.enum(['uno', 'omnigen2']), z.string().min(1).nullable()]),
  revealResult: z.tuple([z.string().min(1)]),
  installDemoModel: z.tuple([]),
  chooseFolder: z.tuple([z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('models-root') }),
    z.object({ kind: z.literal('component'), backbone: z.enum(['uno', 'omnigen2']), component: z.string().min(1).max(64) }),
  ])]),
} as const;

export type ApiChannel = keyof typeof ApiArgSchemas;
export const API_CHANNELS = Object.keys(ApiArgSchemas) as ApiChannel[];

// Compile-time check: every UmoApi method except onEvent has a channel schema and vice versa.
type RequestMethods = Exclude<keyof UmoApi, 'onEvent'>;
const _channelsCoverApi: Record<RequestMethods, true> = Object.fromEntries(API_CHANNELS.map((c) => [c, true])) as Record<ApiChannel, true>;
void _channelsCoverApi;

export type { GenerateRequestInput };
