// `umo-studio generate` as a user runs it (the built CLI from dist/, which `npm test` builds first),
// on the tiny UNO kit: PNG with metadata, determinism per seed, bake reuse, and clear messages for
// every bad input.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, test } from 'vitest';
import { writeTinyUnoKit } from '../../electron/engine/kit/tiny-uno-kit.js';
import { readPngText } from '../../electron/engine/image/png-metadata.js';

const cli = path.resolve('dist/electron/cli/umo-studio.js');
let work: string;
let kit: string;
let cache: string;
const refs: string[] = [];

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, UMO_CACHE_DIR: cache } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const base = () => ['generate', '--models-root', kit, '--prompt', 'a figurine in a crystal ball', '--width', '64', '--height', '64', '--steps', '2', '--seed', '7', '--ep', 'cpu'];

beforeAll(async () => {
  expect(fs.existsSync(cli), 'run `npm run build` first').toBe(true);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'umo-cli-'));
  kit = path.join(work, 'models');
  cache = path.join(work, 'cache');
  await writeTinyUnoKit(kit);
  for (const [i, color] of [[0, { r: 200, g: 60, b: 30 }], [1, { r: 30, g: 90, b: 220 }]] as const) {
    const p = path.join(work, `ref${i}.png`);
    await sharp({ create: { width: 96 + 32 * i, height: 80, channels: 3, background: color } }).png().toFile(p);
    refs.push(p);
  }
});

describe('umo-studio generate (tiny kit)', () => {
  test('prompt + 2 references -> PNG with all parameters; same seed gives identical bytes; the bake is reused', () => {
    const a = path.join(work, 'a.png');
    const b = path.join(work, 'b.png');
    const first = run([...base(), '--ref', refs[0], '--ref', refs[1], '--out', a, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const events = first.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; phase?: string });
    expect(events.some((e) => e.type === 'progress' && e.phase === 'baking')).toBe(true);
    expect(events.filter((e) => e.type === 'progress' && e.phase === 'denoising').length).toBe(3);
    expect(events.at(-1)?.type).toBe('done');

    const second = run([...base(), '--ref', refs[0], '--ref', refs[1], '--out', b, '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).not.toContain('"phase":"baking","step"');
    expect(fs.readFileSync(a).equals(fs.readFileSync(b))).toBe(true);
    return (async () => {
      const meta = await readPngText(a);
      expect(meta.prompt).toBe('a figurine in a crystal ball');
      expect(meta.seed).toBe('7');
      expect(meta.lora).toBe('dit_lora.safetensors @ 1');
      const record = JSON.parse(meta['umo-studio']);
      expect(record).toMatchObject({ backbone: 'uno', width: 64, height: 64, steps: 2, guidance: 4, seed: 7 });
      expect(record.references).toHaveLength(2);
      expect(record.models.dit).toMatch(/^flux1-dev.safetensors header-sha256:/);
      const img = await sharp(a).metadata();
      expect([img.width, img.height]).toEqual([64, 64]);
    })();
  });

  test('a different seed or LoRA changes the image; --lora none runs the base model', () => {
    const ref = path.join(work, 'ref-seed.png');
    expect(run([...base(), '--out', ref]).code).toBe(0);
    const other = path.join(work, 'other-seed.png');
    const r1 = run([...base().slice(0, -4), '--seed', '8', '--ep', 'cpu', '--out', other]);
    expect(r1.code, r1.stderr).toBe(0);
    expect(fs.readFileSync(ref).equals(fs.readFileSync(other))).toBe(false);
    const umo = path.join(work, 'umo.png');
    expect(run([...base(), '--lora', 'umo', '--out', umo]).code).toBe(0);
    expect(fs.readFileSync(ref).equals(fs.readFileSync(umo))).toBe(false);
    const none = path.join(work, 'none.png');
    const r2 = run([...base(), '--lora', 'none', '--out', none]);
    expect(r2.code, r2.stderr).toBe(0);
  });

  test.each([
    [['--width', '100'], 2, /width: Width must be a multiple of 16 \(got 100\)/],
    [['--ep', 'tpu'], 2, /unknown --ep "tpu"/],
    [['--lora', '/nope/x.safetensors'], 2, /--lora \/nope\/x.safetensors: no such file/],
    [['--ref', '/nope/ref.png'], 2, /reference image \/nope\/ref.png does not exist/],
    [['--steps', 'many'], 2, /--steps must be a number \(got "many"\)/],
  ])('bad input %j -> exit %i with a clear message', (extra, code, message) => {
    const r = run([...base(), ...(extra as string[]), '--out', path.join(work, 'bad.png')]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  test('an unreadable reference image is named, and no output file is left behind', () => {
    const bad = path.join(work, 'not-an-image.png');
    fs.writeFileSync(bad, 'hello, I am text');
    const out = path.join(work, 'never.png');
    const r = run([...base(), '--ref', bad, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not-an-image.png');
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(work).some((f) => f.includes('never.png.'))).toBe(false);
  });

  test('missing model files are listed with where they were looked for and where to get them', () => {
    const partial = path.join(work, 'partial');
    fs.cpSync(kit, partial, { recursive: true });
    fs.rmSync(path.join(partial, 'openai'), { recursive: true });
    const r = run(['generate', '--models-root', partial, '--prompt', 'x', '--width', '64', '--height', '64', '--ep', 'cpu', '--out', path.join(work, 'x.png')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('missing: CLIP ViT-L/14 text encoder (openai/clip-vit-large-patch14)');
    expect(r.stderr).toContain(path.join(partial, 'openai', 'clip-vit-large-patch14'));
    expect(r.stderr).toContain('https://huggingface.co/openai/clip-vit-large-patch14');
  });
});
