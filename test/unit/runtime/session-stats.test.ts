// sessionStats: cumulative wall time inside NetSession.run, createSession and release for this process
// (what the generation benchmark uses to find the share of time spent outside ORT).
import ort from 'onnxruntime-node';
import { beforeEach, describe, expect, it } from 'vitest';
import { GraphBuilder, type BuiltModel } from '../../../electron/engine/runtime/graph.js';
import { SessionError, createSession, resetSessionStats, sessionStats } from '../../../electron/engine/runtime/sessions.js';

/** y = x @ W for x [n, 4], W a [4, 2] constant. */
function matmul(): BuiltModel {
  const b = new GraphBuilder('stats_matmul');
  const x = b.input('x', 'float32', ['n', 4]);
  const y = b.op('MatMul', [x, b.floats([1, 2, 3, 4, 5, 6, 7, 8], [4, 2])]);
  b.output(y, 'y', 'float32', ['n', 2]);
  return b.build();
}

/** A graph whose only node has no kernel anywhere: creation fails. */
function unknownOp(): BuiltModel {
  const b = new GraphBuilder('stats_unknown_op');
  const x = b.input('x', 'float32', [1]);
  b.output(b.op('NoSuchOperatorAnywhere', [x]), 'y', 'float32', [1]);
  return b.build();
}

const feed = () => ({ x: new ort.Tensor('float32', Float32Array.from([1, 1, 1, 1, 2, 2, 2, 2]), [2, 4]) });

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* host work outside ORT */ }
}

describe('sessionStats', () => {
  beforeEach(() => resetSessionStats());

  it('resetSessionStats zeroes every counter', async () => {
    const s = await createSession(matmul(), { ep: 'cpu' });
    await s.run(feed());
    await s.release();
    expect(sessionStats.creates).toBe(1);
    resetSessionStats();
    expect({ ...sessionStats }).toEqual({ runMs: 0, runs: 0, createMs: 0, creates: 0, releaseMs: 0, releases: 0 });
  });

  it('counts session creation and its time (the same time the session reports)', async () => {
    const w0 = performance.now();
    const s = await createSession(matmul(), { ep: 'cpu' });
    const wall = performance.now() - w0;
    try {
      expect(sessionStats.creates).toBe(1);
      expect(sessionStats.createMs).toBe(s.createMs);
      expect(sessionStats.createMs).toBeGreaterThan(0);
      expect(sessionStats.createMs).toBeLessThanOrEqual(wall);
      expect(sessionStats.runs).toBe(0);
      expect(sessionStats.runMs).toBe(0);
    } finally {
      await s.release();
    }
    expect(sessionStats.releases).toBe(1);
    expect(sessionStats.releaseMs).toBeGreaterThan(0);
    await s.release(); // a second release is a no-op and not counted
    expect(sessionStats.releases).toBe(1);
  });

  it('sums the time inside run over calls and leaves host work between runs out', async () => {
    const s = await createSession(matmul(), { ep: 'cpu' });
    try {
      const w0 = performance.now();
      for (let i = 0; i < 5; i++) {
        const y = (await s.run(feed())).y.data as Float32Array;
        expect(Array.from(y)).toEqual([16, 20, 32, 40]);
        busyWait(20);
      }
      const wall = performance.now() - w0;
      expect(sessionStats.runs).toBe(5);
      expect(sessionStats.runMs).toBeGreaterThan(0);
      // 5 × 20 ms of busy host work happened outside run() and must not be counted.
      expect(sessionStats.runMs).toBeLessThanOrEqual(wall - 100);
      expect(sessionStats.creates).toBe(1);
    } finally {
      await s.release();
    }
  });

  it('counts failed runs and failed creations, not calls refused before reaching ORT', async () => {
    const s = await createSession(matmul(), { ep: 'cpu' });
    await expect(s.run({ wrong: feed().x })).rejects.toThrow(SessionError);
    expect(sessionStats.runs).toBe(1);
    expect(sessionStats.runMs).toBeGreaterThan(0);
    await s.release();
    await expect(s.run(feed())).rejects.toThrow(/already released/);
    expect(sessionStats.runs).toBe(1);

    await expect(createSession(unknownOp(), { ep: 'cpu' })).rejects.toThrow(/stats_unknown_op on cpu: session creation failed/);
    expect(sessionStats.creates).toBe(2);
  });
});
