// Window options, CSP, navigation / new-window denial, webviews, permission handlers and the
// web-contents-created guard, on the hand-written Electron mock.
import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import type { App, Session, WebContents } from 'electron';
import {
  APP_INDEX_URL, contentSecurityPolicy, externalUrlToOpen, isAppUrl, isPermissionGranted, mainWindowOptions,
} from '../../../electron/main/security-policy.js';
import { hardenWebContents, installGlobalGuards, installSessionSecurity } from '../../../electron/main/security.js';
import { createMainWindow } from '../../../electron/main/window.js';
import { FakeBrowserWindow, FakeWebContents, electronModule, mock } from './electron-mock.js';

const asContents = (c: FakeWebContents) => c as unknown as WebContents;

describe('main window options', () => {
  it('sets every security flag explicitly', () => {
    const o = mainWindowOptions({ preloadPath: '/app/dist/electron/preload/preload.js' });
    expect(o.webPreferences).toEqual(expect.objectContaining({
      preload: '/app/dist/electron/preload/preload.js',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
    }));
    expect(o.webPreferences).not.toHaveProperty('enableBlinkFeatures');
    expect(o.webPreferences).not.toHaveProperty('enableRemoteModule');
    expect(o.show).toBe(false);
  });

  it('createMainWindow passes the options, loads the app URL and shows when ready', () => {
    const win = createMainWindow(FakeBrowserWindow as never, { preloadPath: '/p.js', iconPath: '/icon.png' }) as unknown as FakeBrowserWindow;
    expect(win.options).toEqual(mainWindowOptions({ preloadPath: '/p.js', iconPath: '/icon.png' }));
    expect(win.loadedUrl).toBe(APP_INDEX_URL);
    expect(APP_INDEX_URL).toBe('app://umo/index.html');
    expect(win.shown).toBe(false);
    win.emit('ready-to-show');
    expect(win.shown).toBe(true);
  });
});

