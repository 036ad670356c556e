// OmniGen2 from the app as a user drives it: web mode started like `npm start -- --web` with a fresh
// data folder whose settings point the models root at a folder holding the tiny OmniGen2 kit (and the
// tiny UNO kit next to it), CPU. In Debian's Chromium, by role and accessible name: switch the
// backbone to OmniGen2, check its controls, add one reference through the slot's file input, type a
// prompt, 256×256 (the real-checkpoint minimum), 20 steps (the UI minimum), DPM-Solver++, the UMO
// OmniGen2 LoRA that the app found with the models, a fixed seed, Generate. The result panel and the
// PNG on disk must carry what the UI chose.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeTinyOmniGen2Kit } from '../../electron/engine/kit/tiny-omnigen2-kit.js';
import { writeTinyUnoKit } from '../../electron/engine/kit/tiny-uno-kit.js';
import { readPngText } from '../../electron/engine/image/png-metadata.js';
import { OMNIGEN2_DEFAULT_NEGATIVE_PROMPT } from '../../shared/backbone-params.js';
import { haveChromium, openBrowser, removeDir, startApp, tempDir, type OpenedBrowser, type StartedApp, resultRows, setNumber } from './e2e-helpers.js';

const PROMPT = 'the figurine from the first image on a beach';
const SEED = 23;

interface DomElement {
  textContent: string | null;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
}
interface DomImage extends DomElement {
  complete: boolean;
  naturalWidth: number;
  naturalHeight: number;
}

interface WsEvent {
  type: string;
  jobId?: string;
  phase?: string;
  step?: number;
  total?: number;
}

let work = '';
let models = '';
let og2Lora = '';
let app: StartedApp | undefined;
let browser: OpenedBrowser | undefined;
let page: Page;
let reference: Buffer;
const events: WsEvent[] = [];

function settingsOnDisk(): { backbone: string; activeLora: Record<string, string | null>; recentLoras: Array<{ path: string; backbone: string }> } {
  return JSON.parse(fs.readFileSync(path.join(app!.dataDir, 'settings.json'), 'utf8')) as ReturnType<typeof settingsOnDisk>;
}

const slot = (n: number) => page.getByRole('group', { name: `Reference ${n}`, exact: true });

