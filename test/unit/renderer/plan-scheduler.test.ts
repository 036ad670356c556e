// The estimate scheduler behind usePlan: sizes changed in quick succession give one request after
// the pause, a late answer for old values never replaces the newest one, and null clears.
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { PlanScheduler, type PlanState } from '../../../renderer/src/planScheduler.js';
import type { PlanAnswer, PlanQuery } from '../../../shared/umo-api.js';
import { FakeUmoApi } from './fake-umo-api.js';

const q = (width: number): PlanQuery => ({ backbone: 'uno', width, height: 512, references: 0 });

beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => { vi.useRealTimers(); });

function setup(ask?: (query: PlanQuery) => Promise<PlanAnswer>) {
  const api = new FakeUmoApi();
  const states: PlanState[] = [];
  const s = new PlanScheduler(ask ?? ((x) => api.planRequest(x)), (st) => states.push(st), 300);
  return { api, states, s };
}

describe('PlanScheduler', () => {
  test('debounced: three sizes within the pause give one request, for the last size', async () => {
    const { api, states, s } = setup();
    s.set(q(512));
    s.set(q(640));
    await vi.advanceTimersByTimeAsync(200);
    s.set(q(768));
    await vi.advanceTimersByTimeAsync(299);
    expect(api.planQueries).toEqual([]);
    expect(states.at(-1)!.pending).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(api.planQueries).toEqual([q(768)]);
    expect(states.at(-1)!.pending).toBe(false);
    expect(states.at(-1)!.answer?.plan.request.width).toBe(768);
    // Values typed after the pause ask again.
    s.set(q(1024));
    await vi.advanceTimersByTimeAsync(300);
    expect(api.planQueries.map((x) => x.width)).toEqual([768, 1024]);
  });

  test('a late answer for old values is dropped; errors are shown; null clears without asking', async () => {
    const api = new FakeUmoApi();
    let release: () => void = () => undefined;
    const { states, s } = setup(async (query) => {
      if (query.width === 512) await new Promise<void>((r) => { release = r; });
      if (query.width === 2048) throw new Error('No memory estimate: model files are missing');
      return api.planRequest(query);
    });
    s.set(q(512));
    await vi.advanceTimersByTimeAsync(300);
    s.set(q(1024));
    await vi.advanceTimersByTimeAsync(300);
    expect(states.at(-1)!.answer?.plan.request.width).toBe(1024);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(states.at(-1)!.answer?.plan.request.width).toBe(1024);

    s.set(q(2048));
    await vi.advanceTimersByTimeAsync(300);
    expect(states.at(-1)).toEqual({ answer: null, error: 'No memory estimate: model files are missing', pending: false });

    const asked = api.planQueries.length;
    s.set(null);
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.planQueries).toHaveLength(asked);
    expect(states.at(-1)).toEqual({ answer: null, error: null, pending: false });
  });
});
