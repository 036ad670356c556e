// The plan service over the tiny UNO kit (real layouts, tiny sizes): the planner's answer for the
// settings' device and budget, a clear error naming missing files, the device the preference
// resolves to, and the budget (and the user's "load anyway") passed on to the job's environment.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeTinyUnoKit } from '../../../electron/engine/kit/tiny-uno-kit.js';
import { loadPlanModels, locatePlanCheckpoints, planMemory } from '../../../electron/engine/runtime/memory-planner.js';
import { createAppServices, type AppServices } from '../../../electron/services/app-services.js';
import { forkEngineProcess } from '../../../electron/services/engine-host.js';
import { PlanService, resolveDevice } from '../../../electron/services/plan-service.js';
import { DEFAULT_SETTINGS, type Settings } from '../../../shared/settings.js';
import type { JobEnvironment } from '../../../shared/engine-protocol.js';
import type { DeviceInfo, UmoEvent } from '../../../shared/umo-api.js';
import { tempDir, WRITING_ENGINE } from './service-fixtures.js';

const GiB = 1024 ** 3;
const dirs: string[] = [];
let kit = '';

beforeAll(async () => {
  kit = tempDir('umo-plan-kit-');
  dirs.push(kit);
  await writeTinyUnoKit(kit);
});
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const cpuOnly: DeviceInfo[] = [
  { ep: 'cpu', available: true, works: true, detail: 'ok', auto: true },
  { ep: 'webgpu', available: true, works: false, detail: 'no adapter' },
  { ep: 'cuda', available: false, works: false, detail: 'CUDA add-on not installed' },
];

function service(settings: Partial<Settings>, devices = cpuOnly, gpuTotalMiB = 16376): PlanService {
  const s: Settings = { ...DEFAULT_SETTINGS, ...settings };
  return new PlanService({
    getSettings: () => s, demoModelsDir: '/nonexistent', demoAvailable: () => false, hfCache: null,
    listDevices: async () => devices, totalRamBytes: 32 * GiB,
    readGpuMemory: async () => ({ ok: true, gpus: [{ index: 0, totalBytes: gpuTotalMiB * 2 ** 20, usedBytes: 0 }] }),
  });
}

describe('PlanService.plan', () => {
  test('plans the request with the planner for the CPU and the RAM budget; same numbers as planning directly', async () => {
    const answer = await service({ modelsRoot: kit }).plan({ backbone: 'uno', width: 64, height: 64, references: 1 });
    expect(answer.ep).toBe('cpu');
    expect(answer.budget).toEqual({ bytes: 28 * GiB, source: 'system-ram', detail: '32.0 GiB RAM minus a 4.0 GiB margin for the system' });
    const direct = planMemory(loadPlanModels('uno', locatePlanCheckpoints('uno', { modelsRoot: kit, hfCache: null })), {
      device: 'cpu', budgetBytes: 28 * GiB, request: { width: 64, height: 64, references: 1 },
    });
    expect(answer.plan).toEqual(direct);
    expect(answer.plan.fits).toBe(true);
    expect(answer.plan.phases.map((p) => p.name)).toEqual(['encode-references', 'encode-text', 'denoise', 'decode']);
    // The answer crosses IPC / HTTP as JSON unchanged.
    expect(JSON.parse(JSON.stringify(answer))).toEqual(answer);
  });

  test('a tiny budget from the settings does not fit, with the planner\'s reason', async () => {
    const answer = await service({ modelsRoot: kit, memoryBudgetGiB: 0.125 }).plan({ backbone: 'uno', width: 64, height: 64, references: 0 });
    expect(answer.budget.source).toBe('setting');
    expect(answer.plan.budgetBytes).toBe(GiB / 8);
    expect(answer.plan.fits).toBe(false);
    expect(answer.plan.peakBytes).toBeGreaterThan(GiB / 8);
    expect(answer.plan.reason).toMatch(/^does not fit: even the smallest plan needs/);
  });

  test('more pixels and references need more memory', async () => {
    const svc = service({ modelsRoot: kit });
    const small = await svc.plan({ backbone: 'uno', width: 64, height: 64, references: 0 });
    const big = await svc.plan({ backbone: 'uno', width: 256, height: 256, references: 2 });
    expect(big.plan.peakBytes).toBeGreaterThan(small.plan.peakBytes);
    expect(big.plan.request).toMatchObject({ width: 256, height: 256, references: 2 });
  });

  test('a working GPU preference plans for the GPU with the nvidia-smi budget', async () => {
    const devices: DeviceInfo[] = [...cpuOnly.filter((d) => d.ep !== 'cuda'), { ep: 'cuda', available: true, works: true, detail: 'ok' }];
    const answer = await service({ modelsRoot: kit, devicePreference: 'cuda' }, devices).plan({ backbone: 'uno', width: 64, height: 64, references: 0 });
    expect(answer.ep).toBe('cuda');
    expect(answer.plan.device).toBe('gpu');
    expect(answer.budget.source).toBe('nvidia-smi');
    expect(answer.budget.bytes).toBe(16376 * 2 ** 20 - Math.round(16376 * 2 ** 20 * 0.05));
    expect(answer.deviceWarning).toBeUndefined();
  });

  test('missing model files: a clear error naming each missing component', async () => {
    const empty = tempDir('umo-plan-empty-');
    dirs.push(empty);
    const err = await service({ modelsRoot: empty }).plan({ backbone: 'uno', width: 64, height: 64, references: 0 }).catch((e: Error & { problems?: string[] }) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^No memory estimate: model files are missing or unusable\n/);
    expect((err as Error).message).toMatch(/missing: FLUX\.1-dev transformer/i);
    expect((err as Error).name).toBe('UserInputError');
  });
});

