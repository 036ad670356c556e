// The first run on a machine like CI's (no Electron binary or no display, no GPU, no models), end to
// end: the README's run command (`node scripts/start.mjs`, what `npm start` runs) with a fresh data
// folder prints one line about Electron and the web-mode URL; in Chromium the UI shows the empty
// state, "Try the demo model" installs the demo kit, and a generation with it gives a 64×64 PNG with
// the demo label (in the UI and in the file's metadata). Then the setup view against damaged copies
// of the kit: missing, truncated and wrong-shaped files, a models folder that does not exist and a
// relative path. Screenshots for the README with UMO_DOCS_SHOTS=<dir>.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { readPngTextFromBuffer } from '../../electron/engine/image/png-metadata.js';
import { DEMO_LABEL } from '../../renderer/src/demoModel.js';
import { haveChromium, openBrowser, removeDir, resultImageSize, startApp, tempDir, REPO_ROOT, type OpenedBrowser, type StartedApp } from './e2e-helpers.js';

const electronInstalled = fs.existsSync(path.join(REPO_ROOT, 'node_modules', 'electron', 'path.txt'));
const shots = process.env.UMO_DOCS_SHOTS;

let app: StartedApp;
let browser: OpenedBrowser;
let page: Page;
const dirs: string[] = [];

async function shot(name: string): Promise<void> {
  if (!shots) return;
  fs.mkdirSync(shots, { recursive: true });
  await page.waitForTimeout(400); // let transitions settle
  // A palette PNG keeps the README's images small.
  await sharp(await page.screenshot()).png({ palette: true, quality: 90, compressionLevel: 9 }).toFile(path.join(shots, name));
}

/** Rewrite a safetensors header so `key` gets `shape` (same element count). */
function reshapeTensor(file: string, key: string, shape: (s: number[]) => number[]): void {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { shape: number[] }>;
  header[key].shape = shape(header[key].shape);
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8) json += ' ';
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(json), buf.subarray(8 + n)]));
}

afterAll(() => {
  for (const d of dirs) removeDir(d);
});

