// The two custom schemes: `app://umo/…` serves the renderer build (with the CSP header) and
// `app-image://<outputs|references>/<name>` serves result and reference images after the path check. The handlers are
// plain (Request) => Response functions, so they are tested in Node without Electron.
import fs from 'node:fs';
import path from 'node:path';
import type { CustomScheme, Protocol } from 'electron';
import { APP_IMAGE_SCHEME, isInsideFolder, resolveAppImageRequest, type AppImageKind } from './app-image-path.js';
import { APP_HOST, APP_ORIGIN, APP_SCHEME, appResponseHeaders } from './security-policy.js';

/** Both schemes are standard + secure (so the app origin is a secure context and `'self'` works in the CSP). */
export const PRIVILEGED_SCHEMES: CustomScheme[] = [
  // corsEnabled: the build's `<script type="module" crossorigin>` is fetched in CORS mode.
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true, codeCache: true } },
  // corsEnabled + an Access-Control-Allow-Origin of app://umo: the renderer fetches results to copy them.
  { scheme: APP_IMAGE_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true } },
];

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
};

export function mimeType(file: string): string {
  return MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

function textResponse(status: number, text: string, headers: Record<string, string> = {}): Response {
  return new Response(text, { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers } });
}

/** Serves the renderer build folder on `app://umo/`; anything outside it, or another host, is 404. */
export function createAppContentHandler(rendererDir: string): (request: Request) => Promise<Response> {
  const root = path.resolve(rendererDir);
  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return textResponse(405, 'method not allowed');
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return textResponse(400, 'bad URL');
    }
    if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) return textResponse(404, 'not found');
    let rel: string;
    try {
      rel = decodeURIComponent(url.pathname);
    } catch {
      return textResponse(400, 'bad URL encoding');
    }
    if (rel.includes('\0')) return textResponse(400, 'bad path');
    if (rel === '/' || rel === '') rel = '/index.html';
    const file = path.resolve(root, `.${rel}`);
    if (!isInsideFolder(file, root)) return textResponse(404, 'not found');
    try {
      const real = await fs.promises.realpath(file);
      const realRoot = await fs.promises.realpath(root);
      if (!isInsideFolder(real, realRoot)) return textResponse(404, 'not found');
      const body = await fs.promises.readFile(real);
      return new Response(request.method === 'HEAD' ? null : body, { status: 200, headers: appResponseHeaders(mimeType(real)) });
    } catch {
      return textResponse(404, 'not found');
    }
  };
}

/** Serves images inside the folders `rootsFor(kind)` names (output folders, reference folder), nothing else. */
export function createAppImageHandler(rootsFor: (kind: AppImageKind) => readonly string[], log: (msg: string) => void = console.warn): (request: Request) => Promise<Response> {
  const cors = { 'access-control-allow-origin': APP_ORIGIN, 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' };
  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return textResponse(405, 'method not allowed', cors);
    const decision = await resolveAppImageRequest(request.url, rootsFor);
    if (!decision.ok) {
      if (decision.status === 403) log(`app-image: refused ${request.url}: ${decision.reason}`);
      return textResponse(decision.status, decision.status === 404 ? 'not found' : decision.status === 403 ? 'forbidden' : 'bad request', cors);
    }
    try {
      const stat = await fs.promises.stat(decision.path);
      if (!stat.isFile()) return textResponse(404, 'not found', cors);
      const body = request.method === 'HEAD' ? null : await fs.promises.readFile(decision.path);
      return new Response(body, { status: 200, headers: { ...cors, 'content-type': mimeType(decision.path), 'content-length': String(stat.size) } });
    } catch {
      return textResponse(404, 'not found', cors);
    }
  };
}

/** Must run before the app is ready. */
export function registerPrivilegedSchemes(protocol: Pick<Protocol, 'registerSchemesAsPrivileged'>): void {
  protocol.registerSchemesAsPrivileged(PRIVILEGED_SCHEMES);
}

export function installProtocolHandlers(protocol: Pick<Protocol, 'handle'>, opts: { rendererDir: string; imageRoots: (kind: AppImageKind) => readonly string[] }): void {
  protocol.handle(APP_SCHEME, createAppContentHandler(opts.rendererDir));
  protocol.handle(APP_IMAGE_SCHEME, createAppImageHandler(opts.imageRoots));
}
