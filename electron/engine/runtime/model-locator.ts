// Finds each component of a backbone manifest on disk: a per-component override, a models root in
// Hugging Face repo layout (`<root>/<org>/<name>/...`), or the Hugging Face cache
// (`models--org--name/snapshots/<rev>/...`, symlinks into `blobs/`), and says exactly what is
// missing or wrong, where it looked, and where to get it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BackboneManifest, ManifestComponent } from '../../../shared/model-manifests.js';
import { Checkpoint } from './safetensors.js';

export type ComponentSource = 'override' | 'models-root' | 'hf-cache';

export interface LocateOptions {
  modelsRoot?: string | null;
  /** Hugging Face hub cache folder; default from HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub. `null` disables. */
  hfCache?: string | null;
  /** Component id -> file or folder chosen by the user. */
  overrides?: Readonly<Record<string, string | undefined>>;
}

export interface LocatedComponent {
  readonly component: ManifestComponent;
  readonly status: 'found' | 'missing' | 'invalid';
  /** Path as found (may be a symlink in the HF cache). */
  readonly path?: string;
  readonly source?: ComponentSource;
  /** Bytes on disk (sum over a folder's model files). */
  readonly bytes?: number;
  /** What is wrong with a present but unusable file. */
  readonly problem?: string;
  /** Every place looked at, in order. */
  readonly searched: readonly string[];
}

export function defaultHfCache(): string {
  if (process.env.HF_HUB_CACHE) return process.env.HF_HUB_CACHE;
  if (process.env.HF_HOME) return path.join(process.env.HF_HOME, 'hub');
  return path.join(os.homedir(), '.cache', 'huggingface', 'hub');
}

function findCaseInsensitive(dir: string, name: string): string | null {
  const exact = path.join(dir, name);
  if (fs.existsSync(exact)) return exact;
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return null;
  }
  const hit = entries.find((e) => e.toLowerCase() === name.toLowerCase());
  return hit ? path.join(dir, hit) : null;
}

function candidateInRoot(root: string, c: ManifestComponent): { candidate: string | null; searched: string } {
  const [org, name] = c.repo.split('/');
  const where = path.join(root, org, name, c.path);
  const orgDir = findCaseInsensitive(root, org);
  const repoDir = orgDir ? findCaseInsensitive(orgDir, name) : null;
  if (!repoDir) return { candidate: null, searched: where };
  const p = c.path ? path.join(repoDir, c.path) : repoDir;
  return { candidate: fs.existsSync(p) ? p : null, searched: where };
}

function candidateInHfCache(cache: string, c: ManifestComponent): { candidate: string | null; searched: string } {
  const [org, name] = c.repo.split('/');
  const repoDirName = `models--${org}--${name}`;
  const where = path.join(cache, repoDirName, 'snapshots', '<revision>', c.path);
  const repoDir = findCaseInsensitive(cache, repoDirName);
  if (!repoDir) return { candidate: null, searched: where };
  const snaps = path.join(repoDir, 'snapshots');
  let revs: string[] = [];
  try {
    revs = fs.readdirSync(snaps);
  } catch {
    return { candidate: null, searched: where };
  }
  // Prefer the revision refs/main points at, then the most recently modified snapshot.
  let main: string | null = null;
  try {
    main = fs.readFileSync(path.join(repoDir, 'refs', 'main'), 'utf8').trim();
  } catch { /* no refs/main */ }
  const ordered = revs
    .map((r) => ({ r, t: fs.statSync(path.join(snaps, r)).mtimeMs }))
    .sort((a, b) => (a.r === main ? -1 : b.r === main ? 1 : b.t - a.t))
    .map((x) => x.r);
  for (const r of ordered) {
    const p = c.path ? path.join(snaps, r, c.path) : path.join(snaps, r);
    if (fs.existsSync(p)) return { candidate: p, searched: where };
  }
  return { candidate: null, searched: where };
}

function folderBytes(dir: string): number {
  let n = 0;
  for (const f of fs.readdirSync(dir)) {
    const p = path.join(dir, f);
    try {
      const st = fs.statSync(p);
      if (st.isFile()) n += st.size;
    } catch { /* dangling link: counted as missing elsewhere */ }
  }
  return n;
}

