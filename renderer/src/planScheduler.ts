// Asks for the memory estimate of the newest values only: each change restarts a pause (the user
// is still typing), and an answer that arrives after newer values were set is dropped. Plain
// TypeScript (no React) so it is unit-tested with fake timers.
import type { PlanAnswer, PlanQuery } from '../../shared/umo-api.js';

export interface PlanState {
  answer: PlanAnswer | null;
  error: string | null;
  /** A newer estimate is on its way (the shown one may be for the previous values). */
  pending: boolean;
}

export const IDLE_PLAN: PlanState = { answer: null, error: null, pending: false };

export class PlanScheduler {
  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private state: PlanState = IDLE_PLAN;

  constructor(
    private readonly ask: (query: PlanQuery) => Promise<PlanAnswer>,
    private readonly onState: (state: PlanState) => void,
    private readonly debounceMs: number,
    private readonly describeError: (e: unknown) => string = (e) => (e instanceof Error ? e.message : String(e)),
  ) {}

  /** New values (null: nothing to estimate); the request goes out after `debounceMs` without changes. */
  set(query: PlanQuery | null): void {
    const my = ++this.seq;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!query) {
      this.publish(IDLE_PLAN);
      return;
    }
    this.publish({ ...this.state, pending: true });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.ask(query).then(
        (answer) => { if (this.seq === my) this.publish({ answer, error: null, pending: false }); },
        (e: unknown) => { if (this.seq === my) this.publish({ answer: null, error: this.describeError(e), pending: false }); },
      );
    }, this.debounceMs);
  }

  dispose(): void {
    this.seq++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private publish(s: PlanState): void {
    this.state = s;
    this.onState(s);
  }
}
