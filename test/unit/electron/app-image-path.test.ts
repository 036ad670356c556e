// The app-image:// check: `app-image://<outputs|references>/<plain file name>` serves only image
// files whose real path is inside one of that kind's folders. Traversal (plain, encoded, double
// encoded, backslashes), absolute paths, drive letters, symlinks/junctions out, other kinds: refused.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appImageUrl, decodeAppImageUrl, isInsideFolder, plainFileNameProblem, resolveAppImageRequest, type AppImageKind,
} from '../../../electron/main/app-image-path.js';

describe('isInsideFolder', () => {
  it('is lexical and strict on POSIX paths', () => {
    expect(isInsideFolder('/data/out/a.png', '/data/out', 'posix')).toBe(true);
    expect(isInsideFolder('/data/out/sub/a.png', '/data/out/', 'posix')).toBe(true);
    expect(isInsideFolder('/data/out', '/data/out', 'posix')).toBe(false);
    expect(isInsideFolder('/data/outside/a.png', '/data/out', 'posix')).toBe(false);
    expect(isInsideFolder('/data/out/../secret.png', '/data/out', 'posix')).toBe(false);
    expect(isInsideFolder('/data/out/..hidden.png', '/data/out', 'posix')).toBe(true);
    expect(isInsideFolder('/etc/passwd', '/data/out', 'posix')).toBe(false);
  });

  it('handles drives and case on Windows paths', () => {
    expect(isInsideFolder('C:\\Users\\me\\out\\a.png', 'C:\\Users\\me\\out', 'win32')).toBe(true);
    expect(isInsideFolder('c:\\users\\ME\\OUT\\a.png', 'C:\\Users\\me\\out', 'win32')).toBe(true);
    expect(isInsideFolder('D:\\Users\\me\\out\\a.png', 'C:\\Users\\me\\out', 'win32')).toBe(false);
    expect(isInsideFolder('C:\\Users\\me\\out\\..\\a.png', 'C:\\Users\\me\\out', 'win32')).toBe(false);
    expect(isInsideFolder('C:/Users/me/out/x/a.png', 'C:\\Users\\me\\out', 'win32')).toBe(true);
    expect(isInsideFolder('\\\\server\\share\\a.png', 'C:\\Users\\me\\out', 'win32')).toBe(false);
  });
});

describe('decodeAppImageUrl', () => {
  it('round-trips the URLs the services build', () => {
    expect(appImageUrl('outputs', 'umo 1#%.png')).toBe('app-image://outputs/umo%201%23%25.png');
    expect(decodeAppImageUrl(appImageUrl('outputs', 'umo 1#%.png'))).toEqual({ ok: true, kind: 'outputs', name: 'umo 1#%.png' });
    expect(decodeAppImageUrl(appImageUrl('references', 'ab12.png'))).toEqual({ ok: true, kind: 'references', name: 'ab12.png' });
    expect(decodeAppImageUrl('app-image://OUTPUTS/a.png')).toMatchObject({ ok: true, kind: 'outputs' });
  });

  it('refuses paths, dot segments, drives, streams and control characters in the name', () => {
    const bad = [
      '../secret.png', '..\\secret.png', '..', '.', '/etc/passwd', 'C:\\Windows\\win.ini', 'C:secret.png', 'D:/x.png',
      'a.png:stream', 'sub/a.png', '\\\\server\\share\\a.png', 'a\u0000.png', 'a\n.png',
    ];
    for (const name of bad) {
      expect(plainFileNameProblem(name), name).not.toBeNull();
      const d = decodeAppImageUrl(`app-image://outputs/${encodeURIComponent(name)}`);
      expect(d.ok, name).toBe(false);
      // '.' and '..' are already removed by the URL parser (an empty name, 400); everything else is 403.
      expect((d as { status: number }).status, name).toBe(name === '.' || name === '..' ? 400 : 403);
    }
    expect(plainFileNameProblem('x'.repeat(256))).toMatch(/too long/);
    expect(plainFileNameProblem('..hidden.png')).toBeNull();
  });

  it('refuses other schemes and hosts, empty names and bad encoding', () => {
    expect(decodeAppImageUrl('file:///etc/passwd')).toMatchObject({ ok: false, status: 400 });
    expect(decodeAppImageUrl('app-image://file/%2Fetc%2Fpasswd')).toMatchObject({ ok: false, status: 404 });
    expect(decodeAppImageUrl('app-image://cache/x.png')).toMatchObject({ ok: false, status: 404 });
    expect(decodeAppImageUrl('app-image://outputs/')).toMatchObject({ ok: false, status: 400 });
    expect(decodeAppImageUrl('app-image://outputs/%E0%A4%A')).toMatchObject({ ok: false, status: 400 });
    expect(decodeAppImageUrl('not a url')).toMatchObject({ ok: false, status: 400 });
  });
});

