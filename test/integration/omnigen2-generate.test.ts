// `umo-studio generate --backbone omnigen2` as a user runs it (the built CLI from dist/, which
// `npm test` builds first) on the tiny OmniGen2 kit: 0, 1 and 2 references, both schedulers, the
// UMO LoRA, several images, the output-size rules, transformer passes per step for each guidance
// setting (counted by the pipeline and written into the metadata), determinism per seed, and clear
// messages for bad inputs.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, test } from 'vitest';
import { writeTinyOmniGen2Kit } from '../../electron/engine/kit/tiny-omnigen2-kit.js';
import { readPngText } from '../../electron/engine/image/png-metadata.js';

const cli = path.resolve('dist/electron/cli/umo-studio.js');
let work: string;
let kit: string;
let cache: string;
const refs: string[] = [];

interface Run { code: number | null; stdout: string; stderr: string }

function run(args: string[]): Run {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, UMO_CACHE_DIR: cache } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Done { file: string; width: number; height: number; metadata: Record<string, string>; timingsMs: Record<string, number> }

/** Runs with --json and returns the result and the events. */
function generate(name: string, extra: string[]): { result: Done; events: Array<{ type: string; phase?: string; step?: number; total?: number }> } {
  const out = path.join(work, `${name}.png`);
  const r = run([
    'generate', '--backbone', 'omnigen2', '--models-root', kit, '--prompt', 'a photo of the cat in the first image',
    '--width', '64', '--height', '64', '--steps', '3', '--seed', '11', '--ep', 'cpu', '--out', out, '--json', ...extra,
  ]);
  expect(r.code, r.stderr).toBe(0);
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; phase?: string; result?: Done });
  const last = events.at(-1);
  expect(last?.type).toBe('done');
  return { result: last!.result!, events };
}

const bytes = (f: string) => fs.readFileSync(f);

beforeAll(async () => {
  expect(fs.existsSync(cli), 'run `npm run build` first').toBe(true);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'umo-og2-'));
  kit = path.join(work, 'models');
  cache = path.join(work, 'cache');
  writeTinyOmniGen2Kit(kit);
  for (const [i, color] of [[0, { r: 200, g: 60, b: 30 }], [1, { r: 30, g: 90, b: 220 }]] as const) {
    const p = path.join(work, `ref${i}.png`);
    await sharp({ create: { width: 96 + 32 * i, height: 80, channels: 3, background: color } }).png().toFile(p);
    refs.push(p);
  }
});