describe.skipIf(!haveChromium)('first run (npm start, web mode, demo model)', () => {
  beforeAll(async () => {
    app = await startApp({ args: ['--no-open'] });
    browser = await openBrowser({ viewport: { width: 1280, height: 780 } });
  });

  afterAll(async () => {
    await browser?.close();
    const code = await app?.stop();
    if (app) {
      // A clean shutdown on SIGTERM, and no stack trace anywhere in what the user saw.
      expect(code).toBe(0);
      expect(app.output()).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
      removeDir(app.dataDir);
    }
  });

  test('npm start says in one line why there is no desktop window and prints the URL', () => {
    const out = app.stdout();
    const notice = electronInstalled
      ? 'No display here (headless server?), so the desktop app cannot open a window — starting web mode'
      : 'Electron is not installed here (offline install?) — starting web mode';
    const lines = out.split('\n');
    expect(lines.filter((l) => l.includes('starting web mode'))).toEqual([notice]);
    expect(app.url).toBe(`http://127.0.0.1:${app.port}/`);
    expect(out).toContain(`data folder: ${app.dataDir}`);
    expect(app.stderr()).not.toMatch(/Error|error/);
    expect(out).not.toMatch(/Downloading Electron/);
  });

  test('the empty state offers the demo model; it installs and generates a labelled 64×64 image', async () => {
    page = await browser.newPage(app.url);
    const empty = page.getByRole('region', { name: 'Models needed' });
    await empty.waitFor();
    expect(await empty.textContent()).toContain('UNO needs its model files');
    expect(fs.existsSync(path.join(app.dataDir, 'demo-models'))).toBe(false);
    await shot('first-run-empty.png');

    await empty.getByRole('button', { name: 'Try the demo model' }).click();
    const status = page.getByRole('contentinfo', { name: 'Status' });
    await status.getByText(DEMO_LABEL).waitFor({ timeout: 60_000 });
    expect(fs.existsSync(path.join(app.dataDir, 'demo-models', 'umo-tiny-kit.json'))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(app.dataDir, 'settings.json'), 'utf8'))).toMatchObject({ useDemoModel: true, backbone: 'uno' });
    expect(await page.getByRole('region', { name: 'Models needed' }).count()).toBe(0);

    // The demo starts small and fast: 64×64, few steps.
    await page.getByRole('spinbutton', { name: 'Width' }).waitFor();
    expect(await page.getByRole('spinbutton', { name: 'Width' }).inputValue()).toBe('64');
    expect(await page.getByRole('spinbutton', { name: 'Height' }).inputValue()).toBe('64');
    expect(Number(await page.getByRole('spinbutton', { name: 'Steps', exact: true }).inputValue())).toBeLessThanOrEqual(8);

    await page.getByRole('textbox', { name: 'Prompt' }).fill('a red clock on a beach');
    const t0 = Date.now();
    await page.getByRole('button', { name: 'Generate' }).click();
    const result = page.getByRole('region', { name: 'Result' });
    await result.waitFor({ timeout: 300_000 });
    const seconds = (Date.now() - t0) / 1000;
    const size = await resultImageSize(page, /Result: a red clock on a beach/);
    expect(size).toEqual([64, 64]);
    expect(await result.getByRole('alert', { name: 'Demo model note' }).textContent()).toBe(`${DEMO_LABEL}.`);
    expect(await status.getByText(DEMO_LABEL).count()).toBe(1);
    await shot('demo-generation.png');

    // The file on disk is the image shown, labelled as a demo in its metadata.
    const outputs = fs.readdirSync(path.join(app.dataDir, 'outputs')).filter((f) => f.endsWith('.png'));
    expect(outputs).toHaveLength(1);
    const text = readPngTextFromBuffer(fs.readFileSync(path.join(app.dataDir, 'outputs', outputs[0])));
    expect(text.Comment).toMatch(/built-in demo model \(random weights\)/);
    expect(JSON.parse(text['umo-studio'])).toMatchObject({ demoModel: true, prompt: 'a red clock on a beach', width: 64, height: 64 });
    // "Seconds on CPU", generously bounded for a loaded 2-core CI machine (engine start-up included).
    expect(seconds).toBeLessThan(240);
    console.log(`first demo generation from the click: ${seconds.toFixed(1)} s`);
    expect(browser.pageErrors).toEqual([]);
  });

  test('web mode has no native dialog: chooseFolder answers 404 with a reason', async () => {
    const r = await page.evaluate(async () => {
      const res = await fetch('/api/chooseFolder', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ args: [{ kind: 'models-root' }] }) });
      return { status: res.status, body: await res.json() as { error: string } };
    });
    expect(r).toEqual({ status: 404, body: { error: 'chooseFolder is only available in the desktop app' } });
  });

  test('the setup view reports missing, truncated and wrong-shaped files of a damaged kit, and bad folders', async () => {
    const root = tempDir('umo-e2e-models-');
    dirs.push(root);
    fs.cpSync(path.join(app.dataDir, 'demo-models'), root, { recursive: true });
    const flux = path.join(root, 'black-forest-labs', 'FLUX.1-dev');
    const ae = path.join(flux, 'ae.safetensors');
    fs.truncateSync(ae, Math.floor(fs.statSync(ae).size / 2));
    reshapeTensor(path.join(flux, 'flux1-dev.safetensors'), 'img_in.weight', (s) => [s[0] * s[1]]);
    fs.rmSync(path.join(root, 'openai'), { recursive: true });

    // Back to the user's own models: the empty state returns.
    await page.getByRole('contentinfo', { name: 'Status' }).getByRole('button', { name: 'Use my own models' }).click();
    await page.getByRole('contentinfo', { name: 'Status' }).getByText(DEMO_LABEL).waitFor({ state: 'detached' });
    await page.getByRole('contentinfo', { name: 'Status' }).getByRole('button', { name: 'Set up models' }).click();
    const setup = page.getByRole('dialog', { name: /Model setup/ });
    await setup.waitFor();
    expect(await setup.getByLabel('Hugging Face cache').textContent()).toContain(path.join(app.dataDir, '.no-hf-cache'));

    const folder = setup.getByRole('textbox', { name: 'Models folder' });
    // A relative path is refused before it is saved.
    await folder.fill('models');
    expect(await setup.textContent()).toContain('Give the full path');
    expect(await setup.getByRole('button', { name: 'Save and re-scan' }).isDisabled()).toBe(true);
    // A folder that does not exist is named.
    const nowhere = path.join(root, 'not-here');
    await folder.fill(nowhere);
    await setup.getByRole('button', { name: 'Save and re-scan' }).click();
    await setup.getByText(`the folder ${nowhere} does not exist`).waitFor();

    await folder.fill(root);
    await setup.getByRole('button', { name: 'Save and re-scan' }).click();
    const dit = setup.getByRole('listitem', { name: 'FLUX.1-dev transformer: invalid' });
    await dit.waitFor();
    expect(await dit.textContent()).toContain('has the wrong shapes for the FLUX.1-dev transformer: tensor "img_in.weight" is [');
    const aeRow = setup.getByRole('listitem', { name: 'FLUX autoencoder: invalid' });
    expect(await aeRow.textContent()).toMatch(/truncated/);
    const clip = setup.getByRole('listitem', { name: 'CLIP ViT-L/14 text encoder: missing' });
    expect(await clip.textContent()).toContain(path.join(root, 'openai', 'clip-vit-large-patch14'));
    expect(await clip.getByRole('link', { name: 'Download page' }).getAttribute('href')).toBe('https://huggingface.co/openai/clip-vit-large-patch14');
    const t5 = setup.getByRole('listitem', { name: 'T5-XXL text encoder: found' });
    expect(await t5.textContent()).toContain(`Found in the models folder: ${path.join(root, 'xlabs-ai', 'xflux_text_encoders')}`);
    expect(await setup.getByRole('alert', { name: 'Disk space' }).textContent()).toMatch(/still to download: 26 GB; free disk space: \d/);

    // A per-component path (web mode: a text field) fixes the CLIP row after the re-scan.
    await clip.getByRole('button', { name: 'Set path for CLIP ViT-L/14 text encoder' }).click();
    await clip.getByRole('textbox').fill(path.join(app.dataDir, 'demo-models', 'openai', 'clip-vit-large-patch14'));
    await clip.getByRole('button', { name: 'Use this path' }).click();
    const clipFound = setup.getByRole('listitem', { name: 'CLIP ViT-L/14 text encoder: found' });
    await clipFound.waitFor();
    expect(await clipFound.textContent()).toContain('Found in the chosen path (override)');
    await setup.getByRole('textbox', { name: 'Models folder' }).scrollIntoViewIfNeeded();
    await shot('model-setup.png');
    expect(browser.pageErrors).toEqual([]);
  });
});

describe.skipIf(process.platform === 'win32')('npm start when Electron is there but cannot start', () => {
  test('a missing system library: one line naming it, then web mode', async () => {
    const fake = tempDir('umo-e2e-fake-electron-');
    dirs.push(fake);
    // What a real Electron prints on a server without its shared libraries.
    fs.writeFileSync(path.join(fake, 'electron'), '#!/bin/sh\necho "$0: error while loading shared libraries: libnss3.so: cannot open shared object file: No such file or directory" >&2\nexit 127\n', { mode: 0o755 });
    const run = await startApp({ args: ['--no-open'], env: { DISPLAY: ':99', ELECTRON_OVERRIDE_DIST_PATH: fake } });
    try {
      const lines = run.stdout().split('\n').filter((l) => l.includes('starting web mode'));
      expect(lines).toEqual([
        `Electron could not start here: ${path.join(fake, 'electron')}: error while loading shared libraries: libnss3.so: cannot open shared object file: No such file or directory (exit code 127) — starting web mode`,
      ]);
      const res = await fetch(run.url);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('<title>UMO Studio</title>');
    } finally {
      expect(await run.stop()).toBe(0);
      removeDir(run.dataDir);
    }
    expect(run.output()).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  });
});
