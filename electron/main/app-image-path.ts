// The `app-image://` URL format and the check that decides which file a request may read.
// URLs name a folder kind and one plain file name — `app-image://outputs/<name>`,
// `app-image://references/<name>` (the services' desktop `fileUrl`, the same shape as web mode's
// `/files/<kind>/<name>`) — so no path ever travels in a URL. A request is served only when the name
// is a plain file name, the file is an image, and its real path (symlinks and junctions resolved) lies
// inside the real path of one of that kind's folders. Pure apart from the injectable `realpath`, so
// it is tested with POSIX and Windows path semantics.
import fs from 'node:fs';
import path from 'node:path';

export const APP_IMAGE_SCHEME = 'app-image';
export const APP_IMAGE_KINDS = ['outputs', 'references'] as const;
export type AppImageKind = (typeof APP_IMAGE_KINDS)[number];
export const APP_IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.png', '.jpg', '.jpeg', '.webp']);

export type PathFlavor = 'posix' | 'win32';

/** The URL the renderer uses for a stored file (same format as the services' desktop default). */
export function appImageUrl(kind: AppImageKind, name: string): string {
  return `${APP_IMAGE_SCHEME}://${kind}/${encodeURIComponent(name)}`;
}

export type AppImageDecision =
  | { ok: true; kind: AppImageKind; name: string; path: string }
  | { ok: false; status: 400 | 403 | 404; reason: string };

export type DecodedAppImageUrl =
  | { ok: true; kind: AppImageKind; name: string }
  | { ok: false; status: 400 | 403 | 404; reason: string };

export interface ImagePathCheckOptions {
  /** Path semantics; defaults to the running platform's. */
  flavor?: PathFlavor;
  /** Resolves symlinks (default fs.promises.realpath); rejects with ENOENT for missing files. */
  realpath?: (p: string) => Promise<string>;
}

function pathModule(flavor: PathFlavor): path.PlatformPath {
  return flavor === 'win32' ? path.win32 : path.posix;
}

export function defaultFlavor(): PathFlavor {
  return process.platform === 'win32' ? 'win32' : 'posix';
}

/** True when `child` lies strictly inside `parent` (both absolute); lexical, case-insensitive on win32. */
export function isInsideFolder(child: string, parent: string, flavor: PathFlavor = defaultFlavor()): boolean {
  const pm = pathModule(flavor);
  const rel = pm.relative(pm.resolve(parent), pm.resolve(child));
  if (rel === '' || pm.isAbsolute(rel)) return false;
  const first = rel.split(flavor === 'win32' ? /[\\/]/ : '/')[0];
  return first !== '..';
}

/**
 * Why `name` is not a plain file name (null when it is): no separators of either platform, no drive
 * or stream colon, no control characters, not a dot segment, not too long.
 */
export function plainFileNameProblem(name: string): string | null {
  if (name.length === 0) return 'no file name';
  if (name.length > 255) return 'the file name is too long';
  if (name === '.' || name === '..') return 'a dot segment is not a file name';
  if (/[/\\]/.test(name)) return 'a path is not a file name (separators are refused)';
  if (name.includes(':')) return 'drive letters and alternate data streams are refused';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'control characters are refused';
  return null;
}

/** The kind and file name an app-image URL names, or why it names none. */
export function decodeAppImageUrl(url: string): DecodedAppImageUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, status: 400, reason: `not a URL: ${url}` };
  }
  if (parsed.protocol !== `${APP_IMAGE_SCHEME}:`) return { ok: false, status: 400, reason: `wrong scheme ${parsed.protocol}` };
  const kind = parsed.hostname.toLowerCase() as AppImageKind;
  if (!APP_IMAGE_KINDS.includes(kind)) return { ok: false, status: 404, reason: `unknown folder "${parsed.hostname}"` };
  let name: string;
  try {
    name = decodeURIComponent(parsed.pathname.slice(1));
  } catch {
    return { ok: false, status: 400, reason: 'malformed percent-encoding' };
  }
  const problem = plainFileNameProblem(name);
  if (problem) return { ok: false, status: name.length === 0 ? 400 : 403, reason: `${JSON.stringify(name)}: ${problem}` };
  return { ok: true, kind, name };
}

/**
 * Decide whether an `app-image://` request may be served, and from which real file: the first folder
 * of the URL's kind holding the name wins; a name whose real path leaves its folder is refused (403),
 * a name found nowhere is 404.
 */
export async function resolveAppImageRequest(
  url: string,
  rootsFor: (kind: AppImageKind) => readonly string[],
  opts: ImagePathCheckOptions = {},
): Promise<AppImageDecision> {
  const flavor = opts.flavor ?? defaultFlavor();
  const realpath = opts.realpath ?? ((p: string) => fs.promises.realpath(p));
  const pm = pathModule(flavor);
  const decoded = decodeAppImageUrl(url);
  if (!decoded.ok) return decoded;
  const { kind, name } = decoded;
  if (!APP_IMAGE_EXTENSIONS.has(pm.extname(name).toLowerCase())) {
    return { ok: false, status: 403, reason: `${name} is not an image file (${[...APP_IMAGE_EXTENSIONS].join(', ')})` };
  }
  let refused: string | null = null;
  for (const root of rootsFor(kind)) {
    if (!root || !pm.isAbsolute(root)) continue;
    const folder = pm.resolve(root);
    const candidate = pm.join(folder, name);
    if (!isInsideFolder(candidate, folder, flavor)) {
      refused = `${name} is outside ${folder}`;
      continue;
    }
    let real: string;
    let realFolder: string;
    try {
      realFolder = await realpath(folder);
      real = await realpath(candidate);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      refused = `${candidate} cannot be resolved (${code ?? (e as Error).message})`;
      continue;
    }
    if (!isInsideFolder(real, realFolder, flavor)) {
      refused = `${candidate} resolves to ${real}, outside ${realFolder}`;
      continue;
    }
    if (!APP_IMAGE_EXTENSIONS.has(pm.extname(real).toLowerCase())) {
      refused = `${candidate} resolves to ${real}, which is not an image file`;
      continue;
    }
    return { ok: true, kind, name, path: real };
  }
  return refused
    ? { ok: false, status: 403, reason: refused }
    : { ok: false, status: 404, reason: `no ${kind} file "${name}"` };
}