/** Check that a present file/folder is usable for its component; returns a problem or null. */
export function validateComponent(c: ManifestComponent, p: string): { problem: string | null; bytes: number } {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    return { problem: `cannot read ${p} (${(e as NodeJS.ErrnoException).code ?? String(e)}); a broken link in the Hugging Face cache?`, bytes: 0 };
  }
  if (c.kind === 'file' && !st.isFile()) return { problem: `${p} is not a file`, bytes: 0 };
  if (c.kind === 'folder' && !st.isDirectory()) return { problem: `${p} is not a folder`, bytes: 0 };
  const bytes = c.kind === 'file' ? st.size : folderBytes(p);
  if (c.kind === 'folder') {
    for (const group of c.requiredFiles ?? []) {
      if (!group.some((f) => fs.existsSync(path.join(p, f)))) {
        return { problem: `${p} has no ${group.join(' or ')}`, bytes };
      }
    }
  }
  if (c.holdsWeights === false) return { problem: null, bytes };
  try {
    const ck = Checkpoint.open(p);
    if (c.probeKey && !ck.has(c.probeKey)) {
      return { problem: `${p} does not look like the ${c.label}: it has no tensor "${c.probeKey}"`, bytes };
    }
    for (const check of c.shapeChecks ?? []) {
      if (!ck.has(check.key)) continue;
      const shape = ck.shape(check.key);
      if (shape.length !== check.rank) {
        return {
          problem: `${p} has the wrong shapes for the ${c.label}: tensor "${check.key}" is [${shape.join(', ')}], expected ${check.rank} dimension${check.rank === 1 ? '' : 's'} (a damaged or wrongly converted file?)`,
          bytes,
        };
      }
    }
  } catch (e) {
    return { problem: (e as Error).message, bytes };
  }
  return { problem: null, bytes };
}

export function locateComponent(c: ManifestComponent, opts: LocateOptions): LocatedComponent {
  const searched: string[] = [];
  const tryPath = (p: string | null, source: ComponentSource): LocatedComponent | null => {
    if (!p) return null;
    const { problem, bytes } = validateComponent(c, p);
    return problem
      ? { component: c, status: 'invalid', path: p, source, bytes, problem, searched }
      : { component: c, status: 'found', path: p, source, bytes, searched };
  };
  const override = opts.overrides?.[c.id];
  if (override) {
    searched.push(override);
    if (!fs.existsSync(override)) {
      return { component: c, status: 'missing', searched, source: 'override', problem: `the chosen ${c.kind} ${override} does not exist` };
    }
    return tryPath(override, 'override')!;
  }
  if (opts.modelsRoot) {
    const r = candidateInRoot(opts.modelsRoot, c);
    searched.push(r.searched);
    const hit = tryPath(r.candidate, 'models-root');
    if (hit) return hit;
  }
  const cache = opts.hfCache === undefined ? defaultHfCache() : opts.hfCache;
  if (cache) {
    const r = candidateInHfCache(cache, c);
    searched.push(r.searched);
    const hit = tryPath(r.candidate, 'hf-cache');
    if (hit) return hit;
  }
  return { component: c, status: 'missing', searched };
}

export function locateBackbone(m: BackboneManifest, opts: LocateOptions): LocatedComponent[] {
  return m.components.map((c) => locateComponent(c, opts));
}

export class ModelFilesError extends Error {
  constructor(readonly located: readonly LocatedComponent[], message: string) {
    super(message);
    this.name = 'ModelFilesError';
  }
}

/** One paragraph per unusable component: what, where it looked, where to get it. */
export function describeProblems(located: readonly LocatedComponent[]): string {
  return located
    .filter((l) => l.status !== 'found')
    .map((l) => {
      const c = l.component;
      const what = `${c.label} (${c.repo}${c.path ? `/${c.path}` : ''})`;
      const head = l.status === 'missing' ? `missing: ${what}` : `unusable: ${what} — ${l.problem}`;
      const looked = l.searched.length ? `\n  looked in: ${l.searched.join('\n             ')}` : '';
      return `${head}${l.status === 'missing' && l.problem ? ` — ${l.problem}` : ''}${looked}\n  get it from: ${c.downloadUrl}${c.note ? ` (${c.note})` : ''}`;
    })
    .join('\n');
}

/** Paths of the required components (and of the optional ones that are usable); throws a full report otherwise. */
export function requireBackbone(m: BackboneManifest, opts: LocateOptions): Record<string, string> {
  const located = locateBackbone(m, opts);
  const blocking = located.filter((l) => l.status !== 'found' && !l.component.optional);
  if (blocking.length) {
    throw new ModelFilesError(located, `${m.label}: model files are missing or unusable\n${describeProblems(blocking)}`);
  }
  const out: Record<string, string> = {};
  for (const l of located) if (l.status === 'found' && l.path) out[l.component.id] = l.path;
  return out;
}
