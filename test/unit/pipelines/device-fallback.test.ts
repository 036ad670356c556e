import { describe, expect, test } from 'vitest';
import { DeviceFallback } from '../../../electron/engine/pipelines/device-fallback.js';
import { CancelledError } from '../../../electron/engine/pipelines/pipeline-context.js';
import { NetworkPool } from '../../../electron/engine/pipelines/network-pool.js';
import { SessionError, type ExecutionProvider } from '../../../electron/engine/runtime/sessions.js';

function fakeNet(log: string[], ep: ExecutionProvider) {
  return { ep, release: async () => { log.push(`release ${ep}`); } };
}

describe('DeviceFallback', () => {
  test('a GPU session failure falls back to CPU with a warning, and stays on CPU', async () => {
    const warnings: string[] = [];
    const log: string[] = [];
    const d = new DeviceFallback('webgpu', (m) => warnings.push(m));
    const out = await d.run('T5 encoder', async (ep) => {
      if (ep === 'webgpu') throw new SessionError('t5', 'webgpu', 'session creation failed: no kernel for X');
      return fakeNet(log, ep);
    }, async (net) => `ran on ${net.ep}`);
    expect(out).toBe('ran on cpu');
    expect(d.ep).toBe('cpu');
    expect(warnings).toEqual(['T5 encoder failed on webgpu (t5 on webgpu: session creation failed: no kernel for X); continuing on CPU']);
    expect(log).toEqual(['release cpu']);
  });

  test('a failure during the first run also falls back, releasing the GPU session', async () => {
    const log: string[] = [];
    const d = new DeviceFallback('webgpu', () => {});
    const out = await d.run('DiT', async (ep) => fakeNet(log, ep), async (net) => {
      if (net.ep === 'webgpu') throw new SessionError('dit', 'webgpu', 'run failed: device lost');
      return 1;
    });
    expect(out).toBe(1);
    expect(log).toEqual(['release webgpu', 'release cpu']);
  });

  test('CPU failures, cancellation and non-session errors are not retried', async () => {
    const d = new DeviceFallback('cpu', () => {});
    await expect(d.run('x', async (ep) => fakeNet([], ep), async () => { throw new SessionError('x', 'cpu', 'boom'); })).rejects.toThrow('boom');
    const g = new DeviceFallback('webgpu', () => {});
    await expect(g.run('x', async (ep) => fakeNet([], ep), async () => { throw new CancelledError(); })).rejects.toBeInstanceOf(CancelledError);
    await expect(g.run('x', async () => { throw new Error('bad checkpoint'); }, async () => 1)).rejects.toThrow('bad checkpoint');
    expect(g.ep).toBe('webgpu');
  });

  test('a resident network is created once, kept in the pool across runs, and released by retainOnly', async () => {
    const log: string[] = [];
    const pool = new NetworkPool();
    const d = new DeviceFallback('cpu', () => {});
    let creates = 0;
    const create = async (ep: ExecutionProvider) => { creates++; return fakeNet(log, ep); };
    expect(await d.run('DiT', create, async () => 1, { pool, key: 'plan|dit' })).toBe(1);
    expect(await d.run('DiT', create, async () => 2, { pool, key: 'plan|dit' })).toBe(2);
    expect(creates).toBe(1);
    expect(log).toEqual([]);
    expect(pool.keys()).toEqual(['plan|dit@cpu']);
    await pool.retainOnly(new Set(['plan|dit@cpu']));
    expect(log).toEqual([]);
    await pool.retainOnly(new Set());
    expect(log).toEqual(['release cpu']);
    expect(pool.keys()).toEqual([]);
  });

  test('a resident network that fails while running is dropped from the pool; a GPU failure falls back and keeps the CPU one', async () => {
    const log: string[] = [];
    const pool = new NetworkPool();
    const d = new DeviceFallback('webgpu', () => {});
    const out = await d.run('DiT', async (ep) => fakeNet(log, ep), async (net) => {
      if (net.ep === 'webgpu') throw new SessionError('dit', 'webgpu', 'run failed');
      return net.ep;
    }, { pool, key: 'k' });
    expect(out).toBe('cpu');
    expect(log).toEqual(['release webgpu']);
    expect(pool.keys()).toEqual(['k@cpu']);
    const c = new DeviceFallback('cpu', () => {});
    await expect(c.run('DiT', async (ep) => fakeNet(log, ep), async () => { throw new Error('bad input'); }, { pool, key: 'k' })).rejects.toThrow('bad input');
    expect(pool.keys()).toEqual([]);
    expect(log).toEqual(['release webgpu', 'release cpu']);
  });
});
