// What a pipeline gets from its host: an event sink and a cancel flag, plus the helpers that turn
// them into phase/progress events with an ETA and cancellation points between steps.
import type { Phase } from '../../../shared/engine-protocol.js';

export type PipelineEvent =
  | { type: 'phase'; phase: Phase; detail?: string }
  | { type: 'progress'; phase: Phase; step: number; total: number; etaMs: number | null }
  | { type: 'warning'; message: string };

export interface PipelineContext {
  emit(ev: PipelineEvent): void;
  isCancelled(): boolean;
}

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

/** Phase timing and per-step progress with an ETA from the mean step time so far. */
export class PhaseTracker {
  readonly timings: Record<string, number> = {};
  private phaseStart = performance.now();
  private current: Phase | null = null;
  private stepStart = 0;
  private stepTimes: number[] = [];

  constructor(private readonly ctx: PipelineContext) {}

  /** Start a phase (ends the previous one); throws CancelledError when cancel was requested. */
  phase(p: Phase, detail?: string): void {
    this.checkCancel();
    this.endPhase();
    this.current = p;
    this.phaseStart = performance.now();
    this.stepTimes = [];
    this.ctx.emit({ type: 'phase', phase: p, detail });
  }

  /**
   * Progress callback for a weight bake: the 'baking' phase starts with the first merged tensor,
   * so a bake found in the cache never shows up as baking.
   */
  bakeProgress(detail: string): (done: number, total: number) => void {
    let started = false;
    return (done, total) => {
      if (!started) {
        started = true;
        this.phase('baking', detail);
      }
      this.ctx.emit({ type: 'progress', phase: 'baking', step: done, total, etaMs: null });
    };
  }

  beginSteps(total: number): void {
    this.stepStart = performance.now();
    this.ctx.emit({ type: 'progress', phase: this.current ?? 'denoising', step: 0, total, etaMs: null });
  }

  /** Report step `done` of `total` finished; then a cancellation point. */
  step(done: number, total: number): void {
    const now = performance.now();
    this.stepTimes.push(now - this.stepStart);
    this.stepStart = now;
    const mean = this.stepTimes.reduce((a, b) => a + b, 0) / this.stepTimes.length;
    this.ctx.emit({ type: 'progress', phase: this.current ?? 'denoising', step: done, total, etaMs: Math.round(mean * (total - done)) });
    this.checkCancel();
  }

  checkCancel(): void {
    if (this.ctx.isCancelled()) throw new CancelledError();
  }

  endPhase(): void {
    if (this.current) this.timings[this.current] = (this.timings[this.current] ?? 0) + performance.now() - this.phaseStart;
    this.current = null;
  }
}