describe('resolveAppImageRequest on a real folder tree', () => {
  let root: string;
  let out: string;
  let out2: string;
  let refs: string;
  let secretDir: string;
  const rootsFor = (kind: AppImageKind) => (kind === 'outputs' ? [out, out2] : [refs]);

  beforeAll(() => {
    root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'umo-app-image-')));
    out = path.join(root, 'outputs');
    out2 = path.join(root, 'custom-out');
    refs = path.join(root, 'references');
    secretDir = path.join(root, 'secret');
    for (const d of [out, out2, refs, secretDir, path.join(out, 'sub')]) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(out, 'a.png'), 'png');
    fs.writeFileSync(path.join(out2, 'c.jpg'), 'jpg');
    fs.writeFileSync(path.join(out, 'sub', 'b.png'), 'png');
    fs.writeFileSync(path.join(refs, 'r.png'), 'png');
    fs.writeFileSync(path.join(out, 'notes.txt'), 'txt');
    fs.writeFileSync(path.join(secretDir, 'secret.png'), 'secret');
    fs.writeFileSync(path.join(secretDir, 'key.txt'), 'secret');
    fs.symlinkSync(path.join(secretDir, 'secret.png'), path.join(out, 'escape.png'));
    fs.symlinkSync(path.join(secretDir, 'key.txt'), path.join(out, 'key.png'));
    fs.symlinkSync(path.join(out, 'a.png'), path.join(out, 'alias.png'));
    fs.mkdirSync(path.join(out, 'dir.png'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('serves images from every folder of the kind', async () => {
    expect(await resolveAppImageRequest(appImageUrl('outputs', 'a.png'), rootsFor)).toEqual({ ok: true, kind: 'outputs', name: 'a.png', path: path.join(out, 'a.png') });
    expect(await resolveAppImageRequest(appImageUrl('outputs', 'c.jpg'), rootsFor)).toMatchObject({ ok: true, path: path.join(out2, 'c.jpg') });
    expect(await resolveAppImageRequest(appImageUrl('references', 'r.png'), rootsFor)).toMatchObject({ ok: true, path: path.join(refs, 'r.png') });
    expect(await resolveAppImageRequest(`${appImageUrl('outputs', 'a.png')}?v=2`, rootsFor)).toMatchObject({ ok: true });
    // A link to a file in the same folder is fine.
    expect(await resolveAppImageRequest(appImageUrl('outputs', 'alias.png'), rootsFor)).toMatchObject({ ok: true, path: path.join(out, 'a.png') });
  });

  it('keeps kinds apart: a reference name is not served as an output and vice versa', async () => {
    expect(await resolveAppImageRequest(appImageUrl('outputs', 'r.png'), rootsFor)).toMatchObject({ ok: false, status: 404 });
    expect(await resolveAppImageRequest(appImageUrl('references', 'a.png'), rootsFor)).toMatchObject({ ok: false, status: 404 });
  });

  it('refuses traversal in every spelling', async () => {
    const urls = [
      `app-image://outputs/..%2Fsecret%2Fsecret.png`,
      `app-image://outputs/%2e%2e%2Fsecret%2Fsecret.png`,
      `app-image://outputs/%2E%2E%5Csecret%5Csecret.png`,
      `app-image://outputs/sub%2Fb.png`,
      `app-image://outputs/${encodeURIComponent(path.join(secretDir, 'secret.png'))}`,
      `app-image://outputs/..%252Fsecret%252Fsecret.png`,
    ];
    for (const u of urls) {
      const d = await resolveAppImageRequest(u, rootsFor);
      expect(d.ok, u).toBe(false);
      expect([403, 404], u).toContain((d as { status: number }).status);
    }
    // Unencoded dot segments are removed by the URL parser; what is left is a path, not a name.
    expect(await resolveAppImageRequest('app-image://outputs/../../secret/secret.png', rootsFor)).toMatchObject({ ok: false, status: 403 });
  });

  it('refuses symlinks out of the folder, non-images and directories; 404 for missing files', async () => {
    expect(await resolveAppImageRequest(appImageUrl('outputs', 'escape.png'), rootsFor)).toMatchObject({ ok: false, status: 403 });
    expect(await resolveAppImageRequest(appImageUrl('outputs', 'key.png'), rootsFor)).toMatchObject({ ok: false, status: 403 });
    expect(await resolveAppImageRequest(appImageUrl('outputs', 'notes.txt'), rootsFor)).toMatchObject({ ok: false, status: 403 });
    expect(await resolveAppImageRequest(appImageUrl('outputs', 'missing.png'), rootsFor)).toMatchObject({ ok: false, status: 404 });
    // dir.png passes the check (it is inside); the protocol handler answers 404 for non-files.
    expect(await resolveAppImageRequest(appImageUrl('outputs', 'dir.png'), rootsFor)).toMatchObject({ ok: true });
  });

  it('serves nothing without folders, or with relative ones', async () => {
    expect(await resolveAppImageRequest(appImageUrl('outputs', 'a.png'), () => [])).toMatchObject({ ok: false, status: 404 });
    expect(await resolveAppImageRequest(appImageUrl('outputs', 'a.png'), () => ['outputs'])).toMatchObject({ ok: false, status: 404 });
  });
});

