// Which stored files a host may hand out (web mode's `/files/<kind>/<name>`, the desktop app's
// `app-image://<kind>/<name>`): a single plain file name, looked up in the allowed folders, and
// accepted only when its real path (symlinks resolved) is a regular file inside that folder's real
// path. Everything else — `..`, separators, absolute paths, links pointing out — is refused.
import fs from 'node:fs';
import path from 'node:path';
import { isInside } from './app-paths.js';

export type FileLookup =
  | { ok: true; file: string; size: number }
  | { ok: false; status: 400 | 403 | 404; reason: string };

/** A single file name without separators, control characters or dot-segments. */
export function isPlainFileName(name: string): boolean {
  // eslint-disable-next-line no-control-regex
  return name.length > 0 && name.length <= 255 && !/[/\\\u0000-\u001f:]/.test(name) && name !== '.' && name !== '..';
}

export function resolveStoredFile(roots: readonly string[], name: string): FileLookup {
  if (!isPlainFileName(name)) return { ok: false, status: 400, reason: `"${name}" is not a plain file name` };
  let refusedOutside = false;
  for (const root of roots) {
    let realRoot: string;
    try {
      realRoot = fs.realpathSync(root);
    } catch {
      continue;
    }
    const candidate = path.join(root, name);
    let real: string;
    try {
      real = fs.realpathSync(candidate);
    } catch {
      continue;
    }
    if (!isInside(realRoot, real) || real === realRoot) {
      refusedOutside = true;
      continue;
    }
    let st: fs.Stats;
    try {
      st = fs.statSync(real);
    } catch {
      continue;
    }
    if (!st.isFile()) continue;
    return { ok: true, file: real, size: st.size };
  }
  return refusedOutside
    ? { ok: false, status: 403, reason: `"${name}" points outside the allowed folders` }
    : { ok: false, status: 404, reason: `no file "${name}"` };
}