describe('content security policy', () => {
  it('is the strict policy the app documents', () => {
    expect(contentSecurityPolicy()).toBe(
      "default-src 'self'; img-src 'self' app-image: data: blob:; script-src 'self'; style-src 'self' 'unsafe-inline'; "
      + "font-src 'self' data:; connect-src 'self' app-image:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    const directives = Object.fromEntries(contentSecurityPolicy().split('; ').map((d) => [d.split(' ')[0], d.slice(d.indexOf(' ') + 1)]));
    expect(directives['script-src']).not.toMatch(/unsafe-(inline|eval)/);
    expect(directives['default-src']).toBe("'self'");
  });

  it('is put on frame documents by the session, replacing any other CSP', () => {
    const ses = { ...mock.session };
    installSessionSecurity(ses as unknown as Session);
    const cb = vi.fn();
    mock.session.headersHandler!({ resourceType: 'mainFrame', responseHeaders: { 'content-security-policy': ["default-src *"], 'X-Other': ['1'] } }, cb);
    expect(cb).toHaveBeenCalledWith({ responseHeaders: { 'X-Other': ['1'], 'Content-Security-Policy': [contentSecurityPolicy()] } });
    const cb2 = vi.fn();
    mock.session.headersHandler!({ resourceType: 'image', responseHeaders: { a: ['b'] } }, cb2);
    expect(cb2).toHaveBeenCalledWith({ responseHeaders: { a: ['b'] } });
  });
});

describe('navigation and new windows', () => {
  it('denies every navigation and sends only http(s) links to the system browser', async () => {
    const contents = new FakeWebContents();
    const opened: string[] = [];
    const log = vi.fn();
    hardenWebContents(asContents(contents), (u) => { opened.push(u); }, log);
    expect(contents.fire('will-navigate', 'https://example.com/docs')).toBe(true);
    expect(contents.fire('will-navigate', 'app://umo/other.html')).toBe(true);
    expect(contents.fire('will-navigate', 'file:///etc/passwd')).toBe(true);
    expect(contents.fire('will-navigate', 'javascript:alert(1)')).toBe(true);
    await Promise.resolve();
    expect(opened).toEqual(['https://example.com/docs']);
    expect(log).toHaveBeenCalledWith('blocked navigation to file:///etc/passwd');
  });

  it('denies window.open and opens web links externally', () => {
    const contents = new FakeWebContents();
    const opened: string[] = [];
    hardenWebContents(asContents(contents), (u) => { opened.push(u); }, () => {});
    expect(contents.windowOpenHandler!({ url: 'http://example.org/' })).toEqual({ action: 'deny' });
    expect(contents.windowOpenHandler!({ url: 'app://umo/index.html' })).toEqual({ action: 'deny' });
    expect(contents.windowOpenHandler!({ url: 'smb://server/share' })).toEqual({ action: 'deny' });
    expect(opened).toEqual(['http://example.org/']);
  });

  it('blocks webviews and redirects away from the app', () => {
    const contents = new FakeWebContents();
    hardenWebContents(asContents(contents), () => {}, () => {});
    expect(contents.fire('will-attach-webview', {}, {})).toBe(true);
    expect(contents.fire('will-redirect', 'https://evil.example/')).toBe(true);
    expect(contents.fire('will-redirect', 'app://umo/index.html')).toBe(false);
  });

  it('hardens every web contents the app creates', async () => {
    const app = new EventEmitter();
    const openExternal = vi.fn();
    installGlobalGuards(app as unknown as App, openExternal);
    const contents = new FakeWebContents();
    app.emit('web-contents-created', {}, contents);
    expect(contents.windowOpenHandler).not.toBeNull();
    expect(contents.fire('will-navigate', 'https://example.com/')).toBe(true);
    await Promise.resolve();
    expect(openExternal).toHaveBeenCalledWith('https://example.com/');
  });

  it('externalUrlToOpen accepts only http(s) URLs with a host and no credentials', () => {
    expect(externalUrlToOpen('https://github.com/bytedance/UNO')).toBe('https://github.com/bytedance/UNO');
    expect(externalUrlToOpen('http://example.com')).toBe('http://example.com/');
    for (const bad of ['file:///C:/Windows/system32/calc.exe', 'ms-settings:', 'javascript:alert(1)', 'app://umo/', 'https://user:pw@example.com/', 'not a url', 'smb://host/share']) {
      expect(externalUrlToOpen(bad)).toBeNull();
    }
  });

  it('isAppUrl accepts only the app origin', () => {
    expect(isAppUrl('app://umo/index.html')).toBe(true);
    expect(isAppUrl('app://umo')).toBe(true);
    expect(isAppUrl('app://other/index.html')).toBe(false);
    expect(isAppUrl('file:///app/renderer/dist/index.html')).toBe(false);
    expect(isAppUrl('https://umo/')).toBe(false);
    expect(isAppUrl(null)).toBe(false);
  });
});

describe('permissions', () => {
  it('deny by default; only the sanitized clipboard write for the app origin', () => {
    installSessionSecurity(mock.session as unknown as Session);
    const contents = new FakeWebContents();
    const ask = (permission: string, requestingUrl: string) => {
      const cb = vi.fn();
      mock.session.permissionRequestHandler!(contents, permission, cb, { requestingUrl });
      return cb.mock.calls[0][0] as boolean;
    };
    for (const p of ['media', 'geolocation', 'notifications', 'openExternal', 'clipboard-read', 'fullscreen', 'hid', 'usb', 'serial', 'unknown']) {
      expect(ask(p, 'app://umo/index.html')).toBe(false);
    }
    expect(ask('clipboard-sanitized-write', 'app://umo/index.html')).toBe(true);
    expect(ask('clipboard-sanitized-write', 'https://evil.example/')).toBe(false);
    expect(mock.session.permissionCheckHandler!(contents, 'media', 'app://umo', {})).toBe(false);
    expect(mock.session.permissionCheckHandler!(contents, 'clipboard-sanitized-write', 'app://umo', {})).toBe(true);
    expect(isPermissionGranted('clipboard-sanitized-write', 'file:///x')).toBe(false);
  });
});

// The mock module is importable (used by other tests through vi.mock).
void electronModule;
