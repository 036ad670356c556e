// `planRequest` over HTTP in web mode: the plan of the demo kit as JSON, argument validation, and a
// 400 with the missing files when the models are not there.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { createAppServices } from '../../../electron/services/app-services.js';
import { forkEngineProcess } from '../../../electron/services/engine-host.js';
import { startWebServer } from '../../../electron/server/web-server.js';
import { createWebApi, WebApiError } from '../../../renderer/src/api/web-api.js';
import { tempDir, WRITING_ENGINE } from '../services/service-fixtures.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function start() {
  const dataDir = tempDir();
  cleanup.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const rendererDir = tempDir('umo-renderer-');
  fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>UMO Studio</title>');
  cleanup.push(() => fs.rmSync(rendererDir, { recursive: true, force: true }));
  const s = await createAppServices({ dataDir, mode: 'web', spawnEngine: () => forkEngineProcess(WRITING_ENGINE), hfCache: null });
  cleanup.push(() => s.close());
  const server = await startWebServer({ services: s, port: 0, rendererDir });
  cleanup.push(() => server.close());
  return { s, base: server.url.replace(/\/$/, '') };
}

describe('planRequest over HTTP', () => {
  test('models missing: 400 naming them; demo kit: the plan, fitting or not by the budget setting', async () => {
    const { s, base } = await start();
    const api = createWebApi(base);
    const err = await api.planRequest({ backbone: 'uno', width: 64, height: 64, references: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebApiError);
    expect((err as WebApiError).status).toBe(400);
    expect((err as WebApiError).message).toMatch(/^No memory estimate: model files are missing or unusable/);

    await s.installDemoModel();
    const fits = await api.planRequest({ backbone: 'uno', width: 64, height: 64, references: 1 });
    expect(fits.plan.fits).toBe(true);
    expect(fits.plan.request).toMatchObject({ width: 64, height: 64, references: 1 });
    await api.updateSettings({ memoryBudgetGiB: 0.125 });
    const tight = await api.planRequest({ backbone: 'uno', width: 64, height: 64, references: 1 });
    expect(tight.plan.fits).toBe(false);
    expect(tight.budget).toMatchObject({ bytes: 2 ** 30 / 8, source: 'setting' });
    // Not fitting, the planner reports its smallest plan: one phase at a time, below the all-resident peak.
    expect(fits.plan.residency).toBe('all-resident');
    expect(tight.plan.residency).toBe('one-phase-at-a-time');
    expect(tight.plan.peakBytes).toBeLessThan(fits.plan.peakBytes);
    expect(tight.plan.peakBytes).toBeGreaterThan(tight.plan.budgetBytes);

    const bad = await fetch(`${base}/api/planRequest`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ args: [{ backbone: 'uno', width: 64.5, height: 64, references: -1 }] }),
    });
    expect(bad.status).toBe(400);
    const body = await bad.json() as { error: string };
    expect(body.error).toMatch(/invalid arguments for planRequest: 0\.width: .*; 0\.references: /);
  });
});
