// Who may talk to the web-mode server. Loopback by default; any other interface only with a token.
// Every request's Host header must name this server (DNS-rebinding defence), state-changing
// requests and WebSocket upgrades from a browser must come from this server's own origin (CSRF and
// cross-site WebSocket defence), and with a token every request must carry it (header, `?token=`
// or the cookie set when the page was opened with `?token=`).
import crypto from 'node:crypto';
import type http from 'node:http';
import net from 'node:net';
import os from 'node:os';

export const MIN_TOKEN_LENGTH = 16;
export const TOKEN_HEADER = 'x-umo-token';

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return net.isIPv4(h) && h.startsWith('127.');
}

function isWildcard(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === '0.0.0.0' || h === '::';
}

/** Refuse configurations that would expose the server without a token. Returns the error text or null. */
export function checkBindPolicy(host: string, token: string | undefined): string | null {
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    return `the access token must be at least ${MIN_TOKEN_LENGTH} characters (e.g. the output of "openssl rand -hex 16")`;
  }
  if (isLoopbackHost(host)) return null;
  if (!token) {
    return `refusing to listen on ${host}: web mode binds only to 127.0.0.1 unless both --host and --token are given (anyone who can reach ${host} could otherwise use the app and read its files)`;
  }
  return null;
}

function hostLiteral(h: string): string {
  return net.isIPv6(h) ? `[${h}]` : h;
}

/** Host header values (`name:port`, lower case) that address this server. */
export function allowedHostHeaders(bindHost: string, port: number, extra: readonly string[] = []): Set<string> {
  const names = new Set<string>();
  const bare = bindHost.replace(/^\[|\]$/g, '');
  if (isLoopbackHost(bare)) {
    for (const n of ['127.0.0.1', 'localhost', '[::1]']) names.add(n);
    names.add(hostLiteral(bare));
  } else if (isWildcard(bare)) {
    names.add('localhost');
    for (const list of Object.values(os.networkInterfaces())) {
      for (const a of list ?? []) names.add(hostLiteral(a.address.split('%')[0]));
    }
    const hn = os.hostname().toLowerCase();
    names.add(hn);
    if (!hn.includes('.')) names.add(`${hn}.local`);
  } else {
    names.add(hostLiteral(bare));
  }
  for (const e of extra) names.add(e.toLowerCase());
  return new Set([...names].map((n) => `${n.toLowerCase()}:${port}`));
}

export interface AccessPolicy {
  readonly token?: string;
  readonly allowedHosts: Set<string>;
  readonly cookieName: string;
}

export type AccessDecision = { ok: true; viaQueryToken: boolean } | { ok: false; status: 401 | 403; reason: string };

function sameSecret(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

function cookieValue(req: http.IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

/** Host header check, then the token (when one is configured). */
export function checkRequest(req: http.IncomingMessage, url: URL, policy: AccessPolicy): AccessDecision {
  const host = (req.headers.host ?? '').toLowerCase();
  if (!policy.allowedHosts.has(host)) {
    return { ok: false, status: 403, reason: `refused: the Host header "${req.headers.host ?? ''}" does not name this server` };
  }
  if (!policy.token) return { ok: true, viaQueryToken: false };
  const header = req.headers[TOKEN_HEADER];
  const auth = req.headers.authorization;
  const candidates: Array<[string | undefined, boolean]> = [
    [typeof header === 'string' ? header : undefined, false],
    [auth?.startsWith('Bearer ') ? auth.slice(7) : undefined, false],
    [url.searchParams.get('token') ?? undefined, true],
    [cookieValue(req, policy.cookieName), false],
  ];
  for (const [value, viaQuery] of candidates) {
    if (value && sameSecret(value, policy.token)) return { ok: true, viaQueryToken: viaQuery };
  }
  return { ok: false, status: 401, reason: 'refused: this server needs its access token (open the URL printed at start-up, which carries ?token=…)' };
}

/** A browser's Origin, when present, must be this server's own origin. Non-browser clients send none. */
export function checkOrigin(req: http.IncomingMessage): AccessDecision {
  const origin = req.headers.origin;
  if (origin === undefined) return { ok: true, viaQueryToken: false };
  const host = (req.headers.host ?? '').toLowerCase();
  const ok = origin.toLowerCase() === `http://${host}` || origin.toLowerCase() === `https://${host}`;
  return ok ? { ok: true, viaQueryToken: false } : { ok: false, status: 403, reason: `refused: cross-origin request from ${origin}` };
}
