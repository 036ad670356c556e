// Web mode end to end: the real services (with the scripted fake engine) behind the real server on a
// random port, driven over HTTP and WebSocket.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { createAppServices, type AppServices } from '../../../electron/services/app-services.js';
import { forkEngineProcess } from '../../../electron/services/engine-host.js';
import { startWebServer, type WebServer, type WebServerOptions } from '../../../electron/server/web-server.js';
import type { HistoryItem, ReferenceImage, UmoEvent } from '../../../shared/umo-api.js';
import { pngBytes, tempDir, unoLoraBytes, WRITING_ENGINE } from '../services/service-fixtures.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function rendererBuild(): string {
  const dir = tempDir('umo-renderer-');
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>UMO Studio</title><script type="module" src="./assets/app.js"></script>');
  fs.mkdirSync(path.join(dir, 'assets'));
  fs.writeFileSync(path.join(dir, 'assets', 'app.js'), 'console.log("umo")');
  return dir;
}

async function start(opts: Partial<WebServerOptions> = {}, dataDir = tempDir()): Promise<{ s: AppServices; server: WebServer; base: string }> {
  const s = await createAppServices({ dataDir, mode: 'web', spawnEngine: () => forkEngineProcess(WRITING_ENGINE), hfCache: null });
  cleanup.push(() => s.close());
  const server = await startWebServer({ services: s, port: 0, rendererDir: rendererBuild(), ...opts });
  cleanup.push(() => server.close());
  return { s, server, base: server.url.replace(/\/$/, '') };
}

