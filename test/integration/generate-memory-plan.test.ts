// `umo-studio generate` executes the memory plan: a budget the plan cannot fit is refused before
// anything loads (exit 3, the planner's reason), "load anyway" runs it with a warning, and every
// residency mode gives the same image as the default run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import sharp from 'sharp';
import { writeTinyUnoKit } from '../../electron/engine/kit/tiny-uno-kit.js';
import { writeTinyOmniGen2Kit } from '../../electron/engine/kit/tiny-omnigen2-kit.js';
import { readPngText } from '../../electron/engine/image/png-metadata.js';
import { EngineHost } from '../../electron/services/engine-host.js';
import type { JobEnvironment } from '../../shared/engine-protocol.js';

const cli = path.resolve('dist/electron/cli/umo-studio.js');
let work: string;
let kit: string;
let cache: string;
let og2Kit: string;

/** Mean and largest absolute difference of two PNGs' 8-bit samples. */
async function pixelDifference(a: string, b: string): Promise<{ mean: number; max: number }> {
  const [pa, pb] = await Promise.all([sharp(a).raw().toBuffer(), sharp(b).raw().toBuffer()]);
  expect(pa.length).toBe(pb.length);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < pa.length; i++) {
    const d = Math.abs(pa[i] - pb[i]);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / pa.length, max };
}

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, UMO_CACHE_DIR: cache } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const base = (out: string, lora = 'none') => ['generate', '--models-root', kit, '--prompt', 'a red fox', '--width', '64', '--height', '64', '--steps', '2',
  '--seed', '3', '--ep', 'cpu', '--lora', lora, '--out', path.join(work, out)];

beforeAll(async () => {
  expect(fs.existsSync(cli), 'run `npm run build` first').toBe(true);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'umo-plan-gen-'));
  kit = path.join(work, 'models');
  cache = path.join(work, 'cache');
  await writeTinyUnoKit(kit);
  og2Kit = path.join(work, 'og2');
  writeTinyOmniGen2Kit(og2Kit);
});

