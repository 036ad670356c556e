// The app as a user sees it: web mode started like `npm start -- --web` (fresh data folder whose
// settings point the models root at the tiny UNO kit, CPU), driven in Debian's Chromium by role and
// accessible name. Reference images go in by real drag-and-drop of files, a LoRA is picked from the
// list, a generation runs through the real engine process, and the result PNG on disk must carry
// what the UI showed, including the LoRA chosen in the UI. Also: cancelling mid-run, invalid images
// on a slot, the backbone switch swapping the controls, and byte-identical results for one seed.
//
// Screenshots (light and dark, 1280×800, with a result) are always taken into the temp folder and
// checked; set UMO_SCREENSHOT_DIR (e.g. docs/screenshots, relative to the repo) to keep them as
// app-light.png / app-dark.png.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { JSHandle, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeTinyUnoKit } from '../../electron/engine/kit/tiny-uno-kit.js';
import { readPngText } from '../../electron/engine/image/png-metadata.js';
import { PHASE_LABELS } from '../../shared/engine-protocol.js';
import {
  REPO_ROOT, haveChromium, openBrowser, removeDir, startApp, tempDir, type OpenedBrowser, type StartedApp, resultRows, setNumber } from './e2e-helpers.js';

const PROMPT = 'two figurines on a wooden desk';
const SEED = 7;

// The few browser APIs the in-page functions use, typed here because the Node-side tsconfig has no
// DOM lib. In-page functions are serialised into the page, so each one casts `globalThis` itself.
interface DomRect {
  top: number;
  bottom: number;
  left: number;
  right: number;
  width: number;
  height: number;
}
interface DomElement {
  textContent: string | null;
  parentElement: DomElement | null;
  scrollTop: number;
  getBoundingClientRect(): DomRect;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
  contains(other: DomElement): boolean;
}
interface DomImage extends DomElement {
  complete: boolean;
  naturalWidth: number;
  naturalHeight: number;
}
interface PageGlobals {
  DataTransfer: new () => { items: { add(file: unknown): void } };
  File: new (parts: Uint8Array[], name: string, options: { type: string }) => unknown;
  MutationObserver: new (callback: () => void) => { observe(target: DomElement, options: object): void; disconnect(): void };
  atob(data: string): string;
  getComputedStyle(el: DomElement): { backgroundColor: string };
  document: { body: DomElement; elementFromPoint(x: number, y: number): DomElement | null };
  progressLog: string[];
  progressObserver?: { observe(target: DomElement, options: object): void; disconnect(): void };
}

interface DropFile {
  name: string;
  mime: string;
  bytes: Buffer;
}

let work = '';
let kit = '';
let umoLora = '';
let unoLora = '';
let app: StartedApp | undefined;
let browser: OpenedBrowser | undefined;
let page: Page;
let red: DropFile;
let blue: DropFile;
/** The first result's file (the determinism check generates the same request again). */
let firstResult = '';

interface WsEvent {
  type: string;
  jobId?: string;
  phase?: string;
  step?: number;
  total?: number;
}
/** Every event the page received on its WebSocket. */
const events: WsEvent[] = [];

// ---------------------------------------------------------------------------------------------
// Helpers