describe('resolveAppImageRequest with Windows paths', () => {
  // A fake NTFS: case-insensitive lookups, and a junction in the output folder that points to another drive.
  const files = new Map<string, string>([
    ['c:\\users\\me\\out', 'C:\\Users\\me\\out'],
    ['c:\\users\\me\\refs', 'C:\\Users\\me\\refs'],
    ['c:\\users\\me\\out\\a.png', 'C:\\Users\\me\\out\\a.png'],
    ['c:\\users\\me\\out\\junction.png', 'D:\\elsewhere\\x.png'],
    ['c:\\users\\me\\refs\\r.png', 'C:\\Users\\me\\refs\\r.png'],
  ]);
  const realpath = async (p: string) => {
    const hit = files.get(p.toLowerCase());
    if (!hit) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
    return hit;
  };
  const rootsFor = (kind: AppImageKind) => (kind === 'outputs' ? ['C:\\Users\\me\\out'] : ['c:/users/me/refs']);
  const check = (url: string) => resolveAppImageRequest(url, rootsFor, { flavor: 'win32', realpath });

  it('serves files inside the folders, whatever the case', async () => {
    expect(await check(appImageUrl('outputs', 'a.png'))).toEqual({ ok: true, kind: 'outputs', name: 'a.png', path: 'C:\\Users\\me\\out\\a.png' });
    expect(await check(appImageUrl('outputs', 'A.PNG'))).toMatchObject({ ok: true, path: 'C:\\Users\\me\\out\\a.png' });
    expect(await check(appImageUrl('references', 'r.png'))).toMatchObject({ ok: true, path: 'C:\\Users\\me\\refs\\r.png' });
  });

  it('refuses other drives, backslash traversal, UNC names and junctions out', async () => {
    expect(await check(appImageUrl('outputs', 'D:\\Users\\me\\out\\a.png'))).toMatchObject({ ok: false, status: 403 });
    expect(await check(appImageUrl('outputs', 'D:a.png'))).toMatchObject({ ok: false, status: 403 });
    expect(await check(appImageUrl('outputs', '..\\refs\\r.png'))).toMatchObject({ ok: false, status: 403 });
    expect(await check('app-image://outputs/%2e%2e%5Crefs%5Cr.png')).toMatchObject({ ok: false, status: 403 });
    expect(await check(appImageUrl('outputs', '\\\\server\\share\\a.png'))).toMatchObject({ ok: false, status: 403 });
    expect(await check(appImageUrl('outputs', 'a.png::$DATA'))).toMatchObject({ ok: false, status: 403 });
    expect(await check(appImageUrl('outputs', 'junction.png'))).toMatchObject({ ok: false, status: 403 });
    expect(await check(appImageUrl('outputs', 'missing.png'))).toMatchObject({ ok: false, status: 404 });
  });
});