describe('generate follows the memory plan (tiny UNO kit, CPU)', () => {
  test('a budget below what can fit is refused before loading, with the reason; --load-anyway runs with a warning', () => {
    const refused = run([...base('refused.png'), '--budget', '64MiB']);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toMatch(/does not fit: even the smallest plan needs [\d.]+ [MG]iB/);
    expect(refused.stderr).toContain('--load-anyway');
    expect(fs.existsSync(path.join(work, 'refused.png'))).toBe(false);

    const anyway = run([...base('anyway.png'), '--budget', '64MiB', '--load-anyway']);
    expect(anyway.code, anyway.stderr).toBe(0);
    expect(anyway.stderr).toMatch(/warning: loading anyway: does not fit/);
    expect(fs.existsSync(path.join(work, 'anyway.png'))).toBe(true);
  });

  test('all-resident, one phase at a time and a streamed DiT give byte-identical images', async () => {
    const modes: Array<[string, string[]]> = [
      ['resident.png', ['--residency', 'all-resident']],
      ['phased.png', ['--residency', 'one-phase-at-a-time']],
      ['streamed.png', ['--residency', 'dit-streamed', '--stream-groups', '2']],
    ];
    for (const [out, flags] of modes) {
      const r = run([...base(out), ...flags]);
      expect(r.code, r.stderr).toBe(0);
    }
    const bytes = modes.map(([out]) => fs.readFileSync(path.join(work, out)));
    expect(bytes[1].equals(bytes[0])).toBe(true);
    expect(bytes[2].equals(bytes[0])).toBe(true);
    const meta = await readPngText(path.join(work, 'phased.png'));
    expect(meta.precisions).toBe('t5 bf16-as-fp32-on-cpu, clip fp32, dit bf16-as-fp32-on-cpu, vae fp32');
  });

  test('bad memory flags get clear messages', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--budget', 'lots'], /--budget "lots" is not a size/],
      [['--precision', 'dit=int3'], /--precision "dit=int3": expected COMPONENT=PRECISION/],
      [['--residency', 'swap'], /unknown --residency "swap"/],
      [['--stream-groups', '1'], /--stream-groups must be a whole number from 2 to 64/],
      [['--precision', 'unet=int8'], /no component "unet" in uno/],
    ];
    for (const [flags, message] of cases) {
      const r = run([...base('bad.png'), ...flags]);
      expect(r.code, r.stderr).not.toBe(0);
      expect(r.stderr).toMatch(message);
    }
  });

  test('int8 / int4 bakes run and stay near the full-precision image; a LoRA + int4 bake is made once and reused', async () => {
    const full = path.join(work, 'full.png');
    expect(run([...base('full.png')]).code).toBe(0);
    const int8 = run([...base('int8.png'), '--precision', 'dit=int8', '--precision', 't5=int8', '--precision', 'clip=int8', '--json']);
    expect(int8.code, int8.stderr).toBe(0);
    expect(int8.stdout).toContain('"phase":"baking"');
    const d8 = await pixelDifference(full, path.join(work, 'int8.png'));
    // Measured on this kit: mean 1.0, max 6 of 255 (random weights: a relative weight error ~0.4 % per layer).
    expect(d8.mean).toBeGreaterThan(0);
    expect(d8.mean).toBeLessThan(3);
    expect((await readPngText(path.join(work, 'int8.png'))).precisions).toBe('t5 int8, clip int8, dit int8, vae fp32');

    const loraArgs = (out: string) => base(out, 'uno');
    expect(run(loraArgs('lora-full.png')).code).toBe(0);
    const first = run([...loraArgs('lora-int4.png'), '--precision', 'dit=int4', '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('"phase":"baking"');
    const again = run([...loraArgs('lora-int4-again.png'), '--precision', 'dit=int4', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('"phase":"baking"');
    expect(fs.readFileSync(path.join(work, 'lora-int4.png')).equals(fs.readFileSync(path.join(work, 'lora-int4-again.png')))).toBe(true);
    const d4 = await pixelDifference(path.join(work, 'lora-full.png'), path.join(work, 'lora-int4.png'));
    // Measured: mean 7.1, max 45 (int4 on random tiny weights is ~9 % weight error per layer; real checkpoints quantize far better).
    expect(d4.mean).toBeGreaterThan(0);
    expect(d4.mean).toBeLessThan(20);
  });

  test('OmniGen2: a streamed transformer gives the same image; int8 stays near it', async () => {
    const og2 = (out: string) => ['generate', '--backbone', 'omnigen2', '--models-root', og2Kit, '--prompt', 'a cat', '--width', '64', '--height', '64',
      '--steps', '2', '--seed', '5', '--ep', 'cpu', '--out', path.join(work, out)];
    for (const [out, flags] of [['og2.png', []], ['og2-streamed.png', ['--stream-groups', '3']], ['og2-int8.png', ['--precision', 'transformer=int8', '--precision', 'mllm=int8']]] as const) {
      const r = run([...og2(out), ...flags]);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(fs.readFileSync(path.join(work, 'og2-streamed.png')).equals(fs.readFileSync(path.join(work, 'og2.png')))).toBe(true);
    const d = await pixelDifference(path.join(work, 'og2.png'), path.join(work, 'og2-int8.png'));
    expect(d.mean).toBeGreaterThan(0);
    expect(d.mean).toBeLessThan(3);
  });

  test('WebGPU (lavapipe): fp16 Linears by default, 128 query chunks, an int4 streamed DiT, int8 all resident and an int8 streamed OmniGen2 transformer stay near the CPU image', async () => {
    const cpu = path.join(work, 'cpu-ref.png');
    expect(run(base('cpu-ref.png')).code).toBe(0);
    const gpuBase = (out: string) => base(out).map((a) => (a === 'cpu' ? 'webgpu' : a));
    const fp16 = run(gpuBase('gpu-fp16.png'));
    expect(fp16.code, fp16.stderr).toBe(0);
    expect(fp16.stderr).not.toContain('continuing on CPU');
    const meta = await readPngText(path.join(work, 'gpu-fp16.png'));
    expect(meta.precisions).toBe('t5 fp16, clip fp32, dit fp16, vae fp32');
    expect(JSON.parse(meta['umo-studio']).executionProvider).toBe('webgpu');
    // Measured: mean 0.11, max 1 of 255 against the CPU float32 image.
    expect((await pixelDifference(cpu, path.join(work, 'gpu-fp16.png'))).mean).toBeLessThan(1);

    // A budget nothing fits, loaded anyway: the denoiser's unfused attention runs in 128 query chunks
    // (what the plan says) and gives the same bytes as one chunk.
    const pins = ['--precision', 'dit=fp16', '--precision', 't5=fp16', '--precision', 'clip=fp32', '--precision', 'vae=fp32'];
    const planned = run(['plan', '--backbone', 'uno', '--models-root', kit, '--budget', '64MiB', '--device', 'gpu', '--width', '64', '--height', '64',
      '--refs', '0', ...pins, '--json']);
    expect(planned.code).toBe(3);
    const denoise = (JSON.parse(planned.stdout) as { phases: Array<{ name: string; attention: { queryChunks?: number } }> }).phases.find((p) => p.name === 'denoise');
    expect(denoise?.attention.queryChunks).toBe(128);
    const chunked = run([...gpuBase('gpu-chunked.png'), '--budget', '64MiB', '--load-anyway', ...pins]);
    expect(chunked.code, chunked.stderr).toBe(0);
    expect(fs.readFileSync(path.join(work, 'gpu-chunked.png')).equals(fs.readFileSync(path.join(work, 'gpu-fp16.png')))).toBe(true);

    const streamed = run([...gpuBase('gpu-int4.png'), '--precision', 'dit=int4', '--stream-groups', '2']);
    expect(streamed.code, streamed.stderr).toBe(0);
    expect(streamed.stderr).not.toContain('continuing on CPU');
    // Measured: mean 4.3, max 31 (int4 on random tiny weights).
    expect((await pixelDifference(cpu, path.join(work, 'gpu-int4.png'))).mean).toBeLessThan(20);

    const resident = run([...gpuBase('gpu-int8-resident.png'), '--precision', 'dit=int8', '--precision', 't5=int8', '--residency', 'all-resident']);
    expect(resident.code, resident.stderr).toBe(0);
    expect(resident.stderr).not.toContain('continuing on CPU');
    expect((await pixelDifference(cpu, path.join(work, 'gpu-int8-resident.png'))).mean).toBeLessThan(3);

    const og2 = (out: string, ep: string) => ['generate', '--backbone', 'omnigen2', '--models-root', og2Kit, '--prompt', 'a cat', '--width', '64',
      '--height', '64', '--steps', '2', '--seed', '5', '--ep', ep, '--out', path.join(work, out)];
    expect(run(og2('og2-cpu.png', 'cpu')).code).toBe(0);
    const og2Gpu = run([...og2('og2-gpu.png', 'webgpu'), '--precision', 'transformer=int8', '--stream-groups', '2']);
    expect(og2Gpu.code, og2Gpu.stderr).toBe(0);
    expect(og2Gpu.stderr).not.toContain('continuing on CPU');
    expect((await pixelDifference(path.join(work, 'og2-cpu.png'), path.join(work, 'og2-gpu.png'))).mean).toBeLessThan(3);
  });

  test('all resident: the engine keeps the networks between jobs (no session created the second time); another plan frees them', async () => {
    const host = new EngineHost();
    const env = (out: string, residency: 'all-resident' | 'one-phase-at-a-time'): JobEnvironment => ({
      modelsRoot: kit, overrides: {}, outputDir: work, outputFile: path.join(work, out), cacheDir: cache, cacheLimitBytes: 2 ** 30,
      ep: 'cpu', appVersion: 'test', demo: false, memory: { residency },
    });
    const request = { backbone: 'uno' as const, prompt: 'a red fox', references: [], width: 64, height: 64, steps: 2, seed: 3, lora: { path: null, scale: 1 } };
    try {
      const first = await host.generate(request, env('r1.png', 'all-resident')).result;
      const second = await host.generate(request, env('r2.png', 'all-resident')).result;
      expect(first.sessions).toMatchObject({ created: 4, released: 0 }); // T5, CLIP, DiT, VAE decoder, all kept
      expect(second.sessions).toEqual({ created: 0, released: 0, createMs: 0 });
      expect(fs.readFileSync(first.file).equals(fs.readFileSync(second.file))).toBe(true);
      const phased = await host.generate(request, env('r3.png', 'one-phase-at-a-time')).result;
      expect(phased.sessions).toMatchObject({ created: 4, released: 8 }); // the 4 resident ones freed first, then its own 4
      const again = await host.generate(request, env('r4.png', 'one-phase-at-a-time')).result;
      expect(again.sessions).toMatchObject({ created: 4, released: 4 });
      expect(fs.readFileSync(again.file).equals(fs.readFileSync(first.file))).toBe(true);
    } finally {
      await host.stop();
    }
  });
});
