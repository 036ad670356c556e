// Shared end-to-end helpers: start the real app (`node scripts/start.mjs` or the web-mode server
// from dist/) on a free port with a fresh data folder, wait for the URL it prints, and open it in
// Debian's Chromium through playwright-core. Every process and folder a helper creates is released
// by `stop()` / `close()`; tests call them in afterAll.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const haveChromium = fs.existsSync(CHROMIUM_PATH);

/** A port nobody listens on right now (the kernel's choice). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A fresh temporary folder (removed by `removeDir`). */
export function tempDir(prefix = 'umo-e2e-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

export interface StartedApp {
  /** The URL the app printed (web mode). */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr, in arrival order). */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed). */
  stop(graceMs?: number): Promise<number | null>;
}

export interface StartAppOptions {
  /** Arguments after the script, e.g. `['--no-open']`; `--port` is added unless given. */
  args?: string[];
  /** The script to run with node; default `scripts/start.mjs` (the `npm start` entry). */
  script?: string;
  /** Data folder; default a fresh temp folder (removed by the caller via `removeDir`). */
  dataDir?: string;
  port?: number;
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the URL line. */
  timeoutMs?: number;
  /** The printed line that carries the URL (default: the web-mode banner). */
  urlPattern?: RegExp;
}

const WEB_URL_LINE = /UMO Studio web mode: (http:\/\/[^\s]+)/;

/**
 * Start the app the way a user does and wait for the web-mode URL. The data folder goes in through
 * `UMO_STUDIO_DATA_DIR` (web-main's default), the Hugging Face cache is disabled unless the caller
 * sets `HF_HUB_CACHE`, and the browser is never opened (`--no-open` unless given otherwise).
 */
export async function startApp(opts: StartAppOptions = {}): Promise<StartedApp> {
  const port = opts.port ?? await freePort();
  const dataDir = opts.dataDir ?? tempDir('umo-e2e-data-');
  const args = [...(opts.args ?? ['--no-open'])];
  if (!args.includes('--port')) args.push('--port', String(port));
  const script = path.resolve(REPO_ROOT, opts.script ?? 'scripts/start.mjs');
  const emptyCache = path.join(dataDir, '.no-hf-cache');
  const child = spawn(process.execPath, [script, ...args], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      UMO_STUDIO_DATA_DIR: dataDir,
      HF_HUB_CACHE: emptyCache,
      // No display: the app must not try to open a browser or a window here.
      DISPLAY: '',
      WAYLAND_DISPLAY: '',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: process.platform !== 'win32',
  });
  let out = '';
  let so = '';
  let se = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; so += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; se += d; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const stop = async (graceMs = 10_000): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const kill = (sig: NodeJS.Signals) => {
      try {
        // The whole process group: start.mjs and the server it spawned.
        if (process.platform !== 'win32' && child.pid) process.kill(-child.pid, sig);
        else child.kill(sig);
      } catch { /* already gone */ }
    };
    kill('SIGTERM');
    const timer = setTimeout(() => kill('SIGKILL'), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  const pattern = opts.urlPattern ?? WEB_URL_LINE;
  const timeoutMs = opts.timeoutMs ?? 240_000;
  const url = await new Promise<string>((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      const m = pattern.exec(out);
      if (m) {
        clearInterval(timer);
        resolve(m[1]);
      } else if (child.exitCode !== null || child.signalCode !== null) {
        clearInterval(timer);
        reject(new Error(`the app exited (${child.exitCode ?? child.signalCode}) before printing its URL:\n${out}`));
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(timer);
        void stop();
        reject(new Error(`no URL within ${timeoutMs / 1000} s; output so far:\n${out}`));
      }
    }, 100);
  });
  return { url, port, dataDir, child, output: () => out, stdout: () => so, stderr: () => se, stop };
}

export interface OpenedBrowser {
  readonly context: BrowserContext;
  readonly userDataDir: string;
  /** Errors thrown in pages (uncaught exceptions); tests assert this stays empty. */
  readonly pageErrors: Error[];
  newPage(url?: string): Promise<Page>;
  close(): Promise<void>;
}

/** Chromium flags for a quiet, offline, sandbox-less headless run on CI. */
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

/** Debian's Chromium with a fresh profile (a persistent context in a temp user-data-dir). */
export async function openBrowser(opts: { viewport?: { width: number; height: number }; colorScheme?: 'light' | 'dark' } = {}): Promise<OpenedBrowser> {
  const userDataDir = tempDir('umo-e2e-chromium-');
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: opts.viewport ?? { width: 1280, height: 860 },
    colorScheme: opts.colorScheme ?? 'light',
  });
  const pageErrors: Error[] = [];
  context.on('page', (p) => p.on('pageerror', (e) => pageErrors.push(e)));
  for (const p of context.pages()) p.on('pageerror', (e) => pageErrors.push(e));
  return {
    context,
    userDataDir,
    pageErrors,
    async newPage(url?: string) {
      const existing = context.pages().find((p) => p.url() === 'about:blank');
      const page = existing ?? await context.newPage();
      if (url) await page.goto(url);
      return page;
    },
    async close() {
      await context.close().catch(() => {});
      removeDir(userDataDir);
    },
  };
}

// ---- page helpers shared by the UI tests ------------------------------------------------------

/** The DOM surface the table reader uses inside the page (the test tsconfig has no DOM lib). */
interface TableNode {
  textContent: string | null;
  querySelector(selector: string): TableNode | null;
  querySelectorAll(selector: string): ArrayLike<TableNode>;
}

/** Type into a number box and commit it like a user (Enter), returning the value the box settled on. */
export async function setNumber(page: Page, name: string, value: number): Promise<string> {
  const box = page.getByRole('spinbutton', { name, exact: true });
  await box.fill(String(value));
  await box.press('Enter');
  await box.blur();
  return box.inputValue();
}

/** The rows of the result's parameter table as { label: value }. */
export function resultRows(page: Page): Promise<Record<string, string>> {
  return page.getByRole('table', { name: 'Result parameters' }).evaluate((table: TableNode) => {
    const rows: Record<string, string> = {};
    for (const tr of Array.from(table.querySelectorAll('tr'))) {
      const th = tr.querySelector('th');
      const td = tr.querySelector('td');
      if (th && td) rows[th.textContent ?? ''] = td.textContent ?? '';
    }
    return rows;
  });
}

/** Wait until the result image named `name` has loaded; its natural [width, height]. */
export async function resultImageSize(page: Page, name: RegExp): Promise<[number, number]> {
  const result = page.getByRole('region', { name: 'Result' });
  await result.waitFor({ timeout: 300_000 });
  const img = result.getByRole('img', { name });
  await img.waitFor();
  await page.waitForFunction(() => {
    const el = (globalThis as unknown as { document: { querySelector(s: string): { complete: boolean; naturalWidth: number } | null } })
      .document.querySelector('section[aria-label="Result"] img');
    return !!el && el.complete && el.naturalWidth > 0;
  });
  return img.evaluate((el) => {
    const i = el as unknown as { naturalWidth: number; naturalHeight: number };
    return [i.naturalWidth, i.naturalHeight] as [number, number];
  });
}
