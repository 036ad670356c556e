// The memory estimate and its guardrail, end to end in web mode with the demo kit: the app started
// as a user does, the estimate next to Generate (the planner over the kit's headers, CPU, budget
// from RAM), a tiny budget set in Settings makes the plan not fit, Generate then asks first, and
// "Load anyway" runs the job to a 64×64 image. Screenshots for the docs with UMO_DOCS_SHOTS=<dir>
// (e.g. docs/screenshots).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { haveChromium, openBrowser, removeDir, resultImageSize, startApp, type OpenedBrowser, type StartedApp } from './e2e-helpers.js';

const shots = process.env.UMO_DOCS_SHOTS;

let app: StartedApp;
let browser: OpenedBrowser;
let page: Page;

async function shot(name: string): Promise<void> {
  if (!shots) return;
  fs.mkdirSync(shots, { recursive: true });
  await page.waitForTimeout(400); // let transitions settle
  await sharp(await page.screenshot()).png({ palette: true, quality: 90, compressionLevel: 9 }).toFile(path.join(shots, name));
}

describe.skipIf(!haveChromium)('memory estimate and guardrail (web mode, demo model)', () => {
  beforeAll(async () => {
    app = await startApp({ args: ['--web', '--no-open'] });
    browser = await openBrowser({ viewport: { width: 1280, height: 800 } });
  });

  afterAll(async () => {
    await browser?.close();
    const code = await app?.stop();
    if (app) {
      expect(code).toBe(0);
      removeDir(app.dataDir);
    }
  });

  test('estimate by Generate; a tiny budget does not fit; Generate asks; "Load anyway" gives an image', async () => {
    page = await browser.newPage(app.url);
    await page.getByRole('region', { name: 'Models needed' }).getByRole('button', { name: 'Try the demo model' }).click();
    const estimate = page.getByRole('status', { name: 'Memory estimate' });

    // No GPU here: the CPU, and a budget from the installed RAM (minus the margin).
    await estimate.getByText(/^Fits in [\d.]+ GiB: peak \d+ MiB · DiT bf16→fp32 · all models resident$/).waitFor({ timeout: 120_000 });
    await estimate.getByRole('button', { name: 'Details' }).click();
    const details = page.getByRole('table', { name: 'Memory per phase' });
    await details.waitFor();
    const rows = await details.getByRole('row').allTextContents();
    expect(rows[0]).toBe('PhaseModelsWeightsActivationsPeak');
    expect(rows.filter((r) => /^Encode prompt(T5|CLIP)/.test(r))).toHaveLength(1);
    expect(rows.filter((r) => /^DenoiseDiT bf16→fp32\d/.test(r))).toHaveLength(1);
    expect(rows.filter((r) => /^DecodeVAE decoder fp32\d/.test(r))).toHaveLength(1);
    expect(await page.getByLabel('Memory plan details').textContent()).toMatch(/Budget [\d.]+ GiB \(from the installed RAM\) on the CPU — [\d.]+ GiB RAM minus a [\d.]+ GiB margin for the system/);

    // A tiny budget in Settings (persisted), below what the process itself needs.
    await page.getByRole('button', { name: 'Settings' }).click();
    const settings = page.getByRole('dialog', { name: 'Settings' });
    await settings.getByRole('spinbutton', { name: 'Memory budget (GiB)' }).fill('0.125');
    await settings.getByRole('button', { name: 'Save' }).click();
    await settings.waitFor({ state: 'hidden' });
    expect(JSON.parse(fs.readFileSync(path.join(app.dataDir, 'settings.json'), 'utf8'))).toMatchObject({ memoryBudgetGiB: 0.125 });
    await estimate.getByText(/^Does not fit in 128 MiB: needs \d+ MiB · DiT bf16→fp32 · (one phase at a time|denoiser streamed in \d+ block groups)$/).waitFor({ timeout: 60_000 });
    expect(await page.getByLabel('Memory plan details').textContent()).toContain('does not fit: even the smallest plan needs');

    await page.getByRole('textbox', { name: 'Prompt' }).fill('a paper boat on a pond');
    await page.getByRole('button', { name: 'Generate' }).click();
    const guardrail = page.getByRole('dialog', { name: 'Not enough memory' });
    await guardrail.waitFor();
    expect(await guardrail.textContent()).toMatch(/This generation needs about \d+ MiB but the budget is 128 MiB \(your setting\)\./);
    await shot('memory-guardrail.png');
    // Nothing was queued while the dialog asks.
    expect(fs.existsSync(path.join(app.dataDir, 'outputs')) ? fs.readdirSync(path.join(app.dataDir, 'outputs')).filter((f) => f.endsWith('.png')) : []).toEqual([]);

    await guardrail.getByRole('button', { name: 'Load anyway' }).click();
    await guardrail.waitFor({ state: 'hidden' });
    const size = await resultImageSize(page, /Result: a paper boat on a pond/);
    expect(size).toEqual([64, 64]);
    const outputs = fs.readdirSync(path.join(app.dataDir, 'outputs')).filter((f) => f.endsWith('.png'));
    expect(outputs).toHaveLength(1);
    await shot('memory-estimate.png');
    expect(browser.pageErrors).toEqual([]);
  });
});
