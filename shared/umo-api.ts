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
  /** Store a reference image (validated and decoded by the app); bytes in web mode, a path on desktop. */
  importReference(input: { name: string; bytes: Uint8Array } | { path: string }): Promise<ReferenceImage>;
  /** Use a previous result as a reference image. */
  referenceFromResult(jobId: string): Promise<ReferenceImage>;
  generate(request: GenerateRequestInput): Promise<{ jobId: string }>;
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
  importReference: z.tuple([z.union([
    z.object({ name: z.string().min(1).max(255), bytes: z.instanceof(Uint8Array) }),
    z.object({ path: z.string().min(1) }),
  ])]),
  referenceFromResult: z.tuple([z.string().min(1)]),
  generate: z.tuple([GenerateRequestSchema]),
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
