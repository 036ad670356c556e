// `window.umo` in web mode: the same UmoApi as the desktop preload, spoken over HTTP + WebSocket to
// the server that served the page (electron/server/web-server.ts). Requests are `POST /api/<channel>`
// with `{ args }`; image and LoRA bytes go as raw uploads; events arrive on one WebSocket that
// reconnects by itself while anyone listens.
//
// Written against globalThis (no DOM types) so it also runs, and is tested, in Node.
import type { BackboneId } from '../../../shared/model-manifests.js';
import type { LoraEntry } from '../../../shared/settings.js';
import type { ApiChannel, ReferenceImage, UmoApi, UmoEvent } from '../../../shared/umo-api.js';

/** The part of a WebSocket this client uses (the browser's, or `ws` in Node). */
export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(): void;
}

export interface WebApiOptions {
  /** Access token (when the server was started with --token); default: `?token=` of the page URL. */
  token?: string;
  /** WebSocket factory; default the global WebSocket. */
  socketFactory?: (url: string) => SocketLike;
  /** First reconnect delay (doubles up to 5 s). */
  reconnectDelayMs?: number;
}

export interface WebUmoApi extends UmoApi {
  /** Close the event socket and stop reconnecting. */
  dispose(): void;
  /** True while the event socket is open. */
  readonly connected: boolean;
}

export class WebApiError extends Error {
  constructor(readonly status: number, message: string, readonly problems: readonly string[] = []) {
    super(message);
    this.name = 'WebApiError';
  }
}

interface PageGlobals {
  location?: { search?: string };
  document?: { createElement(tag: 'a'): { href: string; download: string; click(): void; remove(): void }; body?: { appendChild(n: unknown): void } };
  WebSocket?: new (url: string) => SocketLike;
}

function pageToken(): string | undefined {
  const search = (globalThis as PageGlobals).location?.search;
  if (!search) return undefined;
  return new URLSearchParams(search).get('token') ?? undefined;
}

export function createWebApi(baseUrl: string, opts: WebApiOptions = {}): WebUmoApi {
  const base = baseUrl.replace(/\/+$/, '');
  const token = opts.token ?? pageToken();
  const headers = (contentType: string): Record<string, string> => ({
    'Content-Type': contentType,
    ...(token ? { 'X-Umo-Token': token } : {}),
  });

  async function answer<T>(res: Response): Promise<T> {
    let body: { value?: unknown; error?: string; problems?: string[] } = {};
    try {
      body = (await res.json()) as typeof body;
    } catch {
      // not JSON (a proxy error page, a dropped connection)
    }
    if (!res.ok) {
      throw new WebApiError(res.status, body.error ?? `the server answered ${res.status} ${res.statusText}`, body.problems ?? []);
    }
    return body.value as T;
  }

  async function call<T>(channel: ApiChannel, ...args: unknown[]): Promise<T> {
    const res = await fetch(`${base}/api/${channel}`, { method: 'POST', headers: headers('application/json'), body: JSON.stringify({ args }), credentials: 'same-origin' });
    return answer<T>(res);
  }

  async function upload<T>(route: string, query: Record<string, string>, bytes: Uint8Array): Promise<T> {
    const qs = new URLSearchParams(query).toString();
    const body = bytes.slice();
    const res = await fetch(`${base}/api/upload/${route}?${qs}`, { method: 'POST', headers: headers('application/octet-stream'), body, credentials: 'same-origin' });
    return answer<T>(res);
  }

  // Events: one socket shared by all listeners, opened on the first subscription.
  const listeners = new Set<(ev: UmoEvent) => void>();
  let socket: SocketLike | null = null;
  let open = false;
  let disposed = false;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  const firstDelay = opts.reconnectDelayMs ?? 500;
  let delay = firstDelay;

  const makeSocket = (url: string): SocketLike => {
    if (opts.socketFactory) return opts.socketFactory(url);
    const WS = (globalThis as PageGlobals).WebSocket;
    if (!WS) throw new Error('no WebSocket implementation available: pass socketFactory');
    return new WS(url);
  };

  const eventsUrl = () => {
    const u = new URL(`${base}/api/events`);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    if (token) u.searchParams.set('token', token);
    return u.toString();
  };

  function connect(): void {
    if (socket || disposed || listeners.size === 0) return;
    let s: SocketLike;
    try {
      s = makeSocket(eventsUrl());
    } catch (e) {
      console.error('umo: cannot open the event socket:', e);
      return;
    }
    socket = s;
    s.onopen = () => {
      open = true;
      delay = firstDelay;
    };
    s.onmessage = (ev) => {
      let parsed: UmoEvent;
      try {
        parsed = JSON.parse(typeof ev.data === 'string' ? ev.data : String(ev.data)) as UmoEvent;
      } catch {
        return;
      }
      for (const l of [...listeners]) {
        try {
          l(parsed);
        } catch (e) {
          console.error('umo: an event listener failed:', e);
        }
      }
    };
    s.onerror = () => undefined; // a close follows
    s.onclose = () => {
      if (socket !== s) return;
      socket = null;
      open = false;
      if (disposed || listeners.size === 0) return;
      retryTimer = setTimeout(() => {
        retryTimer = null;
        connect();
      }, delay);
      delay = Math.min(delay * 2, 5000);
    };
  }

  function disconnect(): void {
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = null;
    const s = socket;
    socket = null;
    open = false;
    s?.close();
  }

  function download(url: string): void {
    const doc = (globalThis as PageGlobals).document;
    if (!doc) return;
    const a = doc.createElement('a');
    a.href = url;
    a.download = '';
    doc.body?.appendChild(a);
    a.click();
    a.remove();
  }

  const api: WebUmoApi = {
    get connected() {
      return open;
    },
    getAppInfo: () => call('getAppInfo'),
    getSettings: () => call('getSettings'),
    updateSettings: (patch) => call('updateSettings', patch),
    getModelStatus: (backbone) => call('getModelStatus', backbone),
    listDevices: () => call('listDevices'),
    planRequest: (query) => call('planRequest', query),
    importReference: (input) => ('bytes' in input
      ? upload<ReferenceImage>('reference', { name: input.name }, input.bytes)
      : call<ReferenceImage>('importReference', input)),
    referenceFromResult: (jobId) => call('referenceFromResult', jobId),
    generate: (request, options) => (options ? call('generate', request, options) : call('generate', request)),
    cancel: async (jobId) => { await call('cancel', jobId); },
    listHistory: () => call('listHistory'),
    addLora: (input: { backbone: BackboneId; path?: string; name?: string; bytes?: Uint8Array }) => {
      if (input.bytes) {
        return upload<LoraEntry>('lora', { backbone: input.backbone, name: input.name ?? 'lora.safetensors' }, input.bytes);
      }
      return call<LoraEntry | null>('addLora', input);
    },
    setActiveLora: (backbone, path) => call('setActiveLora', backbone, path),
    installDemoModel: () => call('installDemoModel'),
    // chooseFolder: desktop only (no native dialog in a browser; the UI offers a text field).
    revealResult: async (jobId) => {
      const r = await call<{ downloadUrl: string }>('revealResult', jobId);
      download(new URL(r.downloadUrl, `${base}/`).toString());
    },
    onEvent(listener) {
      listeners.add(listener);
      connect();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) disconnect();
      };
    },
    dispose() {
      disposed = true;
      listeners.clear();
      disconnect();
    },
  };
  return api;
}
