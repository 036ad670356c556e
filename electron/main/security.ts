// Applies the security policy to Electron objects: navigation and new windows denied (http/https links
// go to the system browser), no <webview>, permissions denied by default, CSP on app documents, and a
// guard that hardens every web contents the app ever creates.
import type { App, Session, WebContents } from 'electron';
import { contentSecurityPolicy, externalUrlToOpen, isAppUrl, isPermissionGranted } from './security-policy.js';

export type OpenExternal = (url: string) => Promise<void> | void;

/** Deny navigation, redirects of the main document, new windows and webviews; send web links to the browser. */
export function hardenWebContents(contents: WebContents, openExternal: OpenExternal, log: (msg: string) => void = console.warn): void {
  const sendOut = (url: string) => {
    const external = externalUrlToOpen(url);
    if (external) void Promise.resolve(openExternal(external)).catch((e: unknown) => log(`could not open ${external}: ${(e as Error).message}`));
    else log(`blocked navigation to ${url}`);
  };
  contents.on('will-navigate', (event, url) => {
    event.preventDefault();
    sendOut(url);
  });
  contents.on('will-redirect', (event, url) => {
    if (isAppUrl(url)) return;
    event.preventDefault();
    log(`blocked redirect to ${url}`);
  });
  contents.setWindowOpenHandler(({ url }) => {
    sendOut(url);
    return { action: 'deny' };
  });
  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
    log('blocked a <webview>');
  });
}

/** Permission handlers that deny everything not granted by the policy, and the CSP header on app documents. */
export function installSessionSecurity(ses: Session): void {
  ses.setPermissionRequestHandler((contents, permission, callback, details) => {
    callback(isPermissionGranted(permission, details.requestingUrl ?? contents.getURL()));
  });
  ses.setPermissionCheckHandler((_contents, permission, requestingOrigin) => isPermissionGranted(permission, requestingOrigin));
  ses.webRequest.onHeadersReceived((details, callback) => {
    const headers = { ...(details.responseHeaders ?? {}) };
    if (details.resourceType === 'mainFrame' || details.resourceType === 'subFrame') {
      for (const k of Object.keys(headers)) if (k.toLowerCase() === 'content-security-policy') delete headers[k];
      headers['Content-Security-Policy'] = [contentSecurityPolicy()];
    }
    callback({ responseHeaders: headers });
  });
}

/** Harden every web contents created later (devtools, popups that slipped through, anything). */
export function installGlobalGuards(app: App, openExternal: OpenExternal): void {
  app.on('web-contents-created', (_event, contents) => hardenWebContents(contents, openExternal));
}
