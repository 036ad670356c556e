// The browser-side UmoApi (renderer/src/api/web-api.ts) against the real web server, in Node, with
// `ws` as the WebSocket.
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { createAppServices, type AppServices } from '../../../electron/services/app-services.js';
import { forkEngineProcess } from '../../../electron/services/engine-host.js';
import { startWebServer, type WebServer } from '../../../electron/server/web-server.js';
import { createWebApi, WebApiError, type SocketLike, type WebUmoApi } from '../../../renderer/src/api/web-api.js';
import type { UmoEvent } from '../../../shared/umo-api.js';
import { pngBytes, tempDir, unoLoraBytes, WRITING_ENGINE } from '../services/service-fixtures.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const socketFactory = (url: string) => new WebSocket(url) as unknown as SocketLike;

async function services(): Promise<AppServices> {
  const s = await createAppServices({ dataDir: tempDir(), mode: 'web', spawnEngine: () => forkEngineProcess(WRITING_ENGINE), hfCache: null });
  cleanup.push(() => s.close());
  return s;
}

async function serve(s: AppServices, port = 0, token?: string): Promise<WebServer> {
  const server = await startWebServer({ services: s, port, portFallback: false, token, rendererDir: path.join(tempDir(), 'dist') });
  cleanup.push(() => server.close());
  return server;
}

function client(url: string, token?: string): WebUmoApi {
  const api = createWebApi(url, { socketFactory, token, reconnectDelayMs: 50 });
  cleanup.push(() => api.dispose());
  return api;
}

async function until<T>(f: () => T | undefined | false, ms = 10_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('createWebApi', () => {
  test('requests, uploads, events to every listener, history, and server errors as WebApiError with the problems', async () => {
    const s = await services();
    const server = await serve(s);
    const api = client(server.url);
    expect((await api.getAppInfo()).mode).toBe('web');
    expect((await api.updateSettings({ theme: 'dark' })).theme).toBe('dark');
    expect((await api.getSettings()).theme).toBe('dark');
    expect((await api.getModelStatus('uno')).backbone).toBe('uno');

    const ref = await api.importReference({ name: 'face.png', bytes: new Uint8Array(await pngBytes(12, 10)) });
    expect([ref.name, ref.width, ref.height]).toEqual(['face.png', 12, 10]);
    const err = await api.importReference({ name: 'doc.pdf', bytes: new TextEncoder().encode('%PDF-1.4 not an image') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebApiError);
    expect((err as WebApiError).status).toBe(400);
    expect((err as WebApiError).message).toMatch(/^doc\.pdf: unsupported image format/);

    const lora = await api.addLora({ backbone: 'uno', name: 'UMO_UNO.safetensors', bytes: new Uint8Array(unoLoraBytes()) });
    expect(lora!.label).toBe('UMO_UNO.safetensors');
    expect((await api.setActiveLora('uno', lora!.path)).activeLora.uno).toBe(lora!.path);
    await expect(api.addLora({ backbone: 'uno' })).rejects.toThrow(/choose a LoRA file to upload/);

    const a: UmoEvent[] = [];
    const b: UmoEvent[] = [];
    api.onEvent((e) => a.push(e));
    const offB = api.onEvent((e) => b.push(e));
    await until(() => api.connected);
    const { jobId } = await api.generate({ backbone: 'uno', prompt: 'portrait', references: [ref.path] });
    const done = await until(() => a.find((e) => e.type === 'done' && e.jobId === jobId));
    expect(done.type === 'done' && done.result.metadata.lora).toBe(lora!.path);
    await until(() => a.find((e) => e.type === 'history-added'));
    expect(b.filter((e) => 'jobId' in e && e.jobId === jobId).map((e) => e.type)).toEqual(a.filter((e) => 'jobId' in e && e.jobId === jobId).map((e) => e.type));
    offB();

    const history = await api.listHistory();
    expect(history[0].jobId).toBe(jobId);
    await api.revealResult(jobId); // no document in Node: validates the job, nothing to click
    expect((await api.referenceFromResult(jobId)).path.startsWith(s.paths.referencesDir)).toBe(true);

    const bad = await api.generate({ backbone: 'uno', prompt: 'x', height: 100 }).catch((e: unknown) => e as WebApiError);
    expect(bad).toBeInstanceOf(WebApiError);
    expect((bad as WebApiError).problems).toEqual(expect.arrayContaining([expect.stringMatching(/height: Height must be a multiple of 16/)]));
  });

  test('the event socket connects when the server comes up and reconnects after the server restarts', async () => {
    const s = await services();
    const port = await freePort();
    const api = client(`http://127.0.0.1:${port}`);
    const events: UmoEvent[] = [];
    api.onEvent((e) => events.push(e));
    await new Promise((r) => setTimeout(r, 150));
    expect(api.connected).toBe(false);

    const first = await serve(s, port);
    await until(() => api.connected);
    await first.close();
    await until(() => !api.connected);
    await serve(s, port);
    await until(() => api.connected);
    await api.updateSettings({ theme: 'light' });
    await until(() => events.find((e) => e.type === 'settings-changed' && e.settings.theme === 'light'));
  });

  test('with a token, the client sends it on requests and on the event socket', async () => {
    const s = await services();
    const token = 'client-token-0123456789';
    const server = await serve(s, 0, token);
    await expect(client(server.url).getSettings()).rejects.toMatchObject({ status: 401 });
    const api = client(server.url, token);
    expect((await api.getSettings()).backbone).toBe('uno');
    api.onEvent(() => undefined);
    await until(() => api.connected);
  });
});
