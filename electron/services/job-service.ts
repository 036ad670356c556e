// Generation jobs on top of the EngineHost: validates requests (and fills the LoRA from the
// settings when a request names none), builds each job's environment from the settings, fans the
// engine's events out to listeners, keeps the results of this session (newest first), and journals
// every job to `jobs.jsonl` (queued / started / finished) so a job cut short by the app stopping is
// reported as failed at the next start instead of vanishing.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseGenerateRequest, type GenerateRequest } from '../../shared/backbone-params.js';
import type { EngineEvent, JobEnvironment } from '../../shared/engine-protocol.js';
import type { JobMemoryOptions } from '../../shared/memory-options.js';
import type { BackboneId } from '../../shared/model-manifests.js';
import type { HistoryItem, UmoEvent } from '../../shared/umo-api.js';
import type { AppPaths } from './app-paths.js';
import type { EngineHost } from './engine-host.js';
import { validateLoraFile } from './lora-registry.js';
import { overridesFor } from './model-status-service.js';
import type { ReferenceStore } from './reference-store.js';
import { UserInputError } from './service-errors.js';
import { writeTextAtomicSync, type SettingsStore } from './settings-service.js';

export const DEFAULT_CACHE_LIMIT_BYTES = 64 * 2 ** 30;
/** Journal records kept when the journal is compacted at start. */
const JOURNAL_KEEP = 200;

type JournalRecord =
  | { event: 'queued'; jobId: string; t: number; backbone: BackboneId; prompt: string }
  | { event: 'started'; jobId: string; t: number }
  | { event: 'finished'; jobId: string; t: number; status: 'done' | 'failed' | 'cancelled' | 'interrupted' };

export interface InterruptedJob {
  jobId: string;
  backbone: BackboneId | null;
  prompt: string;
  queuedAt: number | null;
  started: boolean;
  /** The failure event reported for it. */
  event: Extract<EngineEvent, { type: 'failed' }>;
}

export interface JobServiceOptions {
  host: EngineHost;
  settings: SettingsStore;
  paths: AppPaths;
  references: ReferenceStore;
  appVersion: string;
  /** URL the renderer uses for a result file. */
  outputUrl(file: string): string;
  demoAvailable(): boolean;
  hfCache?: string | null;
  cacheLimitBytes?: number;
}

interface JobRecord {
  jobId: string;
  request: GenerateRequest;
  started: boolean;
  finished: boolean;
}

export class JobService {
  private readonly listeners = new Set<(ev: UmoEvent) => void>();
  private readonly jobs = new Map<string, JobRecord>();
  private readonly history: HistoryItem[] = [];
  private closed = false;
  /** Jobs the previous run left unfinished (reported once, see AppServices). */
  readonly interrupted: readonly InterruptedJob[];
  private readonly onHostEvent = (ev: EngineEvent) => this.handleEngineEvent(ev);

  constructor(private readonly opts: JobServiceOptions) {
    this.interrupted = recoverJournal(opts.paths.jobJournal);
    opts.host.on('event', this.onHostEvent);
  }

