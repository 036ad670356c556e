import { describe, expect, test } from 'vitest';
import {
  ASSUMED_GPU_BYTES, NVIDIA_SMI_ARGS, cpuSafetyMargin, gpuSafetyMargin, parseNvidiaSmiMemory, readNvidiaGpuMemory, resolveMemoryBudget,
  type RunProgram,
} from '../../../electron/engine/runtime/device-budget.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

describe('parseNvidiaSmiMemory', () => {
  test('one GPU (RTX 4080 16 GB, idle desktop)', () => {
    expect(parseNvidiaSmiMemory('16376, 612\n')).toEqual([{ index: 0, totalBytes: 16376 * MiB, usedBytes: 612 * MiB }]);
  });

  test('two GPUs, Windows line ends, blank trailing line', () => {
    const gpus = parseNvidiaSmiMemory('24564, 1203\r\n12288, 0\r\n\r\n');
    expect(gpus.map((g) => [g.index, g.totalBytes / MiB, g.usedBytes / MiB])).toEqual([[0, 24564, 1203], [1, 12288, 0]]);
  });

  test('a card that does not report memory, a header line and garbage are errors that quote the line', () => {
    expect(() => parseNvidiaSmiMemory('[N/A], [N/A]\n')).toThrow('nvidia-smi printed "[N/A], [N/A]" for GPU 0; expected "<total MiB>, <used MiB>"');
    expect(() => parseNvidiaSmiMemory('memory.total [MiB], memory.used [MiB]\n16376, 612')).toThrow(/memory\.total \[MiB\]/);
    expect(() => parseNvidiaSmiMemory('16376\n')).toThrow(/expected "<total MiB>, <used MiB>"/);
    expect(() => parseNvidiaSmiMemory('8192, 9000\n')).toThrow(/used memory must be between 0 and a positive total/);
  });

  test('no output gives no GPUs', () => {
    expect(parseNvidiaSmiMemory('\n')).toEqual([]);
  });
});

describe('readNvidiaGpuMemory', () => {
  test('asks nvidia-smi for total and used memory without header or units', async () => {
    const calls: Array<[string, readonly string[]]> = [];
    const run: RunProgram = async (file, args) => { calls.push([file, args]); return '8192, 512\n'; };
    expect(await readNvidiaGpuMemory(run)).toEqual({ ok: true, gpus: [{ index: 0, totalBytes: 8192 * MiB, usedBytes: 512 * MiB }] });
    expect(calls).toEqual([['nvidia-smi', NVIDIA_SMI_ARGS]]);
    expect(NVIDIA_SMI_ARGS).toEqual(['--query-gpu=memory.total,memory.used', '--format=csv,noheader,nounits']);
  });

  test('not installed (ENOENT), failing (driver mismatch) and unparsable output are reasons, not throws', async () => {
    const missing: RunProgram = async () => { throw Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' }); };
    expect(await readNvidiaGpuMemory(missing)).toEqual({ ok: false, reason: 'nvidia-smi is not installed (no NVIDIA driver tools on this machine)' });
    const failing: RunProgram = async () => { throw Object.assign(new Error('Command failed: nvidia-smi\nFailed to initialize NVML: Driver/library version mismatch'), { code: 9 }); };
    expect(await readNvidiaGpuMemory(failing)).toEqual({ ok: false, reason: 'nvidia-smi failed: Command failed: nvidia-smi' });
    expect(await readNvidiaGpuMemory(async () => '[N/A], [N/A]')).toMatchObject({ ok: false, reason: expect.stringContaining('[N/A]') });
    expect(await readNvidiaGpuMemory(async () => '')).toEqual({ ok: false, reason: 'nvidia-smi listed no GPU' });
  });

  test('on this machine: a reading or a reason, never an exception', async () => {
    const r = await readNvidiaGpuMemory();
    if (r.ok) expect(r.gpus[0].totalBytes).toBeGreaterThan(0);
    else expect(r.reason).toMatch(/nvidia-smi/);
  });
});

describe('resolveMemoryBudget', () => {
  const never = async () => { throw new Error('must not read the GPU'); };

  test('the user setting wins, on any device', async () => {
    expect(await resolveMemoryBudget({ settingGiB: 12, device: 'gpu', readGpuMemory: never }))
      .toEqual({ bytes: 12 * GiB, source: 'setting', detail: '12 GiB from the settings' });
    expect((await resolveMemoryBudget({ settingGiB: 0.125, device: 'cpu', readGpuMemory: never })).bytes).toBe(GiB / 8);
  });

  test('GPU read with nvidia-smi: total minus used minus a margin of max(512 MiB, 5 %)', async () => {
    const b = await resolveMemoryBudget({
      settingGiB: null, device: 'gpu',
      readGpuMemory: async () => ({ ok: true, gpus: [{ index: 0, totalBytes: 16376 * MiB, usedBytes: 612 * MiB }, { index: 1, totalBytes: 8 * GiB, usedBytes: 0 }] }),
    });
    const margin = Math.round(16376 * MiB * 0.05);
    expect(margin).toBeGreaterThan(512 * MiB);
    expect(b.bytes).toBe(16376 * MiB - 612 * MiB - margin);
    expect(b.source).toBe('nvidia-smi');
    expect(b.detail).toBe(`nvidia-smi: 16376 MiB total, 612 MiB in use, ${Math.round(margin / MiB)} MiB margin; GPU 0 of 2`);
    expect(gpuSafetyMargin(8 * GiB)).toBe(512 * MiB);
  });

  test('GPU without nvidia-smi: 16 GiB assumed, with the reason and what to do', async () => {
    const b = await resolveMemoryBudget({ settingGiB: null, device: 'gpu', readGpuMemory: async () => ({ ok: false, reason: 'nvidia-smi is not installed' }) });
    expect(b).toEqual({
      bytes: ASSUMED_GPU_BYTES, source: 'assumed',
      detail: "GPU memory could not be read (nvidia-smi is not installed); assumed 16.0 GiB — set your card's memory in Settings",
    });
  });

  test('CPU: installed RAM minus max(2 GiB, 1/8); a GPU that shares RAM is planned the same way', async () => {
    const cpu = await resolveMemoryBudget({ settingGiB: null, device: 'cpu', totalRamBytes: 64 * GiB, readGpuMemory: never });
    expect(cpu).toEqual({ bytes: 56 * GiB, source: 'system-ram', detail: '64.0 GiB RAM minus a 8.0 GiB margin for the system' });
    const small = await resolveMemoryBudget({ settingGiB: null, device: 'cpu', totalRamBytes: 8 * GiB, readGpuMemory: never });
    expect(small.bytes).toBe(6 * GiB);
    expect(cpuSafetyMargin(8 * GiB)).toBe(2 * GiB);
    const unified = await resolveMemoryBudget({ settingGiB: null, device: 'gpu', gpuUsesSystemRam: true, totalRamBytes: 32 * GiB, readGpuMemory: never });
    expect(unified.bytes).toBe(28 * GiB);
    expect(unified.detail).toMatch(/the GPU shares system memory/);
  });
});
