import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { EngineHost, JobCancelledError, JobFailedError, forkEngineProcess } from '../../../electron/services/engine-host.js';
import type { EngineEvent, JobEnvironment } from '../../../shared/engine-protocol.js';

const fake = path.resolve('test/fixtures/engine-fakes/scripted-engine.mjs');
const env: JobEnvironment = {
  modelsRoot: null, overrides: {}, outputDir: '/tmp', cacheDir: '/tmp', cacheLimitBytes: 1e9, ep: 'cpu', appVersion: 'test', demo: false,
};
const req = (prompt: string) => ({ backbone: 'uno' as const, prompt });

let host: EngineHost | null = null;
afterEach(async () => { await host?.stop(); host = null; });

describe('EngineHost', () => {
  test('runs jobs one at a time in order and streams validated events', async () => {
    host = new EngineHost(() => forkEngineProcess(fake));
    const events: EngineEvent[] = [];
    host.on('event', (e: EngineEvent) => events.push(e));
    const a = host.generate(req('a'), env);
    const b = host.generate(req('b'), env);
    expect(host.queuedJobIds.length + (host.runningJobId ? 1 : 0)).toBe(2);
    const [ra, rb] = await Promise.all([a.result, b.result]);
    expect(ra.metadata.prompt).toBe('a');
    expect(rb.metadata.prompt).toBe('b');
    const done = events.filter((e) => e.type === 'done').map((e) => (e as { jobId: string }).jobId);
    expect(done).toEqual([a.jobId, b.jobId]);
  });

  test('a crash fails the job with a clear message, restarts the engine, and the next job works', async () => {
    host = new EngineHost(() => forkEngineProcess(fake));
    const crash = host.generate(req('crash'), env);
    const next = host.generate(req('after'), env);
    await expect(crash.result).rejects.toThrow(/engine process stopped unexpectedly \(exit code 3\).*restarted/);
    await expect(crash.result).rejects.toBeInstanceOf(JobFailedError);
    expect((await next.result).metadata.prompt).toBe('after');
    expect(host.restarts).toBe(1);
  });

  test('cancel between steps ends the job without a restart', async () => {
    host = new EngineHost(() => forkEngineProcess(fake));
    const job = host.generate(req('slow'), env);
    await new Promise<void>((r) => host!.on('event', (e: EngineEvent) => { if (e.type === 'progress' && e.step === 3) r(); }));
    expect(host.cancel(job.jobId)).toBe(true);
    await expect(job.result).rejects.toBeInstanceOf(JobCancelledError);
    expect(host.restarts).toBe(0);
  });

  test('a step that ignores cancel is killed after the deadline and the engine respawns', async () => {
    host = new EngineHost(() => forkEngineProcess(fake), { cancelDeadlineMs: 300 });
    const job = host.generate(req('hang'), env);
    await new Promise<void>((r) => host!.on('event', (e: EngineEvent) => { if (e.type === 'phase' && e.phase === 'denoising') r(); }));
    const t0 = Date.now();
    host.cancel(job.jobId);
    await expect(job.result).rejects.toBeInstanceOf(JobCancelledError);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(host.restarts).toBe(1);
    expect((await host.generate(req('ok'), env).result).metadata.prompt).toBe('ok');
  });

  test('cancelling a queued job removes it without touching the running one', async () => {
    host = new EngineHost(() => forkEngineProcess(fake));
    const first = host.generate(req('slow'), env);
    const second = host.generate(req('x'), env);
    expect(host.cancel(second.jobId)).toBe(true);
    await expect(second.result).rejects.toBeInstanceOf(JobCancelledError);
    expect((await first.result).metadata.prompt).toBe('slow');
    expect(host.cancel('nope')).toBe(false);
  });

  test('invalid messages from the engine are reported, not trusted', async () => {
    host = new EngineHost(() => forkEngineProcess(fake));
    const events: EngineEvent[] = [];
    host.on('event', (e: EngineEvent) => events.push(e));
    await host.generate(req('garbage'), env).result;
    expect(events.some((e) => e.type === 'warning' && /invalid message/.test(e.message))).toBe(true);
    expect(events.some((e) => e.type === 'progress' && typeof e.step !== 'number')).toBe(false);
  });

  test('probe returns the engine\'s execution providers', async () => {
    host = new EngineHost(() => forkEngineProcess(fake));
    const providers = await host.probe();
    expect(providers[0]).toMatchObject({ ep: 'cpu', works: true });
  });
});
