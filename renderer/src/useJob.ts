// The running generation: start, cancel, and the progress/error state from engine events.
import { useCallback, useRef, useState } from 'react';
import type { GenerateRequestInput } from '../../shared/backbone-params.js';
import type { GenerationResult, Phase } from '../../shared/engine-protocol.js';
import type { GenerateOptions } from '../../shared/umo-api.js';
import { useUmo } from './api/api-context.js';
import { errorMessage } from './api/file-source.js';
import { useUmoEvents } from './useUmoEvents.js';

export interface JobProgress {
  /** null until `generate` answered (events of an unknown job are adopted meanwhile). */
  jobId: string | null;
  phase: Phase;
  detail?: string;
  step: number;
  total: number;
  etaMs: number | null;
  cancelling: boolean;
}

export interface JobState {
  job: JobProgress | null;
  error: string | null;
  notice: string | null;
  warnings: string[];
  lastSeed: number | null;
  start(request: GenerateRequestInput, options?: GenerateOptions): Promise<void>;
  cancel(): void;
  dismissError(): void;
  dismissNotice(): void;
  /** The engine's message when it refused the last job because its memory plan does not fit (else null). */
  memoryRefusal: string | null;
  clearMemoryRefusal(): void;
}

export function useJob(onDone?: (jobId: string, result: GenerationResult) => void): JobState {
  const api = useUmo();
  const [job, setJob] = useState<JobProgress | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [warnings, setWarnings] = useState<string[]>([]);
  const [lastSeed, setLastSeed] = useState<number | null>(null);
  const [memoryRefusal, setMemoryRefusal] = useState<string | null>(null);
  const jobRef = useRef<JobProgress | null>(null);
  const cancelPending = useRef(false);

  const update = (next: JobProgress | null) => {
    jobRef.current = next;
    setJob(next);
  };

  const start = useCallback(async (request: GenerateRequestInput, options?: GenerateOptions) => {
    if (jobRef.current) return;
    setError(null);
    setNotice(null);
    setWarnings([]);
    cancelPending.current = false;
    update({ jobId: null, phase: 'queued', step: 0, total: 0, etaMs: null, cancelling: false });
    try {
      const { jobId } = await (options ? api.generate(request, options) : api.generate(request));
      const cur = jobRef.current as JobProgress | null; // may have changed while awaiting
      if (cur && cur.jobId === null) update({ ...cur, jobId });
      if (cancelPending.current) void api.cancel(jobId).catch(() => undefined);
    } catch (e) {
      update(null);
      setError(errorMessage(e));
    }
  }, [api]);

  const cancel = useCallback(() => {
    const cur = jobRef.current;
    if (!cur || cur.cancelling) return;
    update({ ...cur, cancelling: true });
    if (cur.jobId) {
      api.cancel(cur.jobId).catch((e: unknown) => setError(`Cancel failed: ${errorMessage(e)}`));
    } else {
      cancelPending.current = true;
    }
  }, [api]);

  useUmoEvents((ev) => {
    if (!('jobId' in ev) || ev.jobId === undefined) {
      if (ev.type === 'warning' && jobRef.current) setWarnings((w) => [...w, ev.message]);
      return;
    }
    const cur = jobRef.current;
    if (!cur || (cur.jobId !== null && cur.jobId !== ev.jobId)) return;
    const base: JobProgress = { ...cur, jobId: ev.jobId };
    switch (ev.type) {
      case 'phase':
        update({ ...base, phase: ev.phase, detail: ev.detail, step: 0, total: 0, etaMs: null });
        break;
      case 'progress':
        update({ ...base, phase: ev.phase, step: ev.step, total: ev.total, etaMs: ev.etaMs });
        break;
      case 'warning':
        setWarnings((w) => (w.includes(ev.message) ? w : [...w, ev.message]));
        break;
      case 'done':
        update(null);
        setLastSeed(ev.result.seed);
        // The result repeats the warnings already streamed as events: show each once.
        if (ev.result.warnings.length) setWarnings((w) => [...new Set([...w, ...ev.result.warnings])]);
        onDone?.(ev.jobId, ev.result);
        break;
      case 'failed':
        update(null);
        // Refused before loading (e.g. Generate pressed before the estimate arrived): the app asks as the guardrail would.
        if (ev.code === 'does-not-fit') setMemoryRefusal(ev.message);
        else setError(ev.message);
        break;
      case 'cancelled':
        update(null);
        setNotice('Generation cancelled.');
        break;
    }
  });

  return {
    job, error, notice, warnings, lastSeed, start, cancel,
    dismissError: () => setError(null),
    dismissNotice: () => setNotice(null),
    memoryRefusal,
    clearMemoryRefusal: () => setMemoryRefusal(null),
  };
}
