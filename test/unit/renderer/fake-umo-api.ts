// An in-memory UmoApi for renderer tests and screenshots (test code only, never shipped): settings,
// references (PNG/JPEG/WebP bytes become data URLs; anything else is refused like the app does),
// a simulated job with phases, steps and ETA, SVG results with metadata, history and LoRAs.
import { parseGenerateRequest, RANDOM_SEED, type GenerateRequestInput } from '../../../shared/backbone-params.js';
import type { GenerationResult } from '../../../shared/engine-protocol.js';
import type { BackboneId } from '../../../shared/model-manifests.js';
import { DEFAULT_SETTINGS, SettingsSchema, type LoraEntry, type Settings, type SettingsPatch } from '../../../shared/settings.js';
import type {
  AppInfo, DeviceInfo, GenerateOptions, HistoryItem, ModelStatus, PlanAnswer, PlanQuery, ReferenceImage, UmoApi, UmoEvent,
} from '../../../shared/umo-api.js';

export interface FakeOptions {
  mode?: 'desktop' | 'web';
  /** Milliseconds per simulated denoising step. */
  stepMs?: number;
  ready?: boolean;
  demoAvailable?: boolean;
  settings?: Partial<Settings>;
  /** Make the next generation fail with this message. */
  failWith?: string;
  /**
   * A device-fallback warning the engine sends during denoising (as DeviceFallback does when a GPU
   * session fails) and repeats in the result's warnings.
   */
  fallbackWarning?: string;
  /** Milliseconds before a plan answer arrives (the real planner reads checkpoint headers). */
  planDelayMs?: number;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function base64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i];
    const b = i + 1 < bytes.length ? bytes[i + 1] : 0;
    const c = i + 2 < bytes.length ? bytes[i + 2] : 0;
    out += B64[a >> 2] + B64[((a & 3) << 4) | (b >> 4)];
    out += i + 1 < bytes.length ? B64[((b & 15) << 2) | (c >> 6)] : '=';
    out += i + 2 < bytes.length ? B64[c & 63] : '=';
  }
  return out;
}

