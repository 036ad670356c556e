// The app:// and app-image:// handlers as plain Request -> Response functions on real folders.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Protocol } from 'electron';
import {
  PRIVILEGED_SCHEMES, createAppContentHandler, createAppImageHandler, installProtocolHandlers, mimeType, registerPrivilegedSchemes,
} from '../../../electron/main/protocols.js';
import { contentSecurityPolicy } from '../../../electron/main/security-policy.js';
import { appImageUrl } from '../../../electron/main/app-image-path.js';

let root: string;
let rendererDir: string;
let out: string;
let refs: string;

beforeAll(() => {
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'umo-protocols-')));
  rendererDir = path.join(root, 'renderer', 'dist');
  out = path.join(root, 'outputs');
  refs = path.join(root, 'references');
  fs.mkdirSync(path.join(rendererDir, 'assets'), { recursive: true });
  fs.mkdirSync(out);
  fs.mkdirSync(refs);
  fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>UMO</title>');
  fs.writeFileSync(path.join(rendererDir, 'assets', 'index-abc.js'), 'console.log(1)');
  fs.writeFileSync(path.join(root, 'renderer', 'secret.txt'), 'secret');
  fs.symlinkSync(path.join(root, 'renderer', 'secret.txt'), path.join(rendererDir, 'link.js'));
  fs.writeFileSync(path.join(out, 'umo-1.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  fs.writeFileSync(path.join(refs, 'ref.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 1]));
  fs.writeFileSync(path.join(root, 'elsewhere.png'), 'x');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('app:// content', () => {
  const handler = () => createAppContentHandler(rendererDir);

  it('serves the renderer build with the CSP and the right types', async () => {
    const r = await handler()(new Request('app://umo/index.html'));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(r.headers.get('content-security-policy')).toBe(contentSecurityPolicy());
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await r.text()).toContain('<title>UMO</title>');
    const js = await handler()(new Request('app://umo/assets/index-abc.js'));
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await handler()(new Request('app://umo/'))).status).toBe(200);
  });

  it('refuses other hosts, traversal, links out, missing files and non-GET methods', async () => {
    expect((await handler()(new Request('app://other/index.html'))).status).toBe(404);
    expect((await handler()(new Request('app://umo/%2e%2e/secret.txt'))).status).toBe(404);
    expect((await handler()(new Request('app://umo/..%2Fsecret.txt'))).status).toBe(404);
    expect((await handler()(new Request('app://umo/assets/..%2F..%2Fsecret.txt'))).status).toBe(404);
    expect((await handler()(new Request('app://umo/link.js'))).status).toBe(404);
    expect((await handler()(new Request('app://umo/missing.js'))).status).toBe(404);
    expect((await handler()(new Request('app://umo/assets'))).status).toBe(404);
    expect((await handler()(new Request('app://umo/index.html', { method: 'POST', body: 'x' }))).status).toBe(405);
  });
});

describe('app-image://', () => {
  const log = vi.fn();
  const handler = () => createAppImageHandler((kind) => (kind === 'outputs' ? [out] : [refs]), log);

  it('serves output and reference images with CORS for the app origin', async () => {
    const r = await handler()(new Request(appImageUrl('outputs', 'umo-1.png')));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/png');
    expect(r.headers.get('access-control-allow-origin')).toBe('app://umo');
    expect(new Uint8Array(await r.arrayBuffer())).toEqual(new Uint8Array([0x89, 0x50, 0x4e, 0x47]));
    const ref = await handler()(new Request(appImageUrl('references', 'ref.png')));
    expect(ref.status).toBe(200);
    expect(ref.headers.get('content-length')).toBe('5');
  });

  it('answers 403 / 404 / 400 for everything else', async () => {
    expect((await handler()(new Request('app-image://outputs/..%2Felsewhere.png'))).status).toBe(403);
    expect((await handler()(new Request(`app-image://outputs/${encodeURIComponent(path.join(root, 'elsewhere.png'))}`))).status).toBe(403);
    expect((await handler()(new Request(appImageUrl('outputs', 'ref.png')))).status).toBe(404);
    expect((await handler()(new Request('app-image://file/x.png'))).status).toBe(404);
    expect((await handler()(new Request('app-image://outputs/%E0%A4%A'))).status).toBe(400);
    expect((await handler()(new Request(appImageUrl('outputs', 'umo-1.png'), { method: 'PUT', body: 'x' }))).status).toBe(405);
    expect(log).toHaveBeenCalledWith(expect.stringMatching(/^app-image: refused app-image:\/\/outputs\/\.\.%2Felsewhere\.png/));
  });
});

describe('registration', () => {
  it('registers both schemes as standard + secure before ready, and installs both handlers', () => {
    const protocol = { registerSchemesAsPrivileged: vi.fn(), handle: vi.fn() };
    registerPrivilegedSchemes(protocol as unknown as Protocol);
    expect(protocol.registerSchemesAsPrivileged).toHaveBeenCalledWith(PRIVILEGED_SCHEMES);
    const byName = Object.fromEntries(PRIVILEGED_SCHEMES.map((s) => [s.scheme, s.privileges]));
    expect(byName.app).toMatchObject({ standard: true, secure: true });
    expect(byName['app-image']).toMatchObject({ standard: true, secure: true, supportFetchAPI: true, corsEnabled: true });
    for (const p of Object.values(byName)) expect(p).not.toHaveProperty('bypassCSP');
    installProtocolHandlers(protocol as unknown as Protocol, { rendererDir, imageRoots: () => [] });
    expect(protocol.handle.mock.calls.map((c) => c[0])).toEqual(['app', 'app-image']);
  });

  it('knows the MIME types of the build', () => {
    expect(mimeType('a.css')).toBe('text/css; charset=utf-8');
    expect(mimeType('a.woff2')).toBe('font/woff2');
    expect(mimeType('a.bin')).toBe('application/octet-stream');
  });
});
