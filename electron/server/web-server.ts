// Web mode: the app's services over HTTP + WebSocket, and the built renderer as static files.
//
// Routes (all answers JSON unless noted; errors are `{ error, problems? }` with a 4xx/5xx status):
//   GET  /, /<asset>                     the renderer build (renderer/dist); a help page if it is missing
//   POST /api/<channel>                  JSON `{ "args": [...] }` -> `{ "value": ... }`; args checked with ApiArgSchemas
//   POST /api/upload/reference?name=N    raw image bytes -> ReferenceImage
//   POST /api/upload/lora?backbone=B&name=N  raw .safetensors bytes -> LoraEntry
//   GET  /files/outputs/<name>           a result image (`?download=1` as an attachment)
//   GET  /files/references/<name>        a stored reference image
//   GET  /api/events (WebSocket)         UmoEvent JSON messages, server -> client
// Access: see access-control.ts (Host check, Origin check, optional token).
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { API_CHANNELS, ApiArgSchemas, type ApiChannel, type UmoEvent } from '../../shared/umo-api.js';
import type { AppServices, FileKind } from '../services/app-services.js';
import { packageRoot } from '../services/engine-host.js';
import { resolveStoredFile } from '../services/file-access.js';
import { DEFAULT_MAX_REFERENCE_BYTES } from '../services/reference-store.js';
import { isUserInputError } from '../services/service-errors.js';
import {
  allowedHostHeaders, checkBindPolicy, checkOrigin, checkRequest, isLoopbackHost, type AccessPolicy,
} from './access-control.js';
import {
  HttpError, contentTypeOf, escapeHtml, readBody, requireContentType, sendError, sendJson, setCommonHeaders, streamBodyToFile,
} from './http-helpers.js';

export const DEFAULT_PORT = 7860;
const RPC_BODY_LIMIT = 2 * 2 ** 20;
const DEFAULT_MAX_LORA_UPLOAD = 8 * 2 ** 30;

export interface WebServerOptions {
  services: AppServices;
  /** Interface to bind; default 127.0.0.1. Anything but loopback needs `token`. */
  host?: string;
  /** Port; default 7860 and the next free one when taken. 0 = any free port. */
  port?: number;
  /** When the given port is taken, try the following ones (default: only when no port was given). */
  portFallback?: boolean;
  token?: string;
  /** Extra Host header names accepted (e.g. a reverse proxy's name). */
  allowedHosts?: readonly string[];
  /** The renderer build; default `<package>/renderer/dist`. */
  rendererDir?: string;
  maxReferenceBytes?: number;
  maxLoraBytes?: number;
}

export interface WebServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly server: http.Server;
  close(): Promise<void>;
}

/** What the page must be allowed to do; MUI/emotion injects <style> elements, hence 'unsafe-inline' for styles only. */
function contentSecurityPolicy(host: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' blob: data:",
    "font-src 'self' data:",
    `connect-src 'self' ws://${host} wss://${host}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function missingRendererPage(dir: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>UMO Studio — web UI not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>UMO Studio web mode</h1>
<p>The server is running, but the web UI has not been built yet: <code>${escapeHtml(dir)}</code> has no <code>index.html</code>.</p>
<p>Build it with <code>npm run build:renderer</code> (or start with <code>npm run web</code>, which builds everything), then reload this page.</p>
</body></html>`;
}

function errorStatus(e: unknown): { status: number; message: string; problems: readonly string[] } {
  if (e instanceof HttpError) return { status: e.status, message: e.message, problems: e.problems };
  if (isUserInputError(e)) return { status: 400, message: e.message, problems: e.problems ?? [] };
  return { status: 500, message: e instanceof Error ? e.message : String(e), problems: [] };
}

