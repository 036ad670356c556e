// The built renderer in headless Chromium over the in-memory API (the real server's end-to-end suite
// is separate): controls reachable by role and label, references by file input and drag-and-drop,
// reorder, a refused file, generate with a LoRA, progress, result and metadata, cancel with Esc,
// a failed job, the backbone switch, reuse settings, and light/dark screenshots (UMO_UI_SHOTS=dir).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build, type Plugin } from 'vite';
import type { FakeOptions } from './fake-umo-api.js';

// Browser globals used inside page.evaluate callbacks (this file is type-checked without the DOM lib).
declare const DataTransfer: new () => { items: { add(file: File): void } };
declare const window: {
  fakeUmo: { requests: unknown[]; generateOptions: unknown[]; planQueries: unknown[]; opts: { failWith?: string }; updateSettings(patch: { memoryBudgetGiB: number | null }): Promise<unknown> };
};

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const repo = path.resolve(import.meta.dirname, '../../..');
const haveChromium = fs.existsSync(CHROMIUM);

/** Until the web client exists the build gets a stub (this page always uses the injected window.umo). */
function webApiStub(): Plugin {
  const real = path.join(repo, 'renderer/src/api/web-api.ts');
  return {
    name: 'web-api-stub',
    resolveId(id) {
      if (id.endsWith('/api/web-api.js') && !fs.existsSync(real)) return '\0web-api-stub';
      return null;
    },
    load(id) {
      return id === '\0web-api-stub' ? 'export function createWebApi() { throw new Error("no web api in this test"); }' : null;
    },
  };
}

let dir = '';
let server: http.Server;
let baseUrl = '';
let browser: Browser;
let fakeBundle = '';

async function png(w: number, h: number, color: string): Promise<Buffer> {
  return sharp({ create: { width: w, height: h, channels: 3, background: color } }).png().toBuffer();
}

async function openApp(opts: FakeOptions = {}, colorScheme: 'light' | 'dark' = 'light', width = 1280): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: 860 }, colorScheme });
  page.on('pageerror', (e) => {
    throw e;
  });
  await page.addInitScript(`window.__fakeUmoOptions = ${JSON.stringify(opts)};\n${fakeBundle}`);
  await page.goto(`${baseUrl}/index.html`);
  await page.getByRole('button', { name: 'Generate' }).waitFor();
  return page;
}