/** A DataTransfer holding these files, built in the page (what the OS hands the browser on a drop). */
async function dataTransferOf(files: DropFile[]): Promise<JSHandle<unknown>> {
  const payload = files.map((f) => ({ name: f.name, mime: f.mime, b64: f.bytes.toString('base64') }));
  return page.evaluateHandle((list) => {
    const g = globalThis as unknown as PageGlobals;
    const dt = new g.DataTransfer();
    for (const f of list) {
      const bin = g.atob(f.b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      dt.items.add(new g.File([bytes], f.name, { type: f.mime }));
    }
    return dt;
  }, payload);
}

function slot(n: number): Locator {
  return page.getByRole('group', { name: `Reference ${n}`, exact: true });
}

/** The drop zone of slot n (the square holding the thumbnail or the "add" button). */
function slotDropZone(n: number): Locator {
  return slot(n).locator(':scope > div').first();
}

/** Drag files from "outside" onto a target: dragenter, dragover, drop with the same DataTransfer. */
async function dropFiles(target: Locator, files: DropFile[]): Promise<void> {
  const dataTransfer = await dataTransferOf(files);
  for (const type of ['dragenter', 'dragover', 'drop']) await target.dispatchEvent(type, { dataTransfer });
  await dataTransfer.dispose();
}

/** The image names shown in slots 1..4 (null for an empty slot). */
async function slotNames(count = 4): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let n = 1; n <= count; n++) {
    const img = slot(n).getByRole('img');
    out.push(await img.count() ? (await img.getAttribute('alt'))!.replace(`Reference ${n}: `, '') : null);
  }
  return out;
}

async function expectSlots(expected: (string | null)[]): Promise<void> {
  await expect.poll(() => slotNames(expected.length), { timeout: 30_000 }).toEqual(expected);
}

/** The progress line under the result (the memory estimate is a labelled status of its own). */
function progressLine() {
  return page.locator('[role="status"]:not([aria-label])').first();
}

function progressText(): Promise<string> {
  return progressLine().innerText();
}

/** Record every text the progress line shows from now on (read back with `takeProgressLog`). */
async function recordProgress(): Promise<void> {
  await progressLine().evaluate((el: DomElement) => {
    const w = globalThis as unknown as PageGlobals;
    w.progressObserver?.disconnect();
    w.progressLog = [el.textContent ?? ''];
    w.progressObserver = new w.MutationObserver(() => {
      const t = el.textContent ?? '';
      if (w.progressLog.at(-1) !== t) w.progressLog.push(t);
    });
    w.progressObserver.observe(el, { childList: true, characterData: true, subtree: true });
  });
}

function takeProgressLog(): Promise<string[]> {
  return page.evaluate(() => (globalThis as unknown as PageGlobals).progressLog);
}

function historyCount(): Promise<number> {
  return page.getByRole('region', { name: 'History' }).getByRole('listitem').count();
}

const resultImage = () => page.getByRole('region', { name: 'Result' }).getByRole('img', { name: `Result: ${PROMPT}` });
const generateButton = () => page.getByRole('button', { name: 'Generate', exact: true });
const cancelButton = () => page.getByRole('button', { name: 'Cancel', exact: true });

// ---------------------------------------------------------------------------------------------