describe('umo-studio generate --backbone omnigen2 (tiny kit)', () => {
  test('2 references, cfg range 0–0.6: 3/3/1 passes, PNG with metadata, identical bytes for the same seed', async () => {
    const args = ['--ref', refs[0], '--ref', refs[1], '--cfg-range', '0,0.6'];
    const a = generate('two-a', args);
    const b = generate('two-b', args);
    expect(a.result.metadata.passesPerStep).toBe('3,3,1');
    expect(a.events.filter((e) => e.type === 'progress' && e.phase === 'denoising').map((e) => e.step)).toEqual([0, 1, 2, 3]);
    expect(bytes(a.result.file).equals(bytes(b.result.file))).toBe(true);
    expect(Object.keys(a.result.timingsMs)).toEqual(expect.arrayContaining(['loading', 'encoding', 'references', 'denoising', 'decoding', 'saving']));
    const meta = await readPngText(a.result.file);
    expect(meta.backbone).toBe('omnigen2');
    expect(meta.size).toBe('64x64');
    expect(meta.scheduler).toBe('euler');
    expect(meta.cfgRange).toBe('0,0.6');
    expect(JSON.parse(meta['umo-studio'])).toMatchObject({ backbone: 'omnigen2', steps: 3, textGuidance: 5, imageGuidance: 2, seed: 11, references: [{ name: 'ref0.png' }, { name: 'ref1.png' }] });
    const c = generate('two-seed12', [...args, '--seed', '12']);
    expect(bytes(c.result.file).equals(bytes(a.result.file))).toBe(false);
  });

  test('passes per step for each guidance setting', () => {
    // No references: image guidance is forced to 1, so text guidance alone -> 2 passes.
    expect(generate('none', []).result.metadata.passesPerStep).toBe('2,2,2');
    expect(generate('none-tg1', ['--text-guidance', '1']).result.metadata.passesPerStep).toBe('1,1,1');
    expect(generate('one-ig1', ['--ref', refs[0], '--image-guidance', '1']).result.metadata.passesPerStep).toBe('2,2,2');
    expect(generate('one', ['--ref', refs[0]]).result.metadata.passesPerStep).toBe('3,3,3');
    // cfg range 0.5–1 with 3 steps: i/N = 0, 0.33 outside, 0.67 inside.
    expect(generate('one-late', ['--ref', refs[0], '--cfg-range', '0.5,1']).result.metadata.passesPerStep).toBe('1,1,3');
    // Five references (the image-index embedding's limit) with the default cfg range 0–1.
    const five = generate('five', [...[0, 1, 0, 1, 0].flatMap((i) => ['--ref', refs[i]]), '--steps', '2']);
    expect(five.result.metadata.passesPerStep).toBe('3,3');
    expect(JSON.parse(five.result.metadata['umo-studio']).references).toHaveLength(5);
  });

  test('sizes: one reference aligns the output to it; --no-align-res and max-pixels resize to the request', async () => {
    const aligned = generate('aligned', ['--ref', refs[1]]);
    expect([aligned.result.width, aligned.result.height]).toEqual([128, 80]);
    expect((await sharp(aligned.result.file).metadata()).width).toBe(128);
    const unaligned = generate('unaligned', ['--ref', refs[1], '--no-align-res']);
    expect([unaligned.result.width, unaligned.result.height]).toEqual([64, 64]);
    // 300×200 is not a multiple of 16: generated at 288×192, then resized bilinearly to 300×200.
    const odd = generate('odd', ['--width', '300', '--height', '200', '--steps', '1', '--text-guidance', '1']);
    expect(odd.result.metadata.generationSize).toBe('288x192');
    const m = await sharp(odd.result.file).metadata();
    expect([m.width, m.height]).toEqual([300, 200]);
  });

  test('DPM-Solver++ runs and differs from Euler; the UMO LoRA is baked once and changes the image', () => {
    const euler = generate('euler', ['--ref', refs[0]]);
    const dpm = generate('dpm', ['--ref', refs[0], '--scheduler', 'dpmsolver++']);
    expect(dpm.result.metadata.scheduler).toBe('dpmsolver++');
    expect(bytes(dpm.result.file).equals(bytes(euler.result.file))).toBe(false);
    const dpm2 = generate('dpm2', ['--ref', refs[0], '--scheduler', 'dpmsolver++']);
    expect(bytes(dpm2.result.file).equals(bytes(dpm.result.file))).toBe(true);

    const lora = generate('lora', ['--ref', refs[0], '--lora', 'umo']);
    expect(lora.events.some((e) => e.type === 'progress' && e.phase === 'baking')).toBe(true);
    expect(lora.result.metadata.lora).toBe('UMO_OmniGen2.safetensors @ 1');
    expect(bytes(lora.result.file).equals(bytes(euler.result.file))).toBe(false);
    const again = generate('lora2', ['--ref', refs[0], '--lora', 'umo']);
    expect(again.events.some((e) => e.type === 'progress' && e.phase === 'baking')).toBe(false);
    expect(bytes(again.result.file).equals(bytes(lora.result.file))).toBe(true);
  });

  test('--images 2 writes two different files and lists them', async () => {
    const r = generate('pair', ['--images', '2', '--text-guidance', '1']);
    expect(JSON.parse(r.result.metadata.files)).toEqual(['pair.png', 'pair-2.png']);
    const second = path.join(work, 'pair-2.png');
    expect(fs.existsSync(second)).toBe(true);
    expect(bytes(second).equals(bytes(r.result.file))).toBe(false);
    expect(r.events.filter((e) => e.type === 'progress' && e.phase === 'denoising').at(-1)).toMatchObject({ step: 6, total: 6 });
    // The first image of a pair is the single image of the same seed (noise drawn for both at once, first slice first).
    // (Pixels compared: the metadata differs in the images count.)
    const single = generate('single', ['--text-guidance', '1']);
    const pixels = async (f: string) => sharp(f).raw().toBuffer();
    expect((await pixels(single.result.file)).equals(await pixels(r.result.file))).toBe(true);
    expect((await readPngText(second)).imageIndex).toBe('2');
  });

  test('bad inputs get clear messages', () => {
    const base = ['generate', '--backbone', 'omnigen2', '--models-root', kit, '--prompt', 'x', '--out', path.join(work, 'bad.png'), '--ep', 'cpu'];
    const six = run([...base, ...Array.from({ length: 6 }, () => ['--ref', refs[0]]).flat()]);
    expect(six.code).not.toBe(0);
    expect(six.stderr).toMatch(/at most 5 reference images/);
    const reversed = run([...base, '--cfg-range', '0.8,0.2']);
    expect(reversed.code).not.toBe(0);
    expect(reversed.stderr).toMatch(/--cfg-range start 0\.8 is after its end 0\.2/);
    const malformed = run([...base, '--cfg-range', '0.5']);
    expect(malformed.stderr).toMatch(/--cfg-range must be two numbers START,END/);
    const sched = run([...base, '--scheduler', 'ddim']);
    expect(sched.code).not.toBe(0);
    expect(sched.stderr).toMatch(/unknown --scheduler "ddim" \(euler or dpmsolver\+\+\)/);
    const guidance = run([...base, '--guidance', '4']);
    expect(guidance.stderr).toMatch(/--guidance is not used by --backbone omnigen2/);
    const unoFlag = run(['generate', '--models-root', kit, '--prompt', 'x', '--out', path.join(work, 'bad.png'), '--scheduler', 'euler']);
    expect(unoFlag.stderr).toMatch(/--scheduler is not used by --backbone uno/);
    const unoLora = run([...base, '--lora', 'uno']);
    expect(unoLora.stderr).toMatch(/--lora uno is the UNO LoRA for FLUX/);
    const tg = run([...base, '--text-guidance', '9']);
    expect(tg.stderr).toMatch(/Text guidance must be at most 8/);
    const both = run([...base, '--align-res', '--no-align-res']);
    expect(both.stderr).toMatch(/--align-res or --no-align-res, not both/);
    const noKit = run(['generate', '--backbone', 'omnigen2', '--models-root', work, '--prompt', 'x', '--out', path.join(work, 'bad.png'), '--ep', 'cpu']);
    expect(noKit.code).not.toBe(0);
    expect(noKit.stderr).toMatch(/missing: OmniGen2 transformer \(OmniGen2\/OmniGen2\/transformer\)/);
    expect(fs.existsSync(path.join(work, 'bad.png'))).toBe(false);
  });

  test('kit command writes the OmniGen2 kit', () => {
    const dir = path.join(work, 'kit-cli');
    const r = run(['kit', '--backbone', 'omnigen2', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    for (const f of ['transformer/config.json', 'vae/diffusion_pytorch_model.safetensors', 'mllm/model.safetensors', 'processor/tokenizer.json', 'scheduler/scheduler_config.json', 'model_index.json']) {
      expect(fs.existsSync(path.join(dir, 'OmniGen2', 'OmniGen2', f)), f).toBe(true);
    }
    expect(fs.existsSync(path.join(dir, 'bytedance-research', 'UMO', 'UMO_OmniGen2.safetensors'))).toBe(true);
  });
});