async function listen(server: http.Server, host: string, port: number, fallback: boolean): Promise<number> {
  for (let p = port, tries = 0; ; p++, tries++) {
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (e: Error) => { server.off('listening', onListening); reject(e); };
        const onListening = () => { server.off('error', onError); resolve(); };
        server.once('error', onError);
        server.once('listening', onListening);
        server.listen(p, host);
      });
      return (server.address() as net.AddressInfo).port;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' && fallback && port !== 0 && tries < 50) continue;
      if (code === 'EADDRINUSE') throw new Error(`port ${p} on ${host} is already in use; choose another with --port`, { cause: e });
      throw e;
    }
  }
}

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const { services } = opts;
  const host = opts.host ?? '127.0.0.1';
  const refused = checkBindPolicy(host, opts.token);
  if (refused) throw new Error(refused);
  const rendererDir = path.resolve(opts.rendererDir ?? path.join(packageRoot(), 'renderer', 'dist'));
  const maxReferenceBytes = opts.maxReferenceBytes ?? DEFAULT_MAX_REFERENCE_BYTES;
  const maxLoraBytes = opts.maxLoraBytes ?? DEFAULT_MAX_LORA_UPLOAD;

  const policy: { current: AccessPolicy } = { current: { token: opts.token, allowedHosts: new Set(), cookieName: 'umo_token' } };
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const clients = new Set<WebSocket>();

  const server = http.createServer((req, res) => {
    setCommonHeaders(res);
    void handle(req, res).catch((e: unknown) => {
      const { status, message, problems } = errorStatus(e);
      if (status >= 500) console.error(`umo web: ${req.method} ${req.url}:`, e);
      if (status === 413) res.setHeader('Connection', 'close');
      sendError(res, status, message, problems);
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://server.invalid');
    const access = checkRequest(req, url, policy.current);
    if (!access.ok) return sendError(res, access.status, access.reason);
    const method = req.method ?? 'GET';
    const p = url.pathname;

    if (p.startsWith('/api/')) {
      if (method !== 'POST') throw new HttpError(405, `${p} takes POST`);
      const origin = checkOrigin(req);
      if (!origin.ok) return sendError(res, origin.status, origin.reason);
      if (p === '/api/upload/reference') return uploadReference(req, res, url);
      if (p === '/api/upload/lora') return uploadLora(req, res, url);
      return rpc(req, res, decodeURIComponent(p.slice('/api/'.length)));
    }
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, `${method} is not supported here`);
    if (p.startsWith('/files/')) return serveStoredFile(req, res, url);
    return serveRenderer(req, res, url, access.viaQueryToken);
  }

  async function rpc(req: http.IncomingMessage, res: http.ServerResponse, channel: string): Promise<void> {
    if (!(API_CHANNELS as string[]).includes(channel)) throw new HttpError(404, `unknown API channel "${channel}"`);
    requireContentType(req, 'application/json');
    const body = await readBody(req, RPC_BODY_LIMIT, 'the request');
    let parsed: unknown;
    try {
      parsed = body.length ? JSON.parse(body.toString('utf8')) : {};
    } catch (e) {
      throw new HttpError(400, `the request body is not valid JSON (${(e as Error).message})`);
    }
    const args = (parsed as { args?: unknown } | null)?.args ?? [];
    const schema = ApiArgSchemas[channel as ApiChannel];
    const check = schema.safeParse(args);
    if (!check.success) {
      const problems = check.error.issues.map((i) => `${i.path.join('.') || 'args'}: ${i.message}`);
      throw new HttpError(400, `invalid arguments for ${channel}: ${problems.join('; ')}`, problems);
    }
    // Dispatch the arguments as sent (validated above): the services apply their own defaults, and
    // e.g. a generate request without `lora` means "the settings' active LoRA".
    const a = args as unknown[];
    let value: unknown;
    switch (channel as ApiChannel) {
      case 'revealResult': {
        await services.revealResult(a[0] as string);
        value = { downloadUrl: `${services.resultFile(a[0] as string).url}?download=1` };
        break;
      }
      default: {
        const fn = services[channel as ApiChannel] as ((...xs: unknown[]) => Promise<unknown>) | undefined;
        // Desktop-only channels (chooseFolder: a native dialog) have no web-mode implementation.
        if (typeof fn !== 'function') throw new HttpError(404, `${channel} is only available in the desktop app`);
        value = await fn.apply(services, a);
      }
    }
    sendJson(res, 200, { value: value ?? null });
  }

  async function uploadReference(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    requireContentType(req, 'application/octet-stream');
    const name = url.searchParams.get('name');
    if (!name) throw new HttpError(400, 'the upload needs ?name=<file name>');
    const bytes = await readBody(req, maxReferenceBytes, `${name}`);
    sendJson(res, 200, { value: await services.importReference({ name, bytes }) });
  }

  async function uploadLora(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    requireContentType(req, 'application/octet-stream');
    const name = url.searchParams.get('name');
    const backbone = url.searchParams.get('backbone');
    if (!name) throw new HttpError(400, 'the upload needs ?name=<file name>');
    if (backbone !== 'uno' && backbone !== 'omnigen2') throw new HttpError(400, 'the upload needs ?backbone=uno or ?backbone=omnigen2');
    fs.mkdirSync(services.paths.lorasDir, { recursive: true });
    const tmp = services.loras.tempPath();
    await streamBodyToFile(req, tmp, maxLoraBytes, name);
    sendJson(res, 200, { value: services.loras.addUploadedFile(backbone, name, tmp) });
  }

  async function serveStoredFile(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const m = /^\/files\/(outputs|references)\/([^/]+)$/.exec(url.pathname);
    if (!m) throw new HttpError(404, 'no such file');
    let name: string;
    try {
      name = decodeURIComponent(m[2]);
    } catch {
      throw new HttpError(400, 'malformed file name');
    }
    const found = resolveStoredFile(services.fileRoots(m[1] as FileKind), name);
    if (!found.ok) throw new HttpError(found.status, found.reason);
    const headers: Record<string, string | number> = {
      'Content-Type': contentTypeOf(found.file),
      'Content-Length': found.size,
      'Cache-Control': 'private, max-age=3600',
    };
    if (url.searchParams.get('download') === '1') headers['Content-Disposition'] = `attachment; filename="${name.replace(/["\\]/g, '_')}"`;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') return void res.end();
    fs.createReadStream(found.file).on('error', () => res.destroy()).pipe(res);
  }

  async function serveRenderer(req: http.IncomingMessage, res: http.ServerResponse, url: URL, viaQueryToken: boolean): Promise<void> {
    const index = path.join(rendererDir, 'index.html');
    if (!fs.existsSync(index)) {
      const page = missingRendererPage(rendererDir);
      res.writeHead(503, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      return void res.end(req.method === 'HEAD' ? undefined : page);
    }
    let rel: string;
    try {
      rel = decodeURIComponent(url.pathname);
    } catch {
      throw new HttpError(400, 'malformed path');
    }
    const segments = rel.split('/').filter(Boolean);
    if (segments.some((s) => s === '..' || s === '.' || s.includes('\\') || s.includes('\0'))) throw new HttpError(400, 'bad path');
    let file = segments.length ? path.join(rendererDir, ...segments) : index;
    const exists = (f: string) => { try { return fs.statSync(f).isFile(); } catch { return false; } };
    if (!exists(file)) {
      // No icon in the build: an empty answer instead of a 404 in the browser console.
      if (url.pathname === '/favicon.ico') return void res.writeHead(204, { 'Cache-Control': 'max-age=86400' }).end();
      // Unknown extension-less paths get the app (client-side routes); missing assets are 404s.
      if (path.extname(file)) throw new HttpError(404, `no file ${url.pathname}`);
      file = index;
    }
    const real = fs.realpathSync(file);
    const realRoot = fs.realpathSync(rendererDir);
    if (!real.startsWith(realRoot + path.sep)) throw new HttpError(403, 'refused: outside the web UI folder');
    const headers: Record<string, string | number> = { 'Content-Type': contentTypeOf(file), 'Content-Length': fs.statSync(real).size };
    if (file === index) {
      headers['Cache-Control'] = 'no-cache';
      headers['Content-Security-Policy'] = contentSecurityPolicy(req.headers.host ?? '');
      if (viaQueryToken && opts.token) {
        headers['Set-Cookie'] = `${policy.current.cookieName}=${encodeURIComponent(opts.token)}; Path=/; HttpOnly; SameSite=Strict`;
      }
    } else {
      headers['Cache-Control'] = segments[0] === 'assets' ? 'public, max-age=31536000, immutable' : 'no-cache';
    }
    res.writeHead(200, headers);
    if (req.method === 'HEAD') return void res.end();
    fs.createReadStream(real).on('error', () => res.destroy()).pipe(res);
  }

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://server.invalid');
    const refuse = (status: number, reason: string) => {
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${reason}`);
    };
    if (url.pathname !== '/api/events') return refuse(404, 'no WebSocket here');
    const access = checkRequest(req, url, policy.current);
    if (!access.ok) return refuse(access.status, access.reason);
    const origin = checkOrigin(req);
    if (!origin.ok) return refuse(origin.status, origin.reason);
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws);
      (ws as WebSocket & { isAlive?: boolean }).isAlive = true;
      ws.on('pong', () => { (ws as WebSocket & { isAlive?: boolean }).isAlive = true; });
      ws.on('close', () => clients.delete(ws));
      ws.on('error', () => clients.delete(ws));
      // Jobs the previous run left unfinished are reported to the first window that connects.
      for (const ev of services.takeStartupNotices()) ws.send(JSON.stringify(ev));
    });
  });

  const unsubscribe = services.subscribe((ev: UmoEvent) => {
    const text = JSON.stringify(ev);
    for (const ws of clients) if (ws.readyState === ws.OPEN) ws.send(text);
  });

  const heartbeat = setInterval(() => {
    for (const ws of clients) {
      const w = ws as WebSocket & { isAlive?: boolean };
      if (w.isAlive === false) {
        ws.terminate();
        clients.delete(ws);
        continue;
      }
      w.isAlive = false;
      ws.ping();
    }
  }, 30_000);
  heartbeat.unref();

  const fallback = opts.portFallback ?? opts.port === undefined;
  const port = await listen(server, host, opts.port ?? DEFAULT_PORT, fallback);
  policy.current = { ...policy.current, allowedHosts: allowedHostHeaders(host, port, opts.allowedHosts) };
  const shownHost = isLoopbackHost(host) ? (host.includes(':') ? `[${host.replace(/^\[|\]$/g, '')}]` : host) : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost === '0.0.0.0' || shownHost === '[::]' ? '127.0.0.1' : shownHost}:${port}/`;

  return {
    url, host, port, server,
    async close() {
      clearInterval(heartbeat);
      unsubscribe();
      for (const ws of clients) ws.terminate();
      clients.clear();
      wss.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