describe.skipIf(!haveChromium)('OmniGen2 in the app (Chromium, web mode, tiny OmniGen2 kit)', () => {
  beforeAll(async () => {
    work = tempDir('umo-e2e-og2-');
    models = path.join(work, 'models');
    await writeTinyUnoKit(models);
    og2Lora = writeTinyOmniGen2Kit(models).loraFile;
    expect(fs.existsSync(og2Lora), og2Lora).toBe(true);
    reference = await sharp({ create: { width: 96, height: 80, channels: 3, background: { r: 200, g: 60, b: 30 } } }).png().toBuffer();

    // A user who set the models folder and CPU, on UNO, with no LoRA added by hand.
    const dataDir = path.join(work, 'data');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'settings.json'), `${JSON.stringify({
      modelsRoot: models,
      devicePreference: 'cpu',
      backbone: 'uno',
      theme: 'system',
      recentLoras: [],
      activeLora: { uno: null, omnigen2: null },
    }, null, 2)}\n`);

    app = await startApp({ args: ['--web', '--no-open'], dataDir });
    browser = await openBrowser({ viewport: { width: 1280, height: 860 } });
    page = await browser.newPage();
    page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
      try {
        events.push(JSON.parse(String(payload)) as WsEvent);
      } catch { /* not JSON */ }
    }));
    await page.goto(app.url);
    page.setDefaultTimeout(60_000);
    await page.getByRole('textbox', { name: 'Prompt', exact: true }).waitFor({ timeout: 60_000 });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    const code = await app?.stop();
    if (app && code !== 0 && code !== null) console.error(`web mode exited with ${code}:\n${app.output()}`);
    removeDir(work);
  });

  test('switching to OmniGen2 shows its controls with the official defaults; the models are found', async () => {
    const backbone = page.getByRole('group', { name: 'Backbone' });
    await backbone.getByRole('button', { name: 'OmniGen2' }).click();
    await page.getByRole('textbox', { name: 'Negative prompt' }).waitFor();
    await expect.poll(() => backbone.getByRole('button', { name: 'OmniGen2' }).getAttribute('aria-pressed')).toBe('true');
    await expect.poll(() => settingsOnDisk().backbone).toBe('omnigen2');
    // The status line reports the tiny OmniGen2 kit complete.
    await page.getByRole('contentinfo', { name: 'Status' }).getByText(/OmniGen2 models: (\d+)\/\1 found$/).waitFor();

    expect(await page.getByRole('textbox', { name: 'Negative prompt' }).inputValue()).toBe(OMNIGEN2_DEFAULT_NEGATIVE_PROMPT);
    expect(await page.getByRole('spinbutton', { name: 'Text guidance', exact: true }).inputValue()).toBe('5');
    expect(await page.getByRole('spinbutton', { name: 'Image guidance', exact: true }).inputValue()).toBe('2');
    expect(await page.getByRole('spinbutton', { name: 'Steps', exact: true }).inputValue()).toBe('50');
    expect(await page.getByRole('spinbutton', { name: 'Guidance', exact: true }).count()).toBe(0);
    const scheduler = page.getByRole('combobox', { name: 'Scheduler' });
    expect(await scheduler.innerText()).toContain('euler');
    expect(await page.getByRole('group', { name: /^Reference \d+$/ }).count()).toBe(3);

    // Advanced options start closed; opening them shows the input limits and "Align resolution".
    const align = page.getByRole('checkbox', { name: 'Align resolution' });
    expect(await align.isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Advanced options' }).click();
    await align.waitFor({ state: 'visible' });
    expect(await align.isChecked()).toBe(true);
    expect(await page.getByRole('spinbutton', { name: 'Max input image side', exact: true }).inputValue()).toBe('2048');
    expect(await page.getByRole('spinbutton', { name: 'Max pixels', exact: true }).inputValue()).toBe('1048576');
  });

  test('one reference, prompt, 256×256, 20 steps, DPM-Solver++, the UMO OmniGen2 LoRA, fixed seed -> result and PNG metadata', async () => {
    // The reference through slot 1's file input (what "Add reference image 1" opens).
    await page.getByLabel('Reference image 1 file').setInputFiles({ name: 'red-figurine.png', mimeType: 'image/png', buffer: reference });
    await expect.poll(() => slot(1).getByRole('img').count(), { timeout: 30_000 }).toBe(1);
    await expect.poll(() => slot(1).getByText('red-figurine.png · 96×80').count()).toBe(1);

    await page.getByRole('textbox', { name: 'Prompt', exact: true }).fill(PROMPT);
    // Below the real-checkpoint minimums: snapped up to 256 px and 20 steps.
    expect(await setNumber(page, 'Width', 64)).toBe('256');
    expect(await setNumber(page, 'Height', 64)).toBe('256');
    expect(await setNumber(page, 'Steps', 3)).toBe('20');
    // With one reference, "Align resolution" would give the reference's size: off, to get 256×256.
    const align = page.getByRole('checkbox', { name: 'Align resolution' });
    if (!await align.isVisible()) await page.getByRole('button', { name: 'Advanced options' }).click();
    await align.uncheck();
    expect(await align.isChecked()).toBe(false);

    const scheduler = page.getByRole('combobox', { name: 'Scheduler' });
    await scheduler.click();
    await page.getByRole('listbox').getByRole('option', { name: 'dpmsolver++' }).click();
    await expect.poll(() => scheduler.innerText()).toContain('dpmsolver++');

    const randomSeed = page.getByRole('switch', { name: 'Random seed' });
    if (await randomSeed.isChecked()) await randomSeed.click();
    expect(await randomSeed.isChecked()).toBe(false);
    expect(await setNumber(page, 'Seed', SEED)).toBe(String(SEED));

    // The UMO OmniGen2 LoRA came with the models: the app lists it (only OmniGen2's LoRAs here).
    const lora = page.getByRole('combobox', { name: 'LoRA' });
    expect(await lora.innerText()).toContain('No LoRA');
    await lora.click();
    const listbox = page.getByRole('listbox');
    const options = (await listbox.getByRole('option').allInnerTexts()).filter((t) => t.trim() !== '');
    expect(options).toEqual(['No LoRA', 'UMO_OmniGen2.safetensors', 'Add LoRA file…']);
    await listbox.getByRole('option', { name: 'UMO_OmniGen2.safetensors' }).click();
    await expect.poll(() => lora.innerText()).toContain('UMO_OmniGen2.safetensors');
    await expect.poll(() => settingsOnDisk().activeLora.omnigen2).toBe(og2Lora);

    expect(await page.getByRole('alert', { name: 'Form problems' }).count()).toBe(0);
    const firstEvent = events.length;
    const started = Date.now();
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    const table = page.getByRole('table', { name: 'Result parameters' });
    await table.waitFor({ timeout: 120_000 });
    const seconds = (Date.now() - started) / 1000;

    // The engine's events for this job: every denoising step of 20, ending in done.
    const done = events.slice(firstEvent).find((e) => e.type === 'done');
    expect(done?.jobId, JSON.stringify(events.slice(firstEvent).filter((e) => e.type !== 'progress'))).toBeTruthy();
    const job = events.slice(firstEvent).filter((e) => e.jobId === done!.jobId);
    const denoise = job.filter((e) => e.type === 'progress' && e.phase === 'denoising').map((e) => e.step);
    expect(denoise).toEqual(Array.from({ length: 21 }, (_, i) => i));
    expect(job.some((e) => e.type === 'phase' && e.phase === 'baking')).toBe(true);

    const rows = await resultRows(page);
    expect(rows).toMatchObject({
      Prompt: PROMPT, Backbone: 'OmniGen2', Seed: String(SEED), Size: '256×256', Steps: '20',
      'Text guidance': '5', 'Image guidance': '2', Scheduler: 'dpmsolver++', LoRA: 'UMO_OmniGen2.safetensors', 'LoRA scale': '1',
    });
    expect(rows.Guidance).toBeUndefined();
    await expect.poll(() => page.getByRole('region', { name: 'Result' }).getByRole('img', { name: `Result: ${PROMPT}` })
      .evaluate((img: DomImage) => img.complete ? [img.naturalWidth, img.naturalHeight] : null)).toEqual([256, 256]);

    // The PNG on disk carries what the UI chose.
    const file = rows.File;
    expect(path.dirname(file)).toBe(path.join(app!.dataDir, 'outputs'));
    const img = await sharp(file).metadata();
    expect([img.width, img.height, img.format]).toEqual([256, 256, 'png']);
    const meta = await readPngText(file);
    expect(meta.backbone).toBe('omnigen2');
    expect(meta.prompt).toBe(PROMPT);
    expect(meta.seed).toBe(String(SEED));
    expect(meta.size).toBe('256x256');
    expect(meta.steps).toBe('20');
    expect(meta.scheduler).toBe('dpmsolver++');
    expect(meta.lora).toBe('UMO_OmniGen2.safetensors @ 1');
    // One reference, text guidance 5 and image guidance 2 over the whole CFG range: 3 passes every step.
    expect(meta.passesPerStep).toBe(Array.from({ length: 20 }, () => '3').join(','));
    const record = JSON.parse(meta['umo-studio']) as Record<string, unknown> & { lora: { file: string; sha256: string; scale: number }; references: Array<{ name: string }> };
    expect(record).toMatchObject({
      backbone: 'omnigen2', steps: 20, scheduler: 'dpmsolver++', textGuidance: 5, imageGuidance: 2, cfgRange: [0, 1],
      alignRes: false, seed: SEED, executionProvider: 'cpu', negativePrompt: OMNIGEN2_DEFAULT_NEGATIVE_PROMPT,
    });
    expect(record.lora.file).toBe('UMO_OmniGen2.safetensors');
    expect(record.lora.sha256).toBe(crypto.createHash('sha256').update(fs.readFileSync(og2Lora)).digest('hex'));
    expect(record.references).toHaveLength(1);
    const request = JSON.parse(meta.request) as { backbone: string; lora: { path: string | null; scale: number }; references: string[] };
    expect(request.backbone).toBe('omnigen2');
    expect(request.lora).toEqual({ path: og2Lora, scale: 1 });
    const stored = await sharp(request.references[0]).raw().toBuffer({ resolveWithObject: true });
    expect([stored.info.width, stored.info.height]).toEqual([96, 80]);
    expect([...stored.data.subarray(0, 3)]).toEqual([200, 60, 30]);
    expect(browser!.pageErrors.map((e) => e.message)).toEqual([]);
    console.log(`e2e: OmniGen2 generation (256×256, 20 steps dpmsolver++, 1 reference, UMO LoRA bake) took ${seconds.toFixed(1)} s from click to result`);
  });
});