describe('resolveDevice', () => {
  test('auto follows the engine\'s choice; a failing explicit choice falls back to the CPU and says why', () => {
    expect(resolveDevice('auto', cpuOnly, 'linux')).toEqual({ ep: 'cpu', kind: 'cpu' });
    expect(resolveDevice('webgpu', cpuOnly, 'linux')).toEqual({
      ep: 'cpu', kind: 'cpu', warning: 'The chosen device webgpu does not work here (it failed: no adapter); the CPU is used.',
    });
    expect(resolveDevice('cuda', cpuOnly, 'linux').warning).toBe('The chosen device cuda does not work here (not available: CUDA add-on not installed); the CPU is used.');
    expect(resolveDevice('dml', cpuOnly, 'linux').warning).toMatch(/not reported by the engine/);
  });

  test('a GPU that shares system RAM (macOS, software WebGPU) is marked so the budget comes from RAM', () => {
    const mac: DeviceInfo[] = [{ ep: 'webgpu', available: true, works: true, detail: 'ok', auto: true }];
    expect(resolveDevice('auto', mac, 'darwin')).toEqual({ ep: 'webgpu', kind: 'gpu', sharesSystemRam: true });
    expect(resolveDevice('auto', mac, 'win32')).toEqual({ ep: 'webgpu', kind: 'gpu' });
    const lavapipe: DeviceInfo[] = [{ ep: 'webgpu', available: true, works: true, detail: 'works on a software adapter (no GPU render node): slower' }];
    expect(resolveDevice('webgpu', lavapipe, 'linux')).toEqual({ ep: 'webgpu', kind: 'gpu', sharesSystemRam: true });
  });
});

describe('app services: planRequest, the start-up probe and the job environment', () => {
  let s: AppServices;
  afterAll(async () => { await s?.close(); });

  test('planRequest over the demo kit; jobs carry the same budget, and "load anyway" only when asked', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    s = await createAppServices({ dataDir, mode: 'web', spawnEngine: () => forkEngineProcess(WRITING_ENGINE), hfCache: null });
    const envs: JobEnvironment[] = [];
    const host = s.engine;
    const original = host.generate.bind(host);
    host.generate = (request, env, jobId) => { envs.push(env); return original(request, env, jobId); };
    const finished = (jobId: string) => new Promise<void>((resolve) => {
      const off = s.subscribe((ev) => { if ((ev.type === 'done' || ev.type === 'failed') && ev.jobId === jobId) { off(); resolve(); } });
    });

    await s.installDemoModel();
    await s.updateSettings({ memoryBudgetGiB: 0.125 });
    const answer = await s.planRequest({ backbone: 'uno', width: 64, height: 64, references: 0 });
    expect(answer.plan.fits).toBe(false);
    expect(answer.ep).toBe('cpu'); // the fake engine reports only the CPU
    const first = await s.generate({ backbone: 'uno', prompt: 'x', width: 64, height: 64 });
    await finished(first.jobId);
    const second = await s.generate({ backbone: 'uno', prompt: 'x', width: 64, height: 64 }, { loadAnyway: true });
    await finished(second.jobId);
    expect(envs.map((e) => e.memory)).toEqual([{ budgetBytes: GiB / 8 }, { budgetBytes: GiB / 8, loadAnyway: true }]);
    expect(envs[0].demo).toBe(true);

    // Without a setting: the budget the estimate shows (from RAM on the CPU).
    await s.updateSettings({ memoryBudgetGiB: null });
    const again = await s.planRequest({ backbone: 'uno', width: 64, height: 64, references: 0 });
    expect(again.budget.source).toBe('system-ram');
    const third = await s.generate({ backbone: 'uno', prompt: 'x', width: 64, height: 64 });
    await finished(third.jobId);
    expect(envs[2].memory).toEqual({ budgetBytes: again.budget.bytes });
  });

  test('a chosen device that does not work here is announced once the probe answers', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const t = await createAppServices({ dataDir, mode: 'web', spawnEngine: () => forkEngineProcess(WRITING_ENGINE), hfCache: null });
    try {
      await t.updateSettings({ devicePreference: 'cuda' });
      const events: UmoEvent[] = [];
      t.subscribe((ev) => events.push(ev));
      const devices = await t.listDevices();
      expect(devices.map((d) => d.ep)).toEqual(['cpu']);
      await new Promise((r) => setTimeout(r, 0));
      expect(events.filter((e) => e.type === 'warning').map((e) => (e as { message: string }).message))
        .toEqual(['The chosen device cuda does not work here (not reported by the engine); the CPU is used.']);
      // The probe is shared: asking again does not probe (or warn) again.
      expect(await t.listDevices()).toBe(devices);
      expect(events.filter((e) => e.type === 'warning')).toHaveLength(1);
    } finally {
      await t.close();
    }
  });
});
