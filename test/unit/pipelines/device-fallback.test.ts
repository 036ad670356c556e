import { describe, expect, test } from 'vitest';
import { DeviceFallback } from '../../../electron/engine/pipelines/device-fallback.js';
import { CancelledError } from '../../../electron/engine/pipelines/pipeline-context.js';
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
});
