// Hosts the engine process: one job at a time from a FIFO queue, typed and validated messages,
// cancel = flag first, then kill + respawn when the current step overruns the deadline, and a
// clear failure plus automatic restart when the engine dies (crash, out of memory).
import { EventEmitter } from 'node:events';
import { fork } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GenerateRequestInput } from '../../shared/backbone-params.js';
import {
  EngineEventSchema, type EngineEvent, type EngineRequestInput, type GenerationResult, type JobEnvironment,
} from '../../shared/engine-protocol.js';

/** The transport to one engine process (child_process.fork, or Electron's utilityProcess). */
export interface EngineProcess {
  send(msg: EngineRequestInput): void;
  onMessage(handler: (msg: unknown) => void): void;
  onExit(handler: (code: number | null, signal: string | null) => void): void;
  kill(): void;
}

export type SpawnEngine = () => EngineProcess;

/** The package root (folder of package.json), from this module's location in src or dist. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the umo-studio package root');
    dir = up;
  }
}

/** The compiled engine entry (the engine always runs as JavaScript from dist/). */
export function engineEntryPath(): string {
  const p = path.join(packageRoot(), 'dist', 'electron', 'engine', 'engine-main.js');
  if (!fs.existsSync(p)) throw new Error(`engine entry ${p} is missing: run "npm run build" first`);
  return p;
}

export function forkEngineProcess(entry = engineEntryPath()): EngineProcess {
  const child = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
  return {
    send: (msg) => { if (child.connected) child.send(msg); },
    onMessage: (h) => child.on('message', h),
    onExit: (h) => child.on('exit', (code, signal) => h(code, signal)),
    kill: () => { child.kill('SIGKILL'); },
  };
}

export class JobCancelledError extends Error {
  constructor(readonly jobId: string) {
    super(`job ${jobId} was cancelled`);
    this.name = 'JobCancelledError';
  }
}

export class JobFailedError extends Error {
  constructor(readonly jobId: string, message: string, readonly code?: string) {
    super(message);
    this.name = 'JobFailedError';
  }
}

interface Job {
  jobId: string;
  request: GenerateRequestInput;
  env: JobEnvironment;
  resolve(r: GenerationResult): void;
  reject(e: Error): void;
  cancelTimer?: NodeJS.Timeout;
}

export interface EngineHostOptions {
  /** How long a running step may take to notice a cancel before the engine is killed. */
  cancelDeadlineMs?: number;
}

/**
 * Events: 'event' (every EngineEvent, validated), 'restart' (reason), 'probe' (providers).
 */
export class EngineHost extends EventEmitter {
  private proc: EngineProcess | null = null;
  private ready: Promise<void> | null = null;
  private readonly queue: Job[] = [];
  private running: Job | null = null;
  private stopping = false;
  private expectedExit = false;
  private jobCounter = 0;
  private readonly cancelDeadlineMs: number;
  restarts = 0;

  constructor(private readonly spawn: SpawnEngine = () => forkEngineProcess(), opts: EngineHostOptions = {}) {
    super();
    this.cancelDeadlineMs = opts.cancelDeadlineMs ?? 10_000;
  }

  /** Start the engine process (idempotent); resolves when it reports ready. */
  start(): Promise<void> {
    if (this.ready) return this.ready;
    this.ready = new Promise<void>((resolve) => {
      const proc = this.spawn();
      this.proc = proc;
      this.expectedExit = false;
      proc.onMessage((raw) => {
        const parsed = EngineEventSchema.safeParse(raw);
        if (!parsed.success) {
          this.emit('event', { type: 'warning', message: `engine sent an invalid message: ${parsed.error.issues[0]?.message}` } satisfies EngineEvent);
          return;
        }
        const ev = parsed.data;
        if (ev.type === 'ready') resolve();
        this.onEvent(ev);
      });
      proc.onExit((code, signal) => this.onExit(proc, code, signal));
    });
    return this.ready;
  }

  get busy(): boolean {
    return this.running !== null || this.queue.length > 0;
  }

  get queuedJobIds(): string[] {
    return this.queue.map((j) => j.jobId);
  }

  get runningJobId(): string | null {
    return this.running?.jobId ?? null;
  }