describe.skipIf(!haveChromium)('UMO Studio in Chromium (web mode, tiny UNO kit)', () => {
  beforeAll(async () => {
    work = tempDir('umo-e2e-app-');
    kit = path.join(work, 'models');
    await writeTinyUnoKit(kit);
    unoLora = path.join(kit, 'bytedance-research', 'UNO', 'dit_lora.safetensors');
    umoLora = path.join(kit, 'bytedance-research', 'UMO', 'UMO_UNO.safetensors');
    for (const f of [unoLora, umoLora]) expect(fs.existsSync(f), f).toBe(true);

    const png = (width: number, height: number, background: { r: number; g: number; b: number }) =>
      sharp({ create: { width, height, channels: 3, background } }).png().toBuffer();
    red = { name: 'red-figurine.png', mime: 'image/png', bytes: await png(96, 80, { r: 200, g: 60, b: 30 }) };
    blue = { name: 'blue-figurine.png', mime: 'image/png', bytes: await png(128, 80, { r: 30, g: 90, b: 220 }) };

    // Settings as a user leaves them: models folder = the tiny kit, CPU, and the two LoRAs known
    // (added earlier through "Open LoRA checkpoint…"), none active.
    const dataDir = path.join(work, 'data');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'settings.json'), `${JSON.stringify({
      modelsRoot: kit,
      devicePreference: 'cpu',
      backbone: 'uno',
      theme: 'system',
      recentLoras: [
        { path: unoLora, label: 'dit_lora.safetensors', backbone: 'uno' },
        { path: umoLora, label: 'UMO_UNO.safetensors', backbone: 'uno' },
      ],
      activeLora: { uno: null, omnigen2: null },
    }, null, 2)}\n`);

    // `npm start -- --web --no-open`: builds what is stale (dist/, renderer/dist/) and serves web mode.
    app = await startApp({ args: ['--web', '--no-open'], dataDir });
    browser = await openBrowser({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    page = await browser.newPage();
    // The engine events as the server sends them (the UI may render several in one frame).
    page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
      try {
        events.push(JSON.parse(String(payload)) as WsEvent);
      } catch { /* not JSON */ }
    }));
    await page.goto(app.url);
    page.setDefaultTimeout(60_000);
    await page.getByRole('textbox', { name: 'Prompt', exact: true }).waitFor({ timeout: 60_000 });
    // The status line reports the tiny kit complete.
    await page.getByRole('contentinfo', { name: 'Status' }).getByText(/UNO models: (\d+)\/\1 found$/).waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    const code = await app?.stop();
    if (app && code !== 0 && code !== null) console.error(`web mode exited with ${code}:\n${app.output()}`);
    if (app) removeDir(app.dataDir);
    removeDir(work);
  });

  test('switching the backbone swaps the controls', async () => {
    const backbone = page.getByRole('group', { name: 'Backbone' });
    const guidance = page.getByRole('spinbutton', { name: 'Guidance', exact: true });
    await expect.poll(() => guidance.count()).toBe(1);
    await expect.poll(() => page.getByRole('textbox', { name: 'Negative prompt' }).count()).toBe(0);

    await backbone.getByRole('button', { name: 'OmniGen2' }).click();
    await page.getByRole('textbox', { name: 'Negative prompt' }).waitFor();
    expect(await page.getByRole('spinbutton', { name: 'Text guidance', exact: true }).count()).toBe(1);
    expect(await page.getByRole('spinbutton', { name: 'Image guidance', exact: true }).count()).toBe(1);
    expect(await page.getByRole('combobox', { name: 'Scheduler' }).count()).toBe(1);
    expect(await guidance.count()).toBe(0);
    expect(await backbone.getByRole('button', { name: 'OmniGen2' }).getAttribute('aria-pressed')).toBe('true');
    // OmniGen2 shows its own 3 slots: UNO's empty 4th slot is not carried over.
    expect(await page.getByRole('group', { name: /^Reference \d+$/ }).count()).toBe(3);

    await backbone.getByRole('button', { name: 'UNO' }).click();
    await guidance.waitFor();
    expect(await page.getByRole('textbox', { name: 'Negative prompt' }).count()).toBe(0);
    expect(await page.getByRole('spinbutton', { name: 'Text guidance', exact: true }).count()).toBe(0);
    expect(await page.getByRole('combobox', { name: 'Scheduler' }).count()).toBe(0);
    expect(await page.getByRole('group', { name: /^Reference \d+$/ }).count()).toBe(4);
    // The choice is a setting: the server saved it.
    const saved = JSON.parse(fs.readFileSync(path.join(app!.dataDir, 'settings.json'), 'utf8')) as { backbone: string };
    expect(saved.backbone).toBe('uno');
  });

  test('two reference images dropped at once land in slots 1 and 2; reordering by button and by drag', async () => {
    // One real drop of two files on slot 1: the first file goes there, the second into the next free slot.
    await dropFiles(slotDropZone(1), [red, blue]);
    await expectSlots([red.name, blue.name, null, null]);
    expect(await slot(1).getByText('red-figurine.png · 96×80').count()).toBe(1);
    expect(await slot(2).getByText('blue-figurine.png · 128×80').count()).toBe(1);

    // Drag the thumbnail of slot 1 onto slot 2 (HTML5 drag and drop with the mouse).
    await slot(1).getByRole('img').dragTo(slot(2).getByRole('img'));
    await expectSlots([blue.name, red.name, null, null]);

    // The move buttons.
    expect(await page.getByRole('button', { name: 'Move reference 1 left' }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Move reference 3 right' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Move reference 2 left' }).click();
    await expectSlots([red.name, blue.name, null, null]);
    await page.getByRole('button', { name: 'Move reference 1 right' }).click();
    await expectSlots([blue.name, red.name, null, null]);
    // The thumbnails are the app's stored copies, served back over HTTP.
    for (const n of [1, 2]) {
      await expect.poll(() => slot(n).getByRole('img').evaluate((img: DomImage) => img.complete && img.naturalWidth > 0), { message: `thumbnail ${n} loaded` }).toBe(true);
    }
  });

  test('prompt, UMO LoRA from the list, size, steps, fixed seed -> progress, result and metadata; the PNG carries the LoRA chosen in the UI', async () => {
    await page.getByRole('textbox', { name: 'Prompt', exact: true }).fill(PROMPT);

    // Sizes below the real-checkpoint minimum are snapped up (64 is allowed for the demo model only).
    expect(await setNumber(page, 'Width', 64)).toBe('512');
    expect(await setNumber(page, 'Height', 64)).toBe('512');
    await page.getByText('512–2048 px in steps of 16').waitFor();
    expect(await setNumber(page, 'Steps', 2)).toBe('2');

    const randomSeed = page.getByRole('switch', { name: 'Random seed' });
    expect(await randomSeed.isChecked()).toBe(true);
    expect(await page.getByRole('spinbutton', { name: 'Seed', exact: true }).isDisabled()).toBe(true);
    await randomSeed.click();
    expect(await randomSeed.isChecked()).toBe(false);
    expect(await setNumber(page, 'Seed', SEED)).toBe(String(SEED));

    // Pick the UMO LoRA from the list (both known LoRAs are offered, "No LoRA" is the current choice).
    const lora = page.getByRole('combobox', { name: 'LoRA' });
    expect(await lora.innerText()).toContain('No LoRA');
    await lora.click();
    const listbox = page.getByRole('listbox');
    // (The list's divider is exposed as an empty option by MUI's Select; only named entries are compared.)
    const options = (await listbox.getByRole('option').allInnerTexts()).filter((t) => t.trim() !== '');
    expect(options).toEqual(['No LoRA', 'dit_lora.safetensors', 'UMO_UNO.safetensors', 'Add LoRA file…']);
    await listbox.getByRole('option', { name: 'UMO_UNO.safetensors' }).click();
    await expect.poll(() => lora.innerText()).toContain('UMO_UNO.safetensors');
    // The UI's choice is the app's setting (the same state as the menu).
    await expect.poll(() => (JSON.parse(fs.readFileSync(path.join(app!.dataDir, 'settings.json'), 'utf8')) as { activeLora: { uno: string | null } }).activeLora.uno).toBe(umoLora);

    expect(await page.getByRole('alert', { name: 'Form problems' }).count()).toBe(0);
    await recordProgress();
    const firstEvent = events.length;
    const started = Date.now();
    await generateButton().click();
    // While it runs: Generate is disabled, Cancel enabled, the progress bar visible.
    await expect.poll(() => cancelButton().isEnabled(), { timeout: 10_000 }).toBe(true);
    expect(await generateButton().isDisabled()).toBe(true);
    const table = page.getByRole('table', { name: 'Result parameters' });
    await table.waitFor({ timeout: 120_000 });
    const seconds = (Date.now() - started) / 1000;
    await expect.poll(progressText).toBe('Ready');

    // The engine's events for this job, in order: every phase, LoRA bake progress, each denoising step.
    const done = events.slice(firstEvent).find((e) => e.type === 'done');
    expect(done?.jobId).toBeTruthy();
    const job = events.slice(firstEvent).filter((e) => e.jobId === done!.jobId);
    const phases = job.filter((e) => e.type === 'phase').map((e) => e.phase);
    // loading (files), loading (LoRA), baking (a cache miss: the first use of this LoRA), …
    expect(phases).toEqual(['queued', 'loading', 'loading', 'baking', 'encoding', 'references', 'loading', 'denoising', 'decoding', 'saving']);
    const denoise = job.filter((e) => e.type === 'progress' && e.phase === 'denoising').map((e) => `${e.step}/${e.total}`);
    expect(denoise).toEqual(['0/2', '1/2', '2/2']);
    const bake = job.filter((e) => e.type === 'progress' && e.phase === 'baking');
    expect(bake.length).toBeGreaterThan(0);
    expect(bake.at(-1)!.step).toBe(bake.at(-1)!.total);
    expect(job.at(-1)!.type).toBe('done');
    // What the progress line showed: phase labels only (React may render several quick events in one
    // frame, so only the slow denoising steps are certain to appear), back to Ready at the end.
    const log = await takeProgressLog();
    expect(log[0]).toBe('Ready');
    expect(log.at(-1)).toBe('Ready');
    expect(log.some((t) => /^Denoising · step \d\/2$/.test(t))).toBe(true);
    const labels = ['Ready', ...Object.values(PHASE_LABELS)];
    for (const t of log) expect(labels.some((l) => t === l || t.startsWith(`${l} · `)), t).toBe(true);

    // The result image (512×512, served by the app) and its parameters.
    await expect.poll(() => resultImage().evaluate((img: DomImage) => img.complete ? [img.naturalWidth, img.naturalHeight] : null)).toEqual([512, 512]);
    const rows = await resultRows(page);
    expect(rows).toMatchObject({
      Prompt: PROMPT, Backbone: 'UNO', Seed: String(SEED), Size: '512×512', Steps: '2', Guidance: '4',
      LoRA: 'UMO_UNO.safetensors', 'LoRA scale': '1',
    });
    expect(await historyCount()).toBe(1);
    expect(await generateButton().isEnabled()).toBe(true);
    expect(await cancelButton().isDisabled()).toBe(true);

    // The PNG on disk says the same, and names the LoRA chosen in the UI (file and content hash).
    const file = rows.File;
    expect(path.dirname(file)).toBe(path.join(app!.dataDir, 'outputs'));
    const meta = await readPngText(file);
    expect(meta.prompt).toBe(PROMPT);
    expect(meta.seed).toBe(String(SEED));
    expect(meta.size).toBe('512x512');
    expect(meta.steps).toBe('2');
    expect(meta.lora).toBe('UMO_UNO.safetensors @ 1');
    const request = JSON.parse(meta.request) as { lora: { path: string | null; scale: number }; references: string[]; width: number; steps: number };
    expect(request.lora).toEqual({ path: umoLora, scale: 1 });
    const record = JSON.parse(meta['umo-studio']) as { lora: { file: string; sha256: string; scale: number }; executionProvider: string; references: unknown[] };
    expect(record.lora.file).toBe('UMO_UNO.safetensors');
    expect(record.lora.sha256).toBe(crypto.createHash('sha256').update(fs.readFileSync(umoLora)).digest('hex'));
    expect(record.executionProvider).toBe('cpu');
    // References in the order the slots show them (blue, then red): the stored copies the thumbnails display.
    const shown = await Promise.all([1, 2].map(async (n) => decodeURIComponent((await slot(n).getByRole('img').getAttribute('src'))!.split('/').pop()!)));
    expect(request.references.map((p) => path.basename(p))).toEqual(shown);
    const storedBlue = await sharp(request.references[0]).raw().toBuffer({ resolveWithObject: true });
    expect([storedBlue.info.width, storedBlue.info.height]).toEqual([128, 80]);
    expect([...storedBlue.data.subarray(0, 3)]).toEqual([30, 90, 220]);
    const img = await sharp(file).metadata();
    expect([img.width, img.height, img.format]).toEqual([512, 512, 'png']);
    firstResult = file;
    console.log(`e2e: first generation (512×512, 2 steps, 2 references, UMO LoRA bake) took ${seconds.toFixed(1)} s from click to result`);

    // Screenshots of the main window with a result, light and dark ('system' theme follows the browser).
    const shots = tempDir('umo-e2e-shots-');
    try {
      await page.mouse.move(0, 0);
      // The inputs column from its top (prompt and references in view).
      await page.getByRole('region', { name: 'Inputs' }).evaluate((el: DomElement) => {
        for (const c of Array.from(el.querySelectorAll('*'))) if (c.scrollTop > 0) c.scrollTop = 0;
      });
      const light = path.join(shots, 'app-light.png');
      await page.screenshot({ path: light });
      await page.emulateMedia({ colorScheme: 'dark' });
      await expect.poll(() => page.evaluate(() => {
        const g = globalThis as unknown as PageGlobals;
        return g.getComputedStyle(g.document.body).backgroundColor;
      })).not.toBe('rgb(255, 255, 255)');
      const dark = path.join(shots, 'app-dark.png');
      await page.screenshot({ path: dark });
      await page.emulateMedia({ colorScheme: 'light' });
      for (const shot of [light, dark]) {
        const m = await sharp(shot).metadata();
        expect([m.width, m.height]).toEqual([1280, 800]);
      }
      // The dark one really is dark: mean luminance well below the light one's.
      const mean = async (f: string) => (await sharp(f).greyscale().stats()).channels[0].mean;
      expect(await mean(dark)).toBeLessThan((await mean(light)) / 2);
      const keep = process.env.UMO_SCREENSHOT_DIR;
      if (keep) {
        const dir = path.resolve(REPO_ROOT, keep);
        fs.mkdirSync(dir, { recursive: true });
        for (const f of [light, dark]) fs.copyFileSync(f, path.join(dir, path.basename(f)));
      }
    } finally {
      removeDir(shots);
    }
  });

  test('the result image fits its frame and the result actions are not covered', async () => {
    // The image fits its frame, and the actions below it can be clicked (nothing covers them).
    const frame = await resultImage().evaluate((img: DomImage) => {
      const f = img.parentElement!.getBoundingClientRect();
      const r = img.getBoundingClientRect();
      return { img: [r.top, r.bottom, r.left, r.right], frame: [f.top, f.bottom, f.left, f.right] };
    });
    expect(frame.img[1], `result image bottom ${frame.img[1]} vs frame bottom ${frame.frame[1]}`).toBeLessThanOrEqual(frame.frame[1] + 0.5);
    expect(frame.img[0]).toBeGreaterThanOrEqual(frame.frame[0] - 0.5);
    for (const name of ['Download image', 'Use as reference', 'Reuse settings']) {
      const button = page.getByRole('region', { name: 'Result' }).getByRole(name === 'Download image' ? 'link' : 'button', { name });
      const onTop = await button.evaluate((el: DomElement) => {
        const r = el.getBoundingClientRect();
        const hit = (globalThis as unknown as PageGlobals).document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return !!hit && el.contains(hit);
      });
      expect(onTop, `"${name}" is not covered by another element`).toBe(true);
    }
  });

  test('cancel mid-run: the UI says cancelled and stays usable; generating again works and gives identical bytes for the same seed', async () => {
    expect(firstResult, 'needs the generation test').not.toBe('');
    expect(await setNumber(page, 'Steps', 50)).toBe('50');
    await recordProgress();
    const firstEvent = events.length;
    await generateButton().click();
    // Cancel after the first denoising progress event.
    await expect.poll(progressText, { timeout: 60_000, interval: 50 }).toMatch(/^Denoising · step \d+\/50/);
    await cancelButton().click();
    const notice = page.getByRole('alert').filter({ hasText: 'Generation cancelled.' });
    await notice.waitFor({ timeout: 60_000 });
    await expect.poll(progressText).toBe('Ready');
    const log = await takeProgressLog();
    expect(log).toContain('Cancelling…');
    const cancelledJob = events.slice(firstEvent).find((e) => e.type === 'cancelled');
    expect(cancelledJob?.jobId).toBeTruthy();
    expect(events.slice(firstEvent).some((e) => e.jobId === cancelledJob!.jobId && (e.type === 'done' || e.type === 'failed'))).toBe(false);
    const steps = events.filter((e) => e.jobId === cancelledJob!.jobId && e.type === 'progress' && e.phase === 'denoising').map((e) => e.step!);
    expect(Math.max(...steps)).toBeLessThan(50);
    console.log(`e2e: cancelled after denoising step ${Math.max(...steps)}/50`);
    expect(await historyCount()).toBe(1);
    expect(await generateButton().isEnabled()).toBe(true);
    expect(await cancelButton().isDisabled()).toBe(true);
    // No result file for the cancelled job.
    expect(fs.readdirSync(path.join(app!.dataDir, 'outputs')).filter((f) => f.endsWith('.png'))).toHaveLength(1);

    // The same request as the first generation again: a second result with identical bytes.
    expect(await setNumber(page, 'Steps', 2)).toBe('2');
    await generateButton().click();
    await expect.poll(historyCount, { timeout: 120_000 }).toBe(2);
    await expect.poll(progressText).toBe('Ready');
    // The new result is shown and the cancel notice is gone.
    expect(await notice.count()).toBe(0);
    const rows = await resultRows(page);
    expect(rows).toMatchObject({ Prompt: PROMPT, Seed: String(SEED), Size: '512×512', Steps: '2', LoRA: 'UMO_UNO.safetensors' });
    expect(rows.File).not.toBe(firstResult);
    expect(fs.readFileSync(rows.File).equals(fs.readFileSync(firstResult)), 'same seed and inputs give byte-identical PNGs').toBe(true);
    // The bake was reused (no "Baking LoRA" progress the second time round).
    expect((await takeProgressLog()).some((t) => t.startsWith('Baking LoRA ·'))).toBe(false);
  });

  test('invalid images dropped on a slot get a clear error on that slot; the other slots stay intact', async () => {
    const textAsPng: DropFile = { name: 'notes.png', mime: 'image/png', bytes: Buffer.from('these are my notes, not a picture\n') };
    const pixels = Buffer.alloc(200 * 160 * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7919) % 251;
    const full = await sharp(pixels, { raw: { width: 200, height: 160, channels: 3 } }).png().toBuffer();
    const truncated: DropFile = { name: 'cut-short.png', mime: 'image/png', bytes: full.subarray(0, Math.floor(full.length / 2)) };

    await dropFiles(slotDropZone(3), [textAsPng]);
    const err3 = slot(3).getByRole('alert');
    await err3.waitFor();
    expect(await err3.innerText()).toMatch(/^notes\.png: unsupported image format/);

    await dropFiles(slotDropZone(4), [truncated]);
    const err4 = slot(4).getByRole('alert');
    await err4.waitFor();
    expect(await err4.innerText()).toMatch(/^cut-short\.png: the PNG data is damaged or truncated/);

    // The failed slots stay empty, the error stays on its own slot, the first two keep their images.
    await expectSlots([blue.name, red.name, null, null]);
    expect(await slot(1).getByRole('alert').count()).toBe(0);
    expect(await slot(2).getByRole('alert').count()).toBe(0);
    expect(await err3.innerText()).toContain('notes.png');
    // Nothing broke: the form is still valid, and a good image dropped on the failed slot replaces the error.
    expect(await generateButton().isEnabled()).toBe(true);
    await dropFiles(slotDropZone(3), [red]);
    await expectSlots([blue.name, red.name, red.name, null]);
    expect(await slot(3).getByRole('alert').count()).toBe(0);
    expect(await slot(4).getByRole('alert').count()).toBe(1);
    await page.getByRole('button', { name: 'Remove reference 3' }).click();
    await expectSlots([blue.name, red.name, null, null]);
    expect(browser!.pageErrors.map((e) => e.message)).toEqual([]);
  });
});
