// The utilityProcess transport: EngineHost talks to a (fake) utility process through it, and the
// process is forked with the engine entry and the service name.
import { describe, expect, it, vi } from 'vitest';
import { EngineHost } from '../../../electron/services/engine-host.js';
import { ENGINE_SERVICE_NAME, engineEntryInApp, utilityEngineProcess, utilityProcessSpawner, type UtilityFork } from '../../../electron/main/engine-process.js';
import { FakeUtilityProcess } from './electron-mock.js';

describe('utilityProcess engine transport', () => {
  it('forks the engine entry with the service name', () => {
    const fork = vi.fn(() => new FakeUtilityProcess());
    const spawn = utilityProcessSpawner(fork as unknown as UtilityFork, engineEntryInApp('/opt/umo/resources/app.asar'));
    spawn();
    expect(fork).toHaveBeenCalledWith('/opt/umo/resources/app.asar/dist/electron/engine/engine-main.js', [], { serviceName: 'UMO Studio engine', stdio: 'inherit' });
    expect(ENGINE_SERVICE_NAME).toBe('UMO Studio engine');
  });

  it('posts messages, forwards messages and exit codes, and stops sending after exit', () => {
    const child = new FakeUtilityProcess();
    const proc = utilityEngineProcess(child as unknown as Parameters<typeof utilityEngineProcess>[0]);
    const got: unknown[] = [];
    const exits: Array<[number | null, string | null]> = [];
    proc.onMessage((m) => got.push(m));
    proc.onExit((code, signal) => exits.push([code, signal]));
    proc.send({ type: 'probe' });
    expect(child.posted).toEqual([{ type: 'probe' }]);
    child.emit('message', { type: 'ready', pid: 1 });
    expect(got).toEqual([{ type: 'ready', pid: 1 }]);
    child.emit('exit', 134);
    expect(exits).toEqual([[134, null]]);
    proc.send({ type: 'probe' });
    proc.kill();
    expect(child.posted).toHaveLength(1);
    expect(child.killed).toBe(false);
  });

  it('drives EngineHost: a job runs, and a crash fails the job and respawns the engine', async () => {
    const children: FakeUtilityProcess[] = [];
    const fork = vi.fn(() => {
      const c = new FakeUtilityProcess();
      children.push(c);
      // The engine answers "ready" once it is up.
      queueMicrotask(() => c.emit('message', { type: 'ready', pid: 100 + children.length }));
      return c;
    });
    const host = new EngineHost(utilityProcessSpawner(fork as unknown as UtilityFork, '/app/engine-main.js'));
    const env = { modelsRoot: null, outputDir: '/out', cacheDir: '/cache' };
    const request = { backbone: 'uno' as const, prompt: 'p', width: 512, height: 512, steps: 1, guidance: 4, seed: 1 };
    const job = host.generate(request, env as never, 'job-1');
    await vi.waitFor(() => expect(children[0]?.posted.some((m) => (m as { type: string }).type === 'generate')).toBe(true));
    const result = { file: '/out/a.png', width: 512, height: 512, seed: 1, backbone: 'uno', metadata: {}, timingsMs: {}, warnings: [] };
    children[0].emit('message', { type: 'done', jobId: 'job-1', result });
    await expect(job.result).resolves.toMatchObject({ file: '/out/a.png' });

    const job2 = host.generate(request, env as never, 'job-2');
    await vi.waitFor(() => expect(children[0].posted.filter((m) => (m as { type: string }).type === 'generate')).toHaveLength(2));
    children[0].emit('exit', 9);
    await expect(job2.result).rejects.toThrow(/engine process stopped unexpectedly \(exit code 9\)/);
    await vi.waitFor(() => expect(fork).toHaveBeenCalledTimes(2));
    await host.stop();
    expect(children[1].killed).toBe(true);
  });
});
