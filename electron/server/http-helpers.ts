// Small HTTP helpers for the web-mode server: size-limited bodies, JSON and error answers, content
// types, and the security headers every answer carries.
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly problems: readonly string[] = []) {
    super(message);
    this.name = 'HttpError';
  }
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

export function setCommonHeaders(res: http.ServerResponse): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('X-Frame-Options', 'DENY');
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? {});
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: http.ServerResponse, status: number, message: string, problems: readonly string[] = []): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, problems.length ? { error: message, problems } : { error: message });
}

function declaredLength(req: http.IncomingMessage, limit: number, what: string): void {
  const len = req.headers['content-length'];
  if (len !== undefined && Number(len) > limit) {
    throw new HttpError(413, `${what} is ${len} bytes, larger than the ${limit}-byte limit`);
  }
}

/** Read a whole request body into memory, refusing more than `limit` bytes. */
export async function readBody(req: http.IncomingMessage, limit: number, what = 'the request body'): Promise<Buffer> {
  declaredLength(req, limit, what);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of req) {
    n += (chunk as Buffer).length;
    if (n > limit) {
      req.resume();
      throw new HttpError(413, `${what} is larger than the ${limit}-byte limit`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Stream a request body into a file, refusing more than `limit` bytes (the file is removed then). */
export async function streamBodyToFile(req: http.IncomingMessage, file: string, limit: number, what = 'the upload'): Promise<number> {
  declaredLength(req, limit, what);
  let n = 0;
  const out = fs.createWriteStream(file, { flags: 'wx' });
  try {
    await pipeline(req, async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        n += chunk.length;
        if (n > limit) throw new HttpError(413, `${what} is larger than the ${limit}-byte limit`);
        yield chunk;
      }
    }, out);
  } catch (e) {
    fs.rmSync(file, { force: true });
    throw e;
  }
  return n;
}

export function requireContentType(req: http.IncomingMessage, expected: string): void {
  const ct = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (ct !== expected) throw new HttpError(415, `expected Content-Type ${expected}, got ${ct || 'none'}`);
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
