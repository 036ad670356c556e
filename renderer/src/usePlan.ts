// The memory estimate of the current request: asked for again (debounced, newest values only) when
// the backbone, size, number of references or the device/budget/model settings change.
import { useEffect, useRef, useState } from 'react';
import type { Settings } from '../../shared/settings.js';
import type { PlanQuery } from '../../shared/umo-api.js';
import { useUmo } from './api/api-context.js';
import { errorMessage } from './api/file-source.js';
import { IDLE_PLAN, PlanScheduler, type PlanState } from './planScheduler.js';

export type { PlanState };

/** How long the user may pause between size edits before the estimate is asked for. */
export const PLAN_DEBOUNCE_MS = 350;

export function usePlan(query: PlanQuery | null, settings: Settings, debounceMs = PLAN_DEBOUNCE_MS): PlanState {
  const api = useUmo();
  const [state, setState] = useState<PlanState>(IDLE_PLAN);
  const scheduler = useRef<PlanScheduler | null>(null);
  useEffect(() => {
    const s = new PlanScheduler((q) => api.planRequest(q), setState, debounceMs, errorMessage);
    scheduler.current = s;
    return () => s.dispose();
  }, [api, debounceMs]);
  // `key` stands for the query and the settings that change a plan.
  const key = query ? JSON.stringify([query, settings.devicePreference, settings.memoryBudgetGiB, settings.modelsRoot,
    settings.modelOverrides, settings.useDemoModel]) : null;
  useEffect(() => {
    scheduler.current?.set(key ? (JSON.parse(key) as [PlanQuery])[0] : null);
  }, [key, api, debounceMs]);
  return state;
}
