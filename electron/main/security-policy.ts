// The desktop app's security policy as data and pure decisions: the app origin, the CSP, the window's
// web preferences, which URLs may be opened externally, which permissions are granted. The Electron
// glue in security.ts only applies these.
import type { BrowserWindowConstructorOptions } from 'electron';
import { APP_IMAGE_SCHEME } from './app-image-path.js';

/** The renderer is served from a custom standard scheme (never file://): `app://umo/index.html`. */
export const APP_SCHEME = 'app';
export const APP_HOST = 'umo';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_INDEX_URL = `${APP_ORIGIN}/index.html`;

/**
 * Content-Security-Policy of the app's documents. `'unsafe-inline'` styles are required by MUI/emotion;
 * `app-image:` in connect-src lets the renderer fetch a result to copy it to the clipboard.
 */
export const CSP_DIRECTIVES: ReadonlyArray<readonly [string, string]> = [
  ['default-src', "'self'"],
  ['img-src', `'self' ${APP_IMAGE_SCHEME}: data: blob:`],
  ['script-src', "'self'"],
  ['style-src', "'self' 'unsafe-inline'"],
  ['font-src', "'self' data:"],
  ['connect-src', `'self' ${APP_IMAGE_SCHEME}:`],
  ['object-src', "'none'"],
  ['base-uri', "'none'"],
  ['form-action', "'none'"],
  ['frame-ancestors', "'none'"],
];

export function contentSecurityPolicy(): string {
  return CSP_DIRECTIVES.map(([k, v]) => `${k} ${v}`).join('; ');
}

/** Headers every app document and asset is served with. */
export function appResponseHeaders(contentType: string): Record<string, string> {
  return {
    'content-type': contentType,
    'content-security-policy': contentSecurityPolicy(),
    'x-content-type-options': 'nosniff',
    'cross-origin-opener-policy': 'same-origin',
  };
}

export interface WindowOptionsInput {
  preloadPath: string;
  iconPath?: string;
  title?: string;
}

/** The main window's options, every security-relevant web preference set explicitly. */
export function mainWindowOptions(input: WindowOptionsInput): BrowserWindowConstructorOptions {
  return {
    width: 1360,
    height: 900,
    minWidth: 960,
    minHeight: 640,
    show: false,
    title: input.title ?? 'UMO Studio',
    ...(input.iconPath ? { icon: input.iconPath } : {}),
    webPreferences: {
      preload: input.preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
    },
  };
}

/** Whether a URL belongs to the app's own origin (`app://umo`). */
export function isAppUrl(url: string | null | undefined): boolean {
  if (!url) return false;
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST;
  } catch {
    return false;
  }
}

/** The URL to hand to the system browser, or null: only well-formed http(s) URLs with a host. */
export function externalUrlToOpen(url: string): string | null {
  try {
    const u = new URL(url);
    if ((u.protocol === 'https:' || u.protocol === 'http:') && u.hostname.length > 0 && !u.username && !u.password) return u.toString();
  } catch {
    // not a URL
  }
  return null;
}

/** Permissions the app's own pages may use; everything else (and every other origin) is denied. */
export const GRANTED_PERMISSIONS: ReadonlySet<string> = new Set(['clipboard-sanitized-write']);

export function isPermissionGranted(permission: string, requestingUrl: string | null | undefined): boolean {
  return GRANTED_PERMISSIONS.has(permission) && isAppUrl(requestingUrl);
}