  /** Queue a generation; the promise settles with the result, a JobCancelledError or a JobFailedError. */
  generate(request: GenerateRequestInput, env: JobEnvironment, jobId = `job-${Date.now()}-${++this.jobCounter}`): { jobId: string; result: Promise<GenerationResult> } {
    const result = new Promise<GenerationResult>((resolve, reject) => {
      this.queue.push({ jobId, request, env, resolve, reject });
    });
    this.emit('event', { type: 'phase', jobId, phase: 'queued' } satisfies EngineEvent);
    void this.pump();
    return { jobId, result };
  }

  /** Cancel a queued or running job. Returns false when the job is unknown. */
  cancel(jobId: string): boolean {
    const qi = this.queue.findIndex((j) => j.jobId === jobId);
    if (qi >= 0) {
      const [job] = this.queue.splice(qi, 1);
      this.emit('event', { type: 'cancelled', jobId } satisfies EngineEvent);
      job.reject(new JobCancelledError(jobId));
      return true;
    }
    const job = this.running;
    if (!job || job.jobId !== jobId) return false;
    if (job.cancelTimer) return true;
    this.proc?.send({ type: 'cancel', jobId });
    job.cancelTimer = setTimeout(() => {
      if (this.running !== job) return;
      // The step did not end in time: kill the engine (also the only full VRAM reset) and respawn.
      this.running = null;
      this.emit('event', { type: 'cancelled', jobId } satisfies EngineEvent);
      job.reject(new JobCancelledError(jobId));
      this.restart(`job ${jobId} did not stop within ${this.cancelDeadlineMs} ms of cancel`);
    }, this.cancelDeadlineMs);
    return true;
  }

  async probe(): Promise<Extract<EngineEvent, { type: 'probe-result' }>['providers']> {
    await this.start();
    return new Promise((resolve) => {
      const h = (ev: EngineEvent) => {
        if (ev.type === 'probe-result') {
          this.off('event', h);
          resolve(ev.providers);
        }
      };
      this.on('event', h);
      this.proc?.send({ type: 'probe' });
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const j of this.queue.splice(0)) j.reject(new JobCancelledError(j.jobId));
    if (this.running) {
      this.running.reject(new JobCancelledError(this.running.jobId));
      this.running = null;
    }
    this.expectedExit = true;
    this.proc?.kill();
    this.proc = null;
    this.ready = null;
  }

  private async pump(): Promise<void> {
    if (this.running || this.stopping) return;
    const job = this.queue.shift();
    if (!job) return;
    this.running = job;
    await this.start();
    if (this.running !== job) return;
    this.proc?.send({ type: 'generate', jobId: job.jobId, request: job.request as never, env: job.env });
  }

  private onEvent(ev: EngineEvent): void {
    this.emit('event', ev);
    if (ev.type === 'probe-result' || ev.type === 'ready' || ev.type === 'warning') return;
    const job = this.running;
    if (!job || ev.jobId !== job.jobId) return;
    if (ev.type === 'done' || ev.type === 'failed' || ev.type === 'cancelled') {
      if (job.cancelTimer) clearTimeout(job.cancelTimer);
      this.running = null;
      if (ev.type === 'done') job.resolve(ev.result);
      else if (ev.type === 'cancelled') job.reject(new JobCancelledError(job.jobId));
      else job.reject(new JobFailedError(job.jobId, ev.message, ev.code));
      void this.pump();
    }
  }

  private restart(reason: string): void {
    this.expectedExit = true;
    const old = this.proc;
    this.proc = null;
    this.ready = null;
    old?.kill();
    this.restarts++;
    this.emit('restart', reason);
    if (!this.stopping) void this.start().then(() => this.pump());
  }

  private onExit(proc: EngineProcess, code: number | null, signal: string | null): void {
    if (proc !== this.proc) return; // an old process we already replaced
    if (this.expectedExit || this.stopping) return;
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    const job = this.running;
    this.running = null;
    if (job) {
      if (job.cancelTimer) clearTimeout(job.cancelTimer);
      const msg = `the engine process stopped unexpectedly (${how}) while running this job — possibly out of memory; the engine was restarted`;
      this.emit('event', { type: 'failed', jobId: job.jobId, message: msg, code: 'engine-crashed' } satisfies EngineEvent);
      job.reject(new JobFailedError(job.jobId, msg, 'engine-crashed'));
    }
    this.proc = null;
    this.ready = null;
    this.restarts++;
    this.emit('restart', `engine exited (${how})`);
    void this.start().then(() => this.pump());
  }
}