describe.skipIf(!haveChromium)('renderer in Chromium (in-memory API)', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'umo-ui-'));
    await build({
      configFile: path.join(repo, 'renderer/vite.config.ts'),
      logLevel: 'silent',
      plugins: [webApiStub()],
      build: { outDir: path.join(dir, 'app'), emptyOutDir: true },
    });
    const out = await build({
      configFile: false,
      logLevel: 'silent',
      build: {
        write: false,
        minify: false,
        lib: { entry: path.join(import.meta.dirname, 'fake-umo-entry.ts'), formats: ['iife'], name: 'FakeUmo' },
      },
    });
    const outputs = Array.isArray(out) ? out : [out];
    const chunk = outputs.flatMap((o) => ('output' in o ? o.output : [])).find((c) => c.type === 'chunk');
    if (!chunk || chunk.type !== 'chunk') throw new Error('fake API bundle not built');
    fakeBundle = chunk.code;
    const root = path.join(dir, 'app');
    server = http.createServer((req, res) => {
      const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const file = path.join(root, rel === '/' ? 'index.html' : rel);
      if (!file.startsWith(root) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
        res.writeHead(404).end();
        return;
      }
      const type = file.endsWith('.js') ? 'text/javascript' : file.endsWith('.html') ? 'text/html' : file.endsWith('.css') ? 'text/css' : 'application/octet-stream';
      res.writeHead(200, { 'content-type': type }).end(fs.readFileSync(file));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('imports, reorders and refuses references; generates with the chosen LoRA; shows progress, result and metadata', async () => {
    const page = await openApp({
      stepMs: 40,
      settings: { recentLoras: [{ path: '/loras/UMO_UNO.safetensors', label: 'UMO_UNO.safetensors', backbone: 'uno' }] },
    });
    // Controls by role and accessible name.
    await expect(page.getByRole('group', { name: 'Backbone' }).getByRole('button', { name: 'UNO' }).getAttribute('aria-pressed')).resolves.toBe('true');
    for (const name of ['Width', 'Height', 'Steps', 'Guidance', 'Seed', 'LoRA scale']) {
      expect(await page.getByRole('spinbutton', { name, exact: true }).count(), name).toBe(1);
    }
    expect(await page.getByRole('slider', { name: 'Steps slider' }).count()).toBe(1);
    expect(await page.getByRole('combobox', { name: 'Aspect ratio' }).count()).toBe(1);
    expect(await page.getByRole('switch', { name: 'Random seed' }).isChecked()).toBe(true);

    // Two references: one through the slot's file input, one dropped on the slot area.
    await page.getByLabel('Reference image 1 file').setInputFiles({ name: 'red.png', mimeType: 'image/png', buffer: await png(64, 48, '#c33') });
    await page.getByRole('img', { name: 'Reference 1: red.png' }).waitFor();
    const blue = (await png(40, 40, '#33c')).toString('base64');
    const dt = await page.evaluateHandle((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const d = new DataTransfer();
      d.items.add(new File([bytes], 'blue.png', { type: 'image/png' }));
      return d;
    }, blue);
    await page.getByRole('region', { name: 'Reference images' }).dispatchEvent('drop', { dataTransfer: dt });
    await page.getByRole('img', { name: 'Reference 2: blue.png' }).waitFor();
    expect(await page.getByRole('group', { name: 'Reference 2' }).getByText('blue.png · 40×40').count()).toBe(1);

    // Reorder with the keyboard-accessible button, then back by dragging slot 1 onto slot 2.
    await page.getByRole('button', { name: 'Move reference 2 left' }).click();
    await page.getByRole('img', { name: 'Reference 1: blue.png' }).waitFor();
    const drag = await page.evaluateHandle(() => new DataTransfer());
    await page.getByRole('img', { name: 'Reference 1: blue.png' }).dispatchEvent('dragstart', { dataTransfer: drag });
    await page.getByRole('group', { name: 'Reference 2' }).locator('div').first().dispatchEvent('drop', { dataTransfer: drag });
    await page.getByRole('img', { name: 'Reference 1: red.png' }).waitFor();
    await page.getByRole('img', { name: 'Reference 2: blue.png' }).waitFor();

    // A file that is not an image: the app's message on that slot, the others untouched.
    await page.getByLabel('Reference image 3 file').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await expect(page.getByRole('group', { name: 'Reference 3' }).getByRole('alert').textContent()).resolves.toContain('notes.txt is not a supported image');
    expect(await page.getByRole('img', { name: /^Reference \d: / }).count()).toBe(2);

    // Prompt, LoRA from the list, fixed seed, generate.
    await page.getByRole('textbox', { name: 'Prompt' }).fill('The figurine is in the crystal ball');
    await page.getByRole('combobox', { name: 'LoRA' }).click();
    await page.getByRole('option', { name: 'UMO_UNO.safetensors' }).click();
    await expect(page.getByRole('combobox', { name: 'LoRA' }).textContent()).resolves.toBe('UMO_UNO.safetensors');
    await page.getByRole('switch', { name: 'Random seed' }).uncheck();
    await page.getByRole('spinbutton', { name: 'Seed', exact: true }).fill('61733557');
    await page.getByRole('combobox', { name: 'Aspect ratio' }).click();
    await page.getByRole('option', { name: /^16:9/ }).click();
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.getByRole('status').filter({ hasText: /Denoising · step \d+\/25/ }).waitFor();
    expect(await page.getByRole('button', { name: 'Cancel' }).isEnabled()).toBe(true);
    const table = page.getByRole('table', { name: 'Result parameters' });
    await table.waitFor({ timeout: 15_000 });
    const text = await table.textContent();
    expect(text).toContain('The figurine is in the crystal ball');
    expect(text).toContain('61733557');
    expect(text).toContain('1024×576');
    expect(text).toContain('UMO_UNO.safetensors');
    const requests = await page.evaluate(() => window.fakeUmo.requests);
    expect(requests).toEqual([expect.objectContaining({
      backbone: 'uno', references: [expect.stringContaining('red.png'), expect.stringContaining('blue.png')],
      width: 1024, height: 576, steps: 25, guidance: 4, seed: 61733557, lora: { path: '/loras/UMO_UNO.safetensors', scale: 1 },
    })]);
    expect(await page.getByRole('list').getByRole('button', { name: /^Show result 1/ }).count()).toBe(1);

    // Reuse settings restores the prompt, size and the seed (random off).
    await page.getByRole('textbox', { name: 'Prompt' }).fill('something else');
    await page.getByRole('switch', { name: 'Random seed' }).check();
    await page.getByRole('combobox', { name: 'Aspect ratio' }).click();
    await page.getByRole('option', { name: /^1:1/ }).click();
    await page.getByRole('button', { name: 'Reuse settings' }).click();
    expect(await page.getByRole('textbox', { name: 'Prompt' }).inputValue()).toBe('The figurine is in the crystal ball');
    expect(await page.getByRole('switch', { name: 'Random seed' }).isChecked()).toBe(false);
    expect(await page.getByRole('spinbutton', { name: 'Seed', exact: true }).inputValue()).toBe('61733557');
    expect(await page.getByRole('spinbutton', { name: 'Width', exact: true }).inputValue()).toBe('1024');

    // Use the result as a reference (goes into the first empty slot).
    await page.getByRole('button', { name: 'Use as reference' }).click();
    await page.getByRole('img', { name: /^Reference 3: result-/ }).waitFor();
    if (process.env.UMO_UI_SHOTS) await page.screenshot({ path: path.join(process.env.UMO_UI_SHOTS, 'ui-light.png') });
    await page.close();
  });

  it('cancels with Esc, shows a failed job in a dismissible alert and keeps the inputs', async () => {
    const page = await openApp({ stepMs: 80 });
    await page.getByRole('textbox', { name: 'Prompt' }).fill('keep me');
    await page.getByRole('textbox', { name: 'Prompt' }).press('Control+Enter');
    await page.getByRole('status').filter({ hasText: /Denoising/ }).waitFor();
    await page.getByRole('heading', { name: 'UMO Studio' }).click();
    await page.keyboard.press('Escape');
    await page.getByText('Generation cancelled.').waitFor();
    await page.evaluate(() => {
      window.fakeUmo.opts.failWith = 'out of memory while loading the transformer';
    });
    await page.getByRole('button', { name: 'Generate' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'out of memory while loading the transformer' });
    await alert.waitFor();
    expect(await page.getByRole('textbox', { name: 'Prompt' }).inputValue()).toBe('keep me');
    await alert.getByRole('button', { name: 'Close' }).click();
    await alert.waitFor({ state: 'detached' });
    await page.close();
  });

  it('switches the controls with the backbone and shows the model setup when files are missing', async () => {
    const page = await openApp({ ready: false }, 'dark', 1000);
    await page.getByRole('region', { name: 'Models needed' }).waitFor();
    // Offered whenever no backbone is ready: it installs the demo model on first use.
    expect(await page.getByRole('region', { name: 'Models needed' }).getByRole('button', { name: 'Try the demo model' }).count()).toBe(1);
    await page.getByRole('button', { name: 'Set up models' }).first().click();
    const setup = page.getByRole('dialog', { name: /Model setup/ });
    await setup.getByRole('listitem', { name: 'T5-XXL text encoder: invalid' }).waitFor();
    expect(await setup.textContent()).toContain('truncated');
    await page.waitForTimeout(400); // let the dialog's fade-in finish
    if (process.env.UMO_UI_SHOTS) await page.screenshot({ path: path.join(process.env.UMO_UI_SHOTS, 'ui-setup-dark.png') });
    await setup.getByRole('button', { name: 'Close' }).click();

    await page.getByRole('button', { name: 'OmniGen2' }).click();
    await page.getByRole('textbox', { name: 'Negative prompt' }).waitFor();
    for (const name of ['Text guidance', 'Image guidance', 'CFG range start', 'CFG range end', 'Images per prompt']) {
      expect(await page.getByRole('spinbutton', { name, exact: true }).count(), name).toBe(1);
    }
    expect(await page.getByRole('spinbutton', { name: 'Guidance', exact: true }).count()).toBe(0);
    expect(await page.getByRole('combobox', { name: 'Scheduler' }).count()).toBe(1);
    expect(await page.getByRole('spinbutton', { name: 'Width' }).inputValue()).toBe('1024');
    // CFG start above end pulls the end up (start ≤ end, like the demo).
    await page.getByRole('spinbutton', { name: 'CFG range end', exact: true }).fill('0.3');
    await page.getByRole('spinbutton', { name: 'CFG range start', exact: true }).fill('0.6');
    await page.getByRole('spinbutton', { name: 'CFG range start', exact: true }).blur();
    expect(await page.getByRole('spinbutton', { name: 'CFG range end', exact: true }).inputValue()).toBe('0.6');
    await page.getByRole('button', { name: 'Advanced options' }).click();
    await page.getByRole('checkbox', { name: 'Align resolution' }).waitFor();
    await page.getByText('Only with one reference image').first().waitFor();
    if (process.env.UMO_UI_SHOTS) await page.screenshot({ path: path.join(process.env.UMO_UI_SHOTS, 'ui-omnigen2-dark.png') });
    await page.close();
  });

  it('shows the memory estimate by Generate; a plan that does not fit asks first; "Load anyway" generates; device and fallback warnings are visible', async () => {
    const fallback = 'DiT failed on webgpu (session creation failed: no adapter); continuing on CPU';
    const page = await openApp({ stepMs: 10, fallbackWarning: fallback, settings: { devicePreference: 'webgpu' } });
    // The chosen device does not work here: said at start, not a silent slowdown.
    const device = page.getByRole('alert', { name: 'Device warning' });
    await device.waitFor();
    expect(await device.textContent()).toContain('The chosen device webgpu does not work here (it failed: no GPU adapter); generations use the CPU.');

    // UNO at its default 768×768 with the fake planner: 1 GiB + 4 KiB per pixel = 3.25 GiB against 16 GiB.
    const estimate = page.getByRole('status', { name: 'Memory estimate' });
    await estimate.getByText('Fits in 16 GiB: peak 3.3 GiB · DiT int8 · one phase at a time').waitFor();
    await estimate.getByRole('button', { name: 'Details' }).click();
    const details = page.getByRole('table', { name: 'Memory per phase' });
    await details.waitFor();
    expect(await details.getByRole('row').nth(1).textContent()).toBe('DenoiseDiT int81 GiB2.3 GiB3.3 GiB');
    expect(await page.getByRole('list', { name: 'Given up to fit' }).textContent()).toBe('DiT int8 instead of fp16');

    // A new size replans (after a pause: width and height typed one after the other usually give one query).
    for (const name of ['Width', 'Height']) {
      const box = page.getByRole('spinbutton', { name, exact: true });
      await box.fill('1024');
      await box.press('Enter');
    }
    await estimate.getByText(/^Fits in 16 GiB: peak 5 GiB/).waitFor();
    const last = await page.evaluate(() => (window.fakeUmo.planQueries as Array<{ width: number; height: number }>).at(-1));
    expect(last).toEqual({ backbone: 'uno', width: 1024, height: 1024, references: 0 });

    // A budget too small: the estimate says so, and Generate asks before loading.
    await page.evaluate(() => window.fakeUmo.updateSettings({ memoryBudgetGiB: 2 }));
    await estimate.getByText(/^Does not fit in 2 GiB: needs 5 GiB/).waitFor();
    await page.getByRole('textbox', { name: 'Prompt' }).fill('a lighthouse');
    await page.getByRole('button', { name: 'Generate' }).click();
    const dialog = page.getByRole('dialog', { name: 'Not enough memory' });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('This generation needs about 5 GiB but the budget is 2 GiB (your setting).');
    await dialog.getByRole('button', { name: 'Go back' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await page.evaluate(() => window.fakeUmo.requests.length)).toBe(0);

    await page.getByRole('button', { name: 'Generate' }).click();
    await dialog.getByRole('button', { name: 'Load anyway' }).click();
    await page.getByRole('region', { name: 'Result' }).waitFor();
    expect(await page.evaluate(() => window.fakeUmo.requests.length)).toBe(1);
    expect(await page.evaluate(() => window.fakeUmo.generateOptions)).toEqual([{ loadAnyway: true }]);
    // The GPU fallback warning of the job is shown, once (event + result repeat it).
    const warnings = page.getByRole('alert', { name: 'Job warnings' });
    expect(await warnings.textContent()).toBe(fallback);
    await page.close();
  });

  it('a job the engine refuses for memory (Generate pressed before the estimate arrived) opens the guardrail, and "Load anyway" runs it', async () => {
    const page = await openApp({ stepMs: 10, planDelayMs: 4000, settings: { memoryBudgetGiB: 2 } });
    await page.getByRole('textbox', { name: 'Prompt' }).fill('a lighthouse');
    await page.getByRole('button', { name: 'Generate' }).click();
    const dialog = page.getByRole('dialog', { name: 'Not enough memory' });
    await dialog.waitFor({ timeout: 20_000 });
    expect(await dialog.textContent()).toContain('but the budget is 2 GiB (your setting).');
    expect(await page.evaluate(() => window.fakeUmo.generateOptions)).toEqual([undefined]);
    expect(await page.getByRole('alert').filter({ hasText: 'to run anyway' }).count()).toBe(0);
    await dialog.getByRole('button', { name: 'Load anyway' }).click();
    await page.getByRole('region', { name: 'Result' }).waitFor();
    expect(await page.evaluate(() => window.fakeUmo.generateOptions)).toEqual([undefined, { loadAnyway: true }]);
    await page.close();
  });
});