async function rpc(base: string, channel: string, args: unknown[], headers: Record<string, string> = {}): Promise<{ status: number; body: { value?: unknown; error?: string; problems?: string[] } }> {
  const res = await fetch(`${base}/api/${channel}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ args }) });
  return { status: res.status, body: await res.json() as never };
}

/** A raw request, for headers fetch will not let us set (Host) or paths it would normalise. */
function raw(base: string, p: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: p, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function connectEvents(base: string, opts: WebSocket.ClientOptions = {}, query = ''): Promise<{ ws: WebSocket; events: UmoEvent[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/events${query}`, opts);
    const events: UmoEvent[] = [];
    ws.on('message', (d) => events.push(JSON.parse(String(d)) as UmoEvent));
    ws.once('open', () => resolve({ ws, events }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused with ${res.statusCode}`)));
    ws.once('error', reject);
    cleanup.push(async () => { ws.terminate(); });
  });
}

async function until<T>(f: () => T | undefined, ms = 10_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('web server: RPC', () => {
  test('JSON RPC answers, argument validation with zod problems, unknown channels, methods and content types', async () => {
    const { base } = await start();
    const ok = await rpc(base, 'getSettings', []);
    expect(ok.status).toBe(200);
    expect((ok.body.value as { backbone: string }).backbone).toBe('uno');

    const bad = await rpc(base, 'getModelStatus', ['sdxl']);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^invalid arguments for getModelStatus: 0: /);
    expect(bad.body.problems).toHaveLength(1);

    const badReq = await rpc(base, 'generate', [{ backbone: 'uno', prompt: 'x', width: 770, steps: 500 }]);
    expect(badReq.status).toBe(400);
    expect(badReq.body.problems).toEqual(expect.arrayContaining([expect.stringMatching(/width: Width must be a multiple of 16/), expect.stringMatching(/steps: Steps must be at most 50/)]));

    const settings = await rpc(base, 'updateSettings', [{ loraScale: 9 }]);
    expect(settings.status).toBe(400);
    expect(settings.body.error).toMatch(/loraScale/);

    expect((await rpc(base, 'nope', [])).status).toBe(404);
    expect((await fetch(`${base}/api/getSettings`)).status).toBe(405);
    const text = await fetch(`${base}/api/getSettings`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{"args":[]}' });
    expect(text.status).toBe(415);
    const notJson = await fetch(`${base}/api/getSettings`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toMatch(/not valid JSON/);
  });

  test('a partial settings update over HTTP changes only the fields sent', async () => {
    const { base } = await start();
    await rpc(base, 'updateSettings', [{ theme: 'dark' }]);
    const r = await rpc(base, 'updateSettings', [{ loraScale: 0.5 }]);
    expect(r.body.value).toMatchObject({ theme: 'dark', loraScale: 0.5 });
  });
});

describe('web server: uploads and files', () => {
  test('a real PNG upload becomes a reference served from its URL; a non-image gets a clear 400; oversize is 413', async () => {
    const { base, s } = await start({ maxReferenceBytes: 100_000 });
    const png = await pngBytes(16, 8);
    const res = await fetch(`${base}/api/upload/reference?name=${encodeURIComponent('my cat.png')}`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: png });
    expect(res.status).toBe(200);
    const ref = ((await res.json()) as { value: ReferenceImage }).value;
    expect(ref).toMatchObject({ name: 'my cat.png', width: 16, height: 8, url: `/files/references/${ref.id}.png` });
    const img = await fetch(`${base}${ref.url}`);
    expect(img.status).toBe(200);
    expect(img.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await img.arrayBuffer())).toEqual(fs.readFileSync(ref.path));
    expect(ref.path.startsWith(s.paths.referencesDir)).toBe(true);

    const txt = await fetch(`${base}/api/upload/reference?name=notes.txt`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: 'just some text' });
    expect(txt.status).toBe(400);
    expect(((await txt.json()) as { error: string }).error).toMatch(/^notes\.txt: unsupported image format/);

    const big = await fetch(`${base}/api/upload/reference?name=big.png`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: Buffer.alloc(200_000) });
    expect(big.status).toBe(413);
    const noName = await fetch(`${base}/api/upload/reference`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: png });
    expect(noName.status).toBe(400);
  });

  test('a LoRA upload is validated and remembered; a wrong file is refused', async () => {
    const { base } = await start();
    const up = await fetch(`${base}/api/upload/lora?backbone=uno&name=UMO_UNO.safetensors`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: unoLoraBytes() });
    expect(up.status).toBe(200);
    const entry = ((await up.json()) as { value: { path: string; label: string } }).value;
    expect(entry.label).toBe('UMO_UNO.safetensors');
    const settings = await rpc(base, 'setActiveLora', ['uno', entry.path]);
    expect((settings.body.value as { activeLora: { uno: string } }).activeLora.uno).toBe(entry.path);
    const bad = await fetch(`${base}/api/upload/lora?backbone=uno&name=x.safetensors`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: 'garbage' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^x\.safetensors: not a readable safetensors file/);
  });

  test('files outside the output and reference folders are refused: traversal, encoded separators, symlinks out', async () => {
    const { base, s } = await start();
    fs.writeFileSync(path.join(s.paths.dataDir, 'secret.txt'), 'top secret');
    fs.symlinkSync(path.join(s.paths.dataDir, 'secret.txt'), path.join(s.paths.referencesDir, 'link.png'));
    fs.symlinkSync(s.paths.dataDir, path.join(s.paths.defaultOutputDir, 'up'));
    const attempts = [
      '/files/references/../secret.txt',
      '/files/references/..%2Fsecret.txt',
      '/files/references/..%5Csecret.txt',
      '/files/references/%2e%2e',
      '/files/outputs/%2Fetc%2Fpasswd',
      '/files/references/link.png',
      '/files/outputs/up',
      '/files/outputs/up%2Fsecret.txt',
      '/files/outputs/secret.txt',
      '/files/settings/secret.txt',
      '/files/references/x%00.png',
    ];
    for (const p of attempts) {
      const r = await raw(base, p);
      expect(r.status, p).toBeGreaterThanOrEqual(400);
      expect(r.body, p).not.toContain('top secret');
    }
    expect((await raw(base, '/files/references/link.png')).status).toBe(403);
    expect((await raw(base, '/files/references/..%2Fsecret.txt')).status).toBe(400);
  });

  test('the renderer build is served with a CSP; a missing build gives a page that says how to build it', async () => {
    const { base } = await start();
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<title>UMO Studio</title>');
    expect(index.headers.get('content-security-policy')).toMatch(/default-src 'self'; script-src 'self'/);
    const js = await fetch(`${base}/assets/app.js`);
    expect(js.headers.get('content-type')).toMatch(/text\/javascript/);
    expect((await fetch(`${base}/assets/missing.js`)).status).toBe(404);
    // Dot-segments are resolved by the URL parser (this becomes /etc/passwd, an unknown app route: the index page)…
    const dotted = await raw(base, '/assets/../../../../etc/passwd');
    expect(dotted.body).toContain('<title>UMO Studio</title>');
    expect(dotted.body).not.toContain('root:');
    // …and encoded separators with dot-segments are refused.
    expect((await raw(base, '/..%2F..%2F..%2Fetc%2Fpasswd')).status).toBe(400);

    const missing = await start({ rendererDir: path.join(tempDir(), 'dist') });
    const page = await fetch(`${missing.base}/`);
    expect(page.status).toBe(503);
    expect(await page.text()).toContain('npm run build:renderer');
  });
});

describe('web server: access control', () => {
  test('binding to another interface is refused without a token; a short token is refused', async () => {
    const s = await createAppServices({ dataDir: tempDir(), mode: 'web', spawnEngine: () => forkEngineProcess(WRITING_ENGINE), hfCache: null });
    cleanup.push(() => s.close());
    await expect(startWebServer({ services: s, host: '0.0.0.0', port: 0 })).rejects.toThrow(/refusing to listen on 0\.0\.0\.0.*both --host and --token/);
    await expect(startWebServer({ services: s, host: '0.0.0.0', port: 0, token: 'short' })).rejects.toThrow(/at least 16 characters/);
    const exposed = await startWebServer({ services: s, host: '0.0.0.0', port: 0, token: 'a-long-enough-secret-token' });
    cleanup.push(() => exposed.close());
    expect((await fetch(`${exposed.url}api/getAppInfo`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).status).toBe(401);
  });

  test('a Host header that does not name the server is refused (DNS rebinding), also for the WebSocket', async () => {
    const { base, server } = await start();
    expect((await raw(base, '/', { Host: 'evil.example:80' })).status).toBe(403);
    expect((await raw(base, '/', { Host: `evil.example:${server.port}` })).status).toBe(403);
    expect((await raw(base, '/', { Host: `localhost:${server.port}` })).status).toBe(200);
    expect((await raw(base, '/', { Host: `127.0.0.1:${server.port}` })).status).toBe(200);
    await expect(connectEvents(base, { headers: { Host: `evil.example:${server.port}` } })).rejects.toThrow(/refused with 403/);
  });

  test('cross-origin POSTs and WebSockets are refused; same-origin ones pass', async () => {
    const { base } = await start();
    const evil = await rpc(base, 'getSettings', [], { Origin: 'http://evil.example' });
    expect(evil.status).toBe(403);
    expect(evil.body.error).toMatch(/cross-origin/);
    expect((await rpc(base, 'getSettings', [], { Origin: base })).status).toBe(200);
    await expect(connectEvents(base, { origin: 'http://evil.example' })).rejects.toThrow(/refused with 403/);
    const { ws } = await connectEvents(base, { origin: base });
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  test('with a token every request needs it: header, ?token= (which sets a cookie for the page), or that cookie', async () => {
    const token = 'tok-0123456789abcdef';
    const { base } = await start({ token });
    expect((await rpc(base, 'getSettings', [])).status).toBe(401);
    expect((await rpc(base, 'getSettings', [], { 'X-Umo-Token': 'wrong-token-0123456789' })).status).toBe(401);
    expect((await rpc(base, 'getSettings', [], { 'X-Umo-Token': token })).status).toBe(200);
    expect((await rpc(base, 'getSettings', [], { Authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await fetch(`${base}/`)).status).toBe(401);
    const page = await fetch(`${base}/?token=${token}`);
    expect(page.status).toBe(200);
    const cookie = page.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^umo_token=tok-0123456789abcdef; Path=\/; HttpOnly; SameSite=Strict/);
    expect((await rpc(base, 'getSettings', [], { Cookie: cookie.split(';')[0] })).status).toBe(200);
    await expect(connectEvents(base)).rejects.toThrow(/refused with 401/);
    const { ws } = await connectEvents(base, {}, `?token=${token}`);
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  test('the default port is 7860-style: a taken port moves on to the next free one when allowed', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const taken = (blocker.address() as net.AddressInfo).port;
    const { server } = await start({ port: taken, portFallback: true });
    expect(server.port).toBeGreaterThan(taken);
    await expect(start({ port: taken, portFallback: false })).rejects.toThrow(new RegExp(`port ${taken} on 127\\.0\\.0\\.1 is already in use`));
  });
});

describe('web server: jobs and events', () => {
  test('events over the WebSocket during a job, then the result in the history and served as a file', async () => {
    const { base } = await start();
    const { events } = await connectEvents(base);
    const ref = ((await (await fetch(`${base}/api/upload/reference?name=a.png`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: await pngBytes() })).json()) as { value: ReferenceImage }).value;
    const gen = await rpc(base, 'generate', [{ backbone: 'uno', prompt: 'slow', references: [ref.path] }]);
    expect(gen.status).toBe(200);
    const { jobId } = gen.body.value as { jobId: string };
    const added = await until(() => events.find((e) => e.type === 'history-added'));
    const mine = events.filter((e) => 'jobId' in e && e.jobId === jobId);
    expect(mine[0]).toEqual({ type: 'phase', jobId, phase: 'queued' });
    expect(mine.filter((e) => e.type === 'progress').map((e) => (e as { step: number }).step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(mine.at(-1)!.type).toBe('done');

    const history = (await rpc(base, 'listHistory', [])).body.value as HistoryItem[];
    expect(history.map((h) => h.jobId)).toEqual([jobId]);
    expect(added.type === 'history-added' && added.item).toEqual(history[0]);
    const img = await fetch(`${base}${history[0].url}`);
    expect(img.status).toBe(200);
    expect(img.headers.get('content-type')).toBe('image/png');

    const reveal = await rpc(base, 'revealResult', [jobId]);
    expect(reveal.body.value).toEqual({ downloadUrl: `${history[0].url}?download=1` });
    const dl = await fetch(`${base}${(reveal.body.value as { downloadUrl: string }).downloadUrl}`);
    expect(dl.headers.get('content-disposition')).toBe(`attachment; filename="${jobId}.png"`);

    const asRef = await rpc(base, 'referenceFromResult', [jobId]);
    expect((asRef.body.value as ReferenceImage).url).toMatch(/^\/files\/references\/[0-9a-f]{64}\.png$/);
  });

  test('cancel over HTTP ends a running job with a cancelled event', async () => {
    const { base } = await start();
    const { events } = await connectEvents(base);
    const { jobId } = (await rpc(base, 'generate', [{ backbone: 'uno', prompt: 'slow' }])).body.value as { jobId: string };
    await until(() => events.find((e) => e.type === 'progress' && e.jobId === jobId));
    expect((await rpc(base, 'cancel', [jobId])).status).toBe(200);
    await until(() => events.find((e) => e.type === 'cancelled' && e.jobId === jobId));
    expect(events.some((e) => e.type === 'done')).toBe(false);
  });

  test('journal recovery: a job the previous run left unfinished is pushed to the first client as failed', async () => {
    const dataDir = tempDir();
    const first = await createAppServices({ dataDir, mode: 'web', spawnEngine: () => forkEngineProcess(WRITING_ENGINE), hfCache: null });
    const { jobId } = await first.generate({ backbone: 'uno', prompt: 'slow' });
    await new Promise<void>((r) => first.subscribe((e) => { if (e.type === 'progress') r(); }));
    await first.close();

    const { base } = await start({}, dataDir);
    const a = await connectEvents(base);
    const failed = await until(() => a.events.find((e) => e.type === 'failed'));
    expect(failed).toMatchObject({ type: 'failed', jobId, code: 'interrupted' });
    expect(failed.type === 'failed' && failed.message).toMatch(/the app stopped during this job/);
    const b = await connectEvents(base);
    await new Promise((r) => setTimeout(r, 100));
    expect(b.events).toEqual([]);
  });
});