function sniffImage(bytes: Uint8Array): string | null {
  if (bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'image/png';
  if (bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length > 12 && String.fromCharCode(...bytes.slice(8, 12)) === 'WEBP') return 'image/webp';
  return null;
}

function pngSize(bytes: Uint8Array): { width: number; height: number } {
  if (bytes.length < 24 || bytes[0] !== 0x89) return { width: 0, height: 0 };
  const u32 = (o: number) => ((bytes[o] << 24) | (bytes[o + 1] << 16) | (bytes[o + 2] << 8) | bytes[o + 3]) >>> 0;
  return { width: u32(16), height: u32(20) };
}

function svgResult(width: number, height: number, seed: number, prompt: string): string {
  const hue = seed % 360;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`
    + `<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${hue},70%,55%)"/>`
    + `<stop offset="1" stop-color="hsl(${(hue + 140) % 360},70%,35%)"/></linearGradient></defs>`
    + `<rect width="100%" height="100%" fill="url(#g)"/><circle cx="${width / 2}" cy="${height / 2}" r="${Math.min(width, height) / 4}" fill="rgba(255,255,255,0.25)"/>`
    + `<text x="50%" y="92%" font-family="sans-serif" font-size="${Math.round(height / 24)}" fill="white" text-anchor="middle">${escapeXml(prompt.slice(0, 40))} · seed ${seed}</text></svg>`;
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export class FakeUmoApi implements UmoApi {
  settings: Settings;
  readonly history: HistoryItem[] = [];
  readonly requests: GenerateRequestInput[] = [];
  readonly references = new Map<string, ReferenceImage>();
  private readonly listeners = new Set<(ev: UmoEvent) => void>();
  private nextId = 1;
  private running: { jobId: string; cancelled: boolean } | null = null;

  constructor(readonly opts: FakeOptions = {}) {
    this.settings = SettingsSchema.parse({ ...DEFAULT_SETTINGS, ...opts.settings });
  }

  emit(ev: UmoEvent): void {
    for (const l of this.listeners) l(ev);
  }

  async getAppInfo(): Promise<AppInfo> {
    return { version: '0.1.0-test', mode: this.opts.mode ?? 'web', platform: 'linux' };
  }

  async getSettings(): Promise<Settings> {
    return this.settings;
  }

  async updateSettings(patch: SettingsPatch): Promise<Settings> {
    this.settings = SettingsSchema.parse({ ...this.settings, ...patch });
    this.emit({ type: 'settings-changed', settings: this.settings });
    return this.settings;
  }

  async getModelStatus(backbone: BackboneId): Promise<ModelStatus> {
    const ready = this.opts.ready ?? true;
    if (backbone === 'omnigen2') {
      return { backbone, ready: false, components: [], missingBytes: 0, freeDiskBytes: 500e9, demoAvailable: false };
    }
    const comp = (id: string, label: string, repo: string, file: string, approxBytes: number, found: boolean, optional = false) => ({
      id, label, repo, file, optional, approxBytes,
      status: found ? 'found' as const : 'missing' as const,
      path: found ? `/models/${repo}/${file}` : undefined,
      source: found ? 'models-root' as const : undefined,
      bytes: found ? approxBytes : undefined,
      searched: found ? [] : ['/models', '~/.cache/huggingface/hub'],
      downloadUrl: `https://huggingface.co/${repo}`,
    });
    const components = [
      comp('dit', 'FLUX.1-dev transformer', 'black-forest-labs/FLUX.1-dev', 'flux1-dev.safetensors', 23.8e9, ready),
      comp('ae', 'FLUX autoencoder', 'black-forest-labs/FLUX.1-dev', 'ae.safetensors', 335e6, ready),
      { ...comp('t5', 'T5-XXL text encoder', 'xlabs-ai/xflux_text_encoders', '', 9.52e9, ready), ...(ready ? {} : { status: 'invalid' as const, path: '/models/t5', problem: 'model-00002-of-00002.safetensors is truncated (expected 4.5 GB, found 1.2 GB)' }) },
      comp('clip', 'CLIP ViT-L/14 text encoder', 'openai/clip-vit-large-patch14', '', 1.71e9, ready),
      comp('umo_lora', 'UMO LoRA for UNO', 'bytedance-research/UMO', 'UMO_UNO.safetensors', 1.91e9, ready, true),
    ];
    return { backbone, ready, components, missingBytes: ready ? 0 : 35.4e9, freeDiskBytes: 120e9, demoAvailable: this.opts.demoAvailable ?? false };
  }

  async installDemoModel(): Promise<ModelStatus> {
    this.opts.demoAvailable = true;
    await this.updateSettings({ useDemoModel: true, backbone: 'uno' });
    return this.getModelStatus('uno');
  }

  async listDevices(): Promise<DeviceInfo[]> {
    return [
      { ep: 'cpu', available: true, works: true, detail: '2 threads' },
      { ep: 'webgpu', available: true, works: false, detail: 'no GPU adapter' },
    ];
  }

  readonly planQueries: PlanQuery[] = [];

  /**
   * A stand-in for the planner: 1 GiB of weights plus 4 KiB per output pixel and 1 GiB per reference,
   * against the settings' budget (16 GiB when none is set) minus a 1/16 reserve.
   */
  async planRequest(query: PlanQuery): Promise<PlanAnswer> {
    this.planQueries.push(query);
    if (this.opts.planDelayMs) await new Promise((r) => setTimeout(r, this.opts.planDelayMs));
    const GiB = 1024 ** 3;
    const budgetBytes = (this.settings.memoryBudgetGiB ?? 16) * GiB;
    const weights = GiB;
    const activations = query.width * query.height * 4096 + query.references * GiB;
    const peakBytes = weights + activations;
    const fits = peakBytes <= budgetBytes * (15 / 16);
    return {
      ep: 'cpu',
      budget: { bytes: budgetBytes, source: this.settings.memoryBudgetGiB === null ? 'assumed' : 'setting', detail: 'fake budget' },
      plan: {
        backbone: query.backbone, device: 'cpu', budgetBytes, reserveBytes: budgetBytes / 16, fits, peakBytes,
        residency: 'one-phase-at-a-time',
        phases: [{
          name: 'denoise', components: [{ id: 'dit', precision: 'int8', quantizeModulation: false, weightBytes: weights }],
          residentWeightBytes: weights, activationBytes: activations, activationPeakAt: 'dit: attention', peakBytes,
        }],
        gaveUp: ['DiT int8 instead of fp16'], notes: [],
        request: { width: query.width, height: query.height, references: query.references, referenceSize: 512, batch: 1, cfgPasses: 1 },
        ...(fits ? {} : { reason: 'does not fit: lower the resolution or raise the budget' }),
      },
    };
  }

  async importReference(input: { name: string; bytes: Uint8Array } | { path: string }): Promise<ReferenceImage> {
    if ('path' in input) throw new Error(`${input.path}: paths are not supported by the fake API`);
    const type = sniffImage(input.bytes);
    if (!type) throw new Error(`${input.name} is not a supported image (PNG, JPEG or WebP expected)`);
    const id = `ref-${this.nextId++}`;
    const size = pngSize(input.bytes);
    const ref: ReferenceImage = {
      id, url: `data:${type};base64,${base64(input.bytes)}`, path: `/refs/${id}-${input.name}`, name: input.name,
      width: size.width || 512, height: size.height || 512,
    };
    this.references.set(id, ref);
    return ref;
  }

  async referenceFromResult(jobId: string): Promise<ReferenceImage> {
    const item = this.history.find((h) => h.jobId === jobId);
    if (!item) throw new Error(`no result for job ${jobId}`);
    const id = `ref-${this.nextId++}`;
    return { id, url: item.url, path: item.result.file, name: `result-${jobId}.png`, width: item.result.width, height: item.result.height };
  }

  readonly generateOptions: Array<GenerateOptions | undefined> = [];

  async generate(input: GenerateRequestInput, options?: GenerateOptions): Promise<{ jobId: string }> {
    const request = parseGenerateRequest(input);
    if (this.running) throw new Error('a generation is already running');
    this.requests.push(input);
    this.generateOptions.push(options);
    const jobId = `job-${this.nextId++}`;
    const job = { jobId, cancelled: false };
    this.running = job;
    const stepMs = this.opts.stepMs ?? 60;
    let failWith = this.opts.failWith;
    this.opts.failWith = undefined;
    // Like the engine: a plan that does not fit is refused unless the user chose "Load anyway".
    const { plan } = await this.planRequest({ backbone: request.backbone, width: request.width, height: request.height, references: request.references.length });
    this.planQueries.pop();
    const refused = !plan.fits && !options?.loadAnyway;
    if (refused) failWith = `${plan.reason}\n(to run anyway, choose "Load anyway" or pass --load-anyway)`;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    void (async () => {
      const t0 = Date.now();
      const phases = ['loading', 'encoding', 'references'] as const;
      for (const phase of phases) {
        this.emit({ type: 'phase', jobId, phase });
        await sleep(stepMs);
        if (job.cancelled) return this.finishCancelled(jobId);
      }
      if (failWith) {
        this.running = null;
        this.emit({ type: 'failed', jobId, message: failWith, ...(refused ? { code: 'does-not-fit' } : {}) });
        return;
      }
      const fallback = this.opts.fallbackWarning;
      if (fallback) this.emit({ type: 'warning', jobId, message: fallback });
      for (let step = 1; step <= request.steps; step++) {
        await sleep(stepMs);
        if (job.cancelled) return this.finishCancelled(jobId);
        this.emit({ type: 'progress', jobId, phase: 'denoising', step, total: request.steps, etaMs: (request.steps - step) * stepMs });
      }
      this.emit({ type: 'phase', jobId, phase: 'decoding' });
      await sleep(stepMs);
      const seed = request.seed === RANDOM_SEED ? Math.floor(Math.random() * 2 ** 31) : request.seed;
      const result: GenerationResult = {
        file: `/outputs/${jobId}.png`, width: request.width, height: request.height, seed, backbone: request.backbone,
        metadata: { request: JSON.stringify({ ...request, seed }), prompt: request.prompt, app: 'UMO Studio test' },
        timingsMs: { total: Date.now() - t0 },
        warnings: fallback ? [fallback] : [],
      };
      const item: HistoryItem = { jobId, url: svgResult(request.width, request.height, seed, request.prompt), result, createdAt: Date.now() };
      this.history.push(item);
      this.running = null;
      this.emit({ type: 'done', jobId, result });
      this.emit({ type: 'history-added', item });
    })();
    return { jobId };
  }

  private finishCancelled(jobId: string): void {
    this.running = null;
    this.emit({ type: 'cancelled', jobId });
  }

  async cancel(jobId: string): Promise<void> {
    if (this.running?.jobId === jobId) this.running.cancelled = true;
  }

  async listHistory(): Promise<HistoryItem[]> {
    return this.history.slice();
  }

  async addLora(input: { backbone: BackboneId; path?: string; name?: string; bytes?: Uint8Array }): Promise<LoraEntry | null> {
    const label = input.name ?? input.path?.split('/').pop();
    if (!label) return null;
    if (input.bytes && input.bytes.length < 8) throw new Error(`${label} is not a safetensors file (too short)`);
    const entry: LoraEntry = { path: input.path ?? `/loras/${label}`, label, backbone: input.backbone };
    this.settings = SettingsSchema.parse({ ...this.settings, recentLoras: [entry, ...this.settings.recentLoras.filter((l) => l.path !== entry.path)] });
    this.emit({ type: 'settings-changed', settings: this.settings });
    return entry;
  }

  async setActiveLora(backbone: BackboneId, path: string | null): Promise<Settings> {
    if (path !== null && !this.settings.recentLoras.some((l) => l.path === path)) throw new Error(`unknown LoRA ${path}`);
    this.settings = SettingsSchema.parse({ ...this.settings, activeLora: { ...this.settings.activeLora, [backbone]: path } });
    this.emit({ type: 'settings-changed', settings: this.settings });
    return this.settings;
  }

  async revealResult(_jobId: string): Promise<void> {}

  onEvent(listener: (ev: UmoEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** Entry of the browser bundle: installs `window.umo` before the app starts. */
export function installFakeUmo(target: { umo?: UmoApi; fakeUmo?: FakeUmoApi }, opts: FakeOptions = {}): FakeUmoApi {
  const api = new FakeUmoApi(opts);
  target.umo = api;
  target.fakeUmo = api;
  return api;
}