  onEvent(listener: (ev: UmoEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The environment a job of this backbone runs with, from the current settings. */
  environment(backbone: BackboneId): JobEnvironment {
    const s = this.opts.settings.get();
    const demo = s.useDemoModel && backbone === 'uno' && this.opts.demoAvailable();
    const outputDir = path.resolve(s.outputDir ?? this.opts.paths.defaultOutputDir);
    fs.mkdirSync(outputDir, { recursive: true });
    fs.mkdirSync(this.opts.paths.cacheDir, { recursive: true });
    const env: JobEnvironment = {
      modelsRoot: demo ? this.opts.paths.demoModelsDir : s.modelsRoot,
      overrides: demo ? {} : overridesFor(s, backbone),
      outputDir,
      cacheDir: this.opts.paths.cacheDir,
      cacheLimitBytes: this.opts.cacheLimitBytes ?? DEFAULT_CACHE_LIMIT_BYTES,
      ep: s.devicePreference,
      appVersion: this.opts.appVersion,
      demo,
    };
    if (demo) env.hfCache = null;
    else if (this.opts.hfCache !== undefined) env.hfCache = this.opts.hfCache;
    return env;
  }

  /**
   * Validate a request from the UI: schema and ranges, references must be images imported through
   * the app, the LoRA (the settings' active one when the request names none) must be a valid file.
   */
  resolveRequest(input: unknown): GenerateRequest {
    const request = parseGenerateRequest(input);
    const raw = input as { lora?: unknown };
    if (raw.lora === undefined) {
      const s = this.opts.settings.get();
      request.lora = { path: s.activeLora[request.backbone], scale: s.loraScale };
    }
    const problems: string[] = [];
    request.references.forEach((r, i) => {
      if (!this.opts.references.holds(r)) problems.push(`references.${i}: ${r} is not a reference image imported into the app (import it first)`);
    });
    if (problems.length) throw new UserInputError(`invalid generation request:\n  ${problems.join('\n  ')}`, problems);
    if (request.lora.path) {
      if (!fs.existsSync(request.lora.path)) throw new UserInputError(`the LoRA file ${request.lora.path} does not exist (any more); choose another LoRA or "No LoRA"`);
      validateLoraFile(request.lora.path, request.backbone);
    }
    return request;
  }

  /** Queue a job; `memory` (budget, "load anyway") goes into its environment for the engine's plan. */
  generate(input: unknown, memory?: JobMemoryOptions): { jobId: string } {
    if (this.closed) throw new Error('the app is shutting down');
    const request = this.resolveRequest(input);
    const env = this.environment(request.backbone);
    if (memory) env.memory = memory;
    const jobId = `job-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
    this.jobs.set(jobId, { jobId, request, started: false, finished: false });
    this.journal({ event: 'queued', jobId, t: Date.now(), backbone: request.backbone, prompt: request.prompt.slice(0, 200) });
    const { result } = this.opts.host.generate(request, env, jobId);
    // Outcomes arrive as events; the promise only settles without one when the host is stopped.
    result.catch(() => undefined);
    return { jobId };
  }

  cancel(jobId: string): void {
    const job = this.jobs.get(jobId);
    if (!job) throw new UserInputError(`no job ${jobId} in this session`);
    if (job.finished) return;
    this.opts.host.cancel(jobId);
  }

  /** Results of this session, newest first. */
  listHistory(): HistoryItem[] {
    return [...this.history];
  }

  historyItem(jobId: string): HistoryItem | undefined {
    return this.history.find((h) => h.jobId === jobId);
  }

  /** Folders results of this session were written to (the files route serves from these). */
  outputDirs(): string[] {
    const s = this.opts.settings.get();
    const dirs = [path.resolve(s.outputDir ?? this.opts.paths.defaultOutputDir), this.opts.paths.defaultOutputDir,
      ...this.history.map((h) => path.dirname(path.resolve(h.result.file)))];
    return [...new Set(dirs)];
  }

  /** Stop journaling and the engine; a job still running stays "unfinished" in the journal on purpose. */
  async close(): Promise<void> {
    this.closed = true;
    this.opts.host.off('event', this.onHostEvent);
    await this.opts.host.stop();
  }

  private handleEngineEvent(ev: EngineEvent): void {
    if (this.closed) return;
    const jobId = 'jobId' in ev ? ev.jobId : undefined;
    const job = jobId ? this.jobs.get(jobId) : undefined;
    let added: HistoryItem | null = null;
    if (job && !job.finished) {
      if (!job.started && ((ev.type === 'phase' && ev.phase !== 'queued') || ev.type === 'progress')) {
        job.started = true;
        this.journal({ event: 'started', jobId: job.jobId, t: Date.now() });
      }
      if (ev.type === 'done' || ev.type === 'failed' || ev.type === 'cancelled') {
        job.finished = true;
        this.journal({ event: 'finished', jobId: job.jobId, t: Date.now(), status: ev.type });
        if (ev.type === 'done') {
          added = { jobId: job.jobId, url: this.opts.outputUrl(ev.result.file), result: ev.result, createdAt: Date.now() };
          this.history.unshift(added);
        }
      }
    }
    this.emit(ev);
    if (added) this.emit({ type: 'history-added', item: added });
  }

  private emit(ev: UmoEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(ev);
      } catch (e) {
        console.error('umo: an event listener failed:', e);
      }
    }
  }

  private journal(rec: JournalRecord): void {
    try {
      fs.mkdirSync(path.dirname(this.opts.paths.jobJournal), { recursive: true });
      fs.appendFileSync(this.opts.paths.jobJournal, `${JSON.stringify(rec)}\n`);
    } catch (e) {
      console.error(`umo: cannot write the job journal ${this.opts.paths.jobJournal}:`, e);
    }
  }
}

/** Read the journal, find jobs that never finished, mark them interrupted, and compact the file. */
export function recoverJournal(file: string): InterruptedJob[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const records: JournalRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as JournalRecord;
      if (r && typeof r.jobId === 'string' && typeof r.event === 'string') records.push(r);
    } catch { /* a line cut short by a crash */ }
  }
  const state = new Map<string, { queued?: Extract<JournalRecord, { event: 'queued' }>; started: boolean; finished: boolean }>();
  for (const r of records) {
    const s = state.get(r.jobId) ?? { started: false, finished: false };
    if (r.event === 'queued') s.queued = r;
    else if (r.event === 'started') s.started = true;
    else if (r.event === 'finished') s.finished = true;
    state.set(r.jobId, s);
  }
  const now = Date.now();
  const out: InterruptedJob[] = [];
  for (const [jobId, s] of state) {
    if (s.finished) continue;
    const prompt = s.queued?.prompt ?? '';
    const when = s.queued ? new Date(s.queued.t).toLocaleString() : 'an unknown time';
    const what = `${s.queued?.backbone === 'omnigen2' ? 'OmniGen2' : 'UNO'} job${prompt ? ` "${prompt.length > 60 ? `${prompt.slice(0, 60)}…` : prompt}"` : ''} from ${when}`;
    const message = `the app stopped during this job (${what}, ${s.started ? 'while it was running' : 'before it started'}); it did not finish — generate again`;
    out.push({
      jobId, backbone: s.queued?.backbone ?? null, prompt, queuedAt: s.queued?.t ?? null, started: s.started,
      event: { type: 'failed', jobId, message, code: 'interrupted' },
    });
    records.push({ event: 'finished', jobId, t: now, status: 'interrupted' });
  }
  // Compact: keep the most recent records only, rewritten atomically.
  const kept = records.slice(-JOURNAL_KEEP);
  try {
    writeTextAtomicSync(file, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
  } catch (e) {
    console.error(`umo: cannot rewrite the job journal ${file}:`, e);
  }
  return out;
}
