// First run at the services level: the built-in demo model installs atomically and idempotently
// into the data folder and switches the app to it; the model status (what the setup view shows)
// reports missing, truncated, wrong-format and wrong-shaped files of damaged copies of the tiny kit
// precisely, with where it looked, the models folder's own problems and the cache folder searched.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { UNO_MANIFEST } from '../../shared/model-manifests.js';
import type { ModelStatus } from '../../shared/umo-api.js';
import { createAppServices, type AppServices } from '../../electron/services/app-services.js';
import { installDemoKit } from '../../electron/services/demo-model.js';

const dirs: string[] = [];
function temp(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Rewrite a safetensors header so `key` gets `shape` (same element count: the file stays valid). */
function reshapeTensor(file: string, key: string, shape: number[]): void {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { shape: number[] }>;
  header[key].shape = shape;
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8) json += ' ';
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(json), buf.subarray(8 + n)]));
}

function byId(s: ModelStatus) {
  return Object.fromEntries(s.components.map((c) => [c.id, c]));
}

let services: AppServices;
let dataDir: string;
let hfCache: string;

beforeAll(async () => {
  dataDir = temp('umo-first-run-');
  hfCache = path.join(temp('umo-first-run-hf-'), 'hub');
  // The engine is never started here (no generation).
  services = await createAppServices({ dataDir, mode: 'web', hfCache });
});

afterAll(async () => {
  await services?.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('demo model', () => {
  test('not installed on a fresh data folder; installDemoModel writes it, switches to it, and is idempotent', async () => {
    const before = await services.getModelStatus('uno');
    expect(before.ready).toBe(false);
    expect(before.demoAvailable).toBe(false);
    expect(before.hfCache).toEqual({ path: hfCache, exists: false });
    expect(before.modelsRoot).toBeNull();
    await services.updateSettings({ backbone: 'omnigen2' });

    const t0 = Date.now();
    const status = await services.installDemoModel();
    const ms = Date.now() - t0;
    expect(ms).toBeLessThan(30_000);
    expect(status.backbone).toBe('uno');
    expect(status.demoAvailable).toBe(true);
    const s = await services.getSettings();
    expect(s.useDemoModel).toBe(true);
    expect(s.backbone).toBe('uno');

    const demoDir = services.paths.demoModelsDir;
    const marker = path.join(demoDir, 'umo-tiny-kit.json');
    expect(JSON.parse(fs.readFileSync(marker, 'utf8')).note).toMatch(/random weights/);
    // Real Hugging Face layout, every component present.
    for (const c of UNO_MANIFEST.components) expect(fs.existsSync(path.join(demoDir, ...c.repo.split('/'), c.path)), c.id).toBe(true);
    // Nothing left of the temporary install folder.
    expect(fs.readdirSync(dataDir).filter((e) => e.startsWith('demo-models.'))).toEqual([]);

    // The user's own model status is unchanged by the demo (the setup view tells the truth about it).
    expect(status.ready).toBe(false);
    expect(status.components.every((c) => c.status === 'missing')).toBe(true);

    // Second call: kept as is.
    const mtime = fs.statSync(marker).mtimeMs;
    const again = await services.installDemoModel();
    expect(again.demoAvailable).toBe(true);
    expect(fs.statSync(marker).mtimeMs).toBe(mtime);
    expect(await installDemoKit(demoDir)).toEqual({ installed: false });
  });

  test('concurrent installs share one write; a stray folder without the marker is replaced', async () => {
    const dir = path.join(temp('umo-demo-race-'), 'demo-models');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'half-written.bin'), 'x');
    const [a, b] = await Promise.all([installDemoKit(dir), installDemoKit(dir)]);
    expect([a.installed, b.installed]).toEqual([true, true]);
    expect(fs.existsSync(path.join(dir, 'umo-tiny-kit.json'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'half-written.bin'))).toBe(false);
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['demo-models']);
  });

  test('switching back to "my own models" keeps the kit installed', async () => {
    await services.updateSettings({ useDemoModel: false });
    const st = await services.getModelStatus('uno');
    expect(st.demoAvailable).toBe(true);
    expect(services.jobs.environment('uno').demo).toBe(false);
    await services.updateSettings({ useDemoModel: true });
    expect(services.jobs.environment('uno')).toMatchObject({ demo: true, modelsRoot: services.paths.demoModelsDir, hfCache: null });
  });
});

