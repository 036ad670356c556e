import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { createAppServices, type AppServices } from '../../../electron/services/app-services.js';
import { forkEngineProcess } from '../../../electron/services/engine-host.js';
import type { UmoEvent } from '../../../shared/umo-api.js';
import { pngBytes, tempDir, unoLoraBytes, WRITING_ENGINE } from './service-fixtures.js';

const open: AppServices[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function services(dataDir = tempDir()): Promise<AppServices> {
  const s = await createAppServices({ dataDir, mode: 'web', spawnEngine: () => forkEngineProcess(WRITING_ENGINE), hfCache: null, appVersion: '9.9.9' });
  open.push(s);
  return s;
}

function waitFor(s: AppServices, pred: (ev: UmoEvent) => boolean): Promise<UmoEvent> {
  return new Promise((resolve) => {
    const off = s.subscribe((ev) => {
      if (pred(ev)) {
        off();
        resolve(ev);
      }
    });
  });
}

const isEnd = (jobId: string) => (ev: UmoEvent) => (ev.type === 'done' || ev.type === 'failed' || ev.type === 'cancelled') && ev.jobId === jobId;

describe('createAppServices', () => {
  test('generate: environment from settings, the active LoRA when the request has none, events in order, history newest first', async () => {
    const s = await services();
    const lora = path.join(s.paths.dataDir, 'umo.safetensors');
    fs.writeFileSync(lora, unoLoraBytes());
    await s.addLora({ backbone: 'uno', path: lora });
    await s.setActiveLora('uno', lora);
    await s.updateSettings({ loraScale: 0.75, devicePreference: 'cpu', modelsRoot: '/models', modelOverrides: { 'uno.ae': '/x/ae.safetensors', 'omnigen2.vae': '/y' } });

    const events: UmoEvent[] = [];
    s.subscribe((ev) => events.push(ev));
    const { jobId } = await s.generate({ backbone: 'uno', prompt: 'a cat' });
    const end = await waitFor(s, isEnd(jobId));
    expect(end.type).toBe('done');
    const md = (end as Extract<UmoEvent, { type: 'done' }>).result.metadata;
    expect(md).toMatchObject({
      lora, loraScale: '0.75', ep: 'cpu', modelsRoot: '/models', overrides: JSON.stringify({ ae: '/x/ae.safetensors' }), demo: 'false',
      cacheDir: path.join(s.paths.dataDir, 'cache'),
    });
    const mine = events.filter((e) => 'jobId' in e && e.jobId === jobId).map((e) => (e.type === 'phase' ? `phase:${e.phase}` : e.type));
    expect(mine).toEqual(['phase:queued', 'phase:loading', 'progress', 'progress', 'done']);
    const added = events.find((e) => e.type === 'history-added');
    expect(added && added.type === 'history-added' && added.item.jobId).toBe(jobId);
    expect(events.indexOf(added!)).toBeGreaterThan(events.findIndex((e) => e.type === 'done'));

    // An explicit "no LoRA" is respected; the result lands in the default output folder.
    const second = await s.generate({ backbone: 'uno', prompt: 'no lora', lora: { path: null, scale: 1 } });
    const end2 = await waitFor(s, isEnd(second.jobId));
    expect((end2 as Extract<UmoEvent, { type: 'done' }>).result.metadata.lora).toBe('none');
    const history = await s.listHistory();
    expect(history.map((h) => h.jobId)).toEqual([second.jobId, jobId]);
    expect(history[0].url).toBe(`/files/outputs/${second.jobId}.png`);
    expect(path.dirname(history[0].result.file)).toBe(path.join(s.paths.dataDir, 'outputs'));
    expect(s.fileRoots('outputs')).toContain(path.join(s.paths.dataDir, 'outputs'));
  });

  test('requests are validated: ranges, references must be imported images, the LoRA must be valid', async () => {
    const s = await services();
    await expect(s.generate({ backbone: 'uno', prompt: 'x', width: 770 })).rejects.toThrow(/width: Width must be a multiple of 16/);
    await expect(s.generate({ backbone: 'uno', prompt: 'x', references: ['/etc/passwd'] }))
      .rejects.toThrow(/references\.0: \/etc\/passwd is not a reference image imported into the app/);
    await expect(s.generate({ backbone: 'uno', prompt: 'x', lora: { path: '/nope/l.safetensors', scale: 1 } })).rejects.toThrow(/LoRA file \/nope\/l\.safetensors does not exist/);
    const ref = await s.importReference({ name: 'r.png', bytes: await pngBytes() });
    const { jobId } = await s.generate({ backbone: 'uno', prompt: 'with ref', references: [ref.path] });
    const end = await waitFor(s, isEnd(jobId));
    expect((end as Extract<UmoEvent, { type: 'done' }>).result.metadata.references).toBe(JSON.stringify([ref.path]));
    // A result becomes a reference image (copied into the reference store).
    const fromResult = await s.referenceFromResult(jobId);
    expect(fromResult.path.startsWith(s.paths.referencesDir)).toBe(true);
    expect(fromResult.name).toBe(`${jobId}.png`);
    await expect(s.referenceFromResult('job-unknown')).rejects.toThrow(/no result for job job-unknown/);
  });

  test('cancel, a crashing engine, settings-changed events and device listing', async () => {
    const s = await services();
    const events: UmoEvent[] = [];
    s.subscribe((ev) => events.push(ev));
    const slow = await s.generate({ backbone: 'uno', prompt: 'slow' });
    await waitFor(s, (ev) => ev.type === 'progress' && ev.jobId === slow.jobId && ev.step >= 2);
    await s.cancel(slow.jobId);
    expect((await waitFor(s, isEnd(slow.jobId))).type).toBe('cancelled');

    const crash = await s.generate({ backbone: 'uno', prompt: 'crash' });
    const failed = await waitFor(s, isEnd(crash.jobId));
    expect(failed.type === 'failed' && failed.message).toMatch(/engine process stopped unexpectedly/);
    await expect(s.cancel('job-never')).rejects.toThrow(/no job job-never/);

    await s.updateSettings({ theme: 'dark' });
    expect(events.some((e) => e.type === 'settings-changed' && e.settings.theme === 'dark')).toBe(true);
    expect(await s.listDevices()).toEqual([{ ep: 'cpu', available: true, works: true, detail: 'fake engine' }]);
    expect(await s.getAppInfo()).toEqual({ version: '9.9.9', mode: 'web', platform: `${process.platform}-${process.arch}` });
    const journal = fs.readFileSync(s.paths.jobJournal, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(journal.filter((r) => r.event === 'finished').map((r) => r.status)).toEqual(['cancelled', 'failed']);
  });

  test('journal: a job cut short by the app stopping is reported as failed at the next start, once', async () => {
    const dataDir = tempDir();
    const first = await services(dataDir);
    const done = await first.generate({ backbone: 'uno', prompt: 'finishes' });
    await waitFor(first, isEnd(done.jobId));
    const { jobId } = await first.generate({ backbone: 'uno', prompt: 'slow' });
    await waitFor(first, (ev) => ev.type === 'progress' && ev.jobId === jobId);
    await first.close(); // the app quits (or dies) mid-job

    const second = await services(dataDir);
    const notices = second.takeStartupNotices();
    expect(notices).toHaveLength(1);
    const n = notices[0];
    expect(n.type).toBe('failed');
    if (n.type !== 'failed') return;
    expect(n.jobId).toBe(jobId);
    expect(n.code).toBe('interrupted');
    expect(n.message).toMatch(/^the app stopped during this job \(UNO job "slow" from .*, while it was running\)/);
    expect(second.takeStartupNotices()).toEqual([]);
    await second.close();

    const third = await services(dataDir);
    expect(third.takeStartupNotices()).toEqual([]);
  });

  test('a repaired settings file is reported as a start-up warning', async () => {
    const dataDir = tempDir();
    fs.writeFileSync(path.join(dataDir, 'settings.json'), 'not json');
    const s = await services(dataDir);
    const notices = s.takeStartupNotices();
    expect(notices).toHaveLength(1);
    expect(notices[0].type === 'warning' && notices[0].message).toMatch(/settings\.json is not valid JSON/);
  });
});