describe('model status with damaged copies of the tiny kit', () => {
  test('missing, truncated, wrong-format and wrong-shaped files, each with its reason and where it looked', async () => {
    const root = temp('umo-damaged-');
    fs.cpSync(services.paths.demoModelsDir, root, { recursive: true });
    await services.updateSettings({ useDemoModel: false, modelsRoot: root });

    const intact = await services.getModelStatus('uno');
    for (const c of intact.components) expect(c, `${c.id}: ${c.problem ?? ''}`).toMatchObject({ status: 'found', source: 'models-root' });
    expect(intact.ready).toBe(true);
    expect(intact.missingBytes).toBe(0);
    expect(intact.modelsRoot).toEqual({ path: root, problem: null });

    const flux = path.join(root, 'black-forest-labs', 'FLUX.1-dev');
    const t5Dir = path.join(root, 'xlabs-ai', 'xflux_text_encoders');
    const clipDir = path.join(root, 'openai', 'clip-vit-large-patch14');
    // missing: the autoencoder
    fs.rmSync(path.join(flux, 'ae.safetensors'));
    // truncated: the second T5 shard cut in half
    const shard = path.join(t5Dir, 'model-00002-of-00002.safetensors');
    fs.truncateSync(shard, Math.floor(fs.statSync(shard).size / 2));
    // wrong shapes: the DiT's img_in.weight flattened to 1-D (a bad conversion)
    const dit = path.join(flux, 'flux1-dev.safetensors');
    const n = (JSON.parse(fs.readFileSync(dit).subarray(8, 8 + Number(fs.readFileSync(dit).readBigUInt64LE(0))).toString()) as Record<string, { shape: number[] }>)['img_in.weight'].shape;
    reshapeTensor(dit, 'img_in.weight', [n[0] * n[1]]);
    // wrong format: CLIP weights replaced by a pickled PyTorch file
    fs.writeFileSync(path.join(clipDir, 'model.safetensors'), Buffer.concat([Buffer.from([0x80, 0x02, 0x8a, 0x0a]), Buffer.alloc(256, 7)]));

    const st = await services.getModelStatus('uno');
    const c = byId(st);
    expect(st.ready).toBe(false);

    expect(c.ae.status).toBe('missing');
    expect(c.ae.searched[0]).toBe(path.join(root, 'black-forest-labs', 'FLUX.1-dev', 'ae.safetensors'));
    expect(c.ae.searched[1]).toContain(path.join(hfCache, 'models--black-forest-labs--FLUX.1-dev'));
    expect(c.ae.downloadUrl).toBe('https://huggingface.co/black-forest-labs/FLUX.1-dev');

    expect(c.t5).toMatchObject({ status: 'invalid', source: 'models-root', path: t5Dir });
    expect(c.t5.problem).toMatch(/truncated/);
    expect(c.t5.problem).toContain('model-00002-of-00002.safetensors');

    expect(c.dit).toMatchObject({ status: 'invalid', source: 'models-root', path: dit });
    expect(c.dit.problem).toBe(`${dit} has the wrong shapes for the FLUX.1-dev transformer: tensor "img_in.weight" is [${n[0] * n[1]}], expected 2 dimensions (a damaged or wrongly converted file?)`);

    expect(c.clip).toMatchObject({ status: 'invalid', path: clipDir });
    expect(c.clip.problem).toContain('model.safetensors');

    // The LoRAs are intact and optional.
    expect(c.uno_lora.status).toBe('found');
    expect(c.umo_lora.status).toBe('found');
    const sizes = Object.fromEntries(UNO_MANIFEST.components.map((x) => [x.id, x.approxBytes]));
    expect(st.missingBytes).toBe(sizes.ae + sizes.t5 + sizes.dit + sizes.clip);

    // An override pointing at the intact file fixes one component without a restart.
    await services.updateSettings({ modelOverrides: { 'uno.dit': path.join(services.paths.demoModelsDir, 'black-forest-labs', 'FLUX.1-dev', 'flux1-dev.safetensors') } });
    expect(byId(await services.getModelStatus('uno')).dit).toMatchObject({ status: 'found', source: 'override' });
    await services.updateSettings({ modelOverrides: {} });
  });

  test('a models folder that does not exist, or is a file, is named as the problem', async () => {
    const nowhere = path.join(temp('umo-nowhere-'), 'not-here');
    await services.updateSettings({ modelsRoot: nowhere });
    expect((await services.getModelStatus('uno')).modelsRoot).toEqual({ path: nowhere, problem: `the folder ${nowhere} does not exist` });
    const file = path.join(temp('umo-file-'), 'file.txt');
    fs.writeFileSync(file, 'x');
    await services.updateSettings({ modelsRoot: file });
    expect((await services.getModelStatus('uno')).modelsRoot?.problem).toBe(`${file} is a file, not a folder`);
    await services.updateSettings({ modelsRoot: 'relative/models' });
    expect((await services.getModelStatus('uno')).modelsRoot?.problem).toMatch(/not an absolute path/);
    await services.updateSettings({ modelsRoot: null });
  });
});
