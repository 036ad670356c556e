// What a backbone's model files look like right now: each manifest component found, missing or
// unusable (from `locateBackbone`, re-scanned on every call so files the user just downloaded count
// without a restart), the bytes still to download, free disk space, and whether the demo kit is there.
import fs from 'node:fs';
import path from 'node:path';
import { MANIFESTS, type BackboneId } from '../../shared/model-manifests.js';
import type { Settings } from '../../shared/settings.js';
import type { ComponentStatus, ModelStatus } from '../../shared/umo-api.js';
import { defaultHfCache, locateBackbone } from '../engine/runtime/model-locator.js';

/** Marker file the tiny demo kit writes at its root (same name as the kit writer's TINY_KIT_MARKER). */
export const DEMO_KIT_MARKER = 'umo-tiny-kit.json';

export interface ModelStatusOptions {
  getSettings(): Settings;
  demoModelsDir: string;
  /** Folder whose disk is measured when no models root is set. */
  dataDir: string;
  /** Hugging Face cache override (`null` disables it, undefined = the default location). */
  hfCache?: string | null;
}

/** Settings' `<backbone>.<component>` overrides as the locator's per-component map. */
export function overridesFor(settings: Settings, backbone: BackboneId): Record<string, string> {
  const out: Record<string, string> = {};
  const prefix = `${backbone}.`;
  for (const [k, v] of Object.entries(settings.modelOverrides)) if (k.startsWith(prefix) && v) out[k.slice(prefix.length)] = v;
  return out;
}

export function freeDiskBytes(p: string): number | null {
  // Measure the nearest existing ancestor (the models root may not exist yet).
  let dir = path.resolve(p);
  for (;;) {
    try {
      const st = fs.statfsSync(dir);
      return Number(st.bavail) * Number(st.bsize);
    } catch {
      const up = path.dirname(dir);
      if (up === dir) return null;
      dir = up;
    }
  }
}

/** What is wrong with a models folder setting, or null when it is a readable folder. */
export function modelsRootProblem(p: string): string | null {
  if (!path.isAbsolute(p)) return `"${p}" is not an absolute path: give the full path of the folder`;
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `the folder ${p} does not exist` : `cannot read ${p} (${code ?? String(e)})`;
  }
  if (!st.isDirectory()) return `${p} is a file, not a folder`;
  try {
    fs.readdirSync(p);
  } catch (e) {
    return `cannot list ${p} (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
  }
  return null;
}

export class ModelStatusService {
  constructor(private readonly opts: ModelStatusOptions) {}

  /** The Hugging Face cache folder the locator searches (null when disabled). */
  hfCachePath(): string | null {
    return this.opts.hfCache === undefined ? defaultHfCache() : this.opts.hfCache;
  }

  demoAvailable(): boolean {
    return fs.existsSync(path.join(this.opts.demoModelsDir, DEMO_KIT_MARKER));
  }

  getModelStatus(backbone: BackboneId): ModelStatus {
    const settings = this.opts.getSettings();
    const manifest = MANIFESTS[backbone];
    const freeDisk = freeDiskBytes(settings.modelsRoot ?? this.opts.dataDir);
    const cache = this.hfCachePath();
    const where = {
      modelsRoot: settings.modelsRoot ? { path: settings.modelsRoot, problem: modelsRootProblem(settings.modelsRoot) } : null,
      hfCache: cache ? { path: cache, exists: fs.existsSync(cache) } : null,
    };
    if (!manifest) {
      return { backbone, ready: false, components: [], missingBytes: 0, freeDiskBytes: freeDisk, demoAvailable: false, ...where };
    }
    const located = locateBackbone(manifest, {
      modelsRoot: settings.modelsRoot,
      hfCache: this.opts.hfCache,
      overrides: overridesFor(settings, backbone),
    });
    const components: ComponentStatus[] = located.map((l) => ({
      id: l.component.id,
      label: l.component.label,
      repo: l.component.repo,
      file: l.component.path,
      optional: l.component.optional === true,
      approxBytes: l.component.approxBytes,
      status: l.status,
      ...(l.path !== undefined ? { path: l.path } : {}),
      ...(l.source !== undefined ? { source: l.source } : {}),
      ...(l.bytes !== undefined ? { bytes: l.bytes } : {}),
      ...(l.problem !== undefined ? { problem: l.problem } : {}),
      searched: [...l.searched],
      downloadUrl: l.component.downloadUrl,
    }));
    const blocking = components.filter((c) => !c.optional && c.status !== 'found');
    const missingBytes = blocking.reduce((n, c) => n + c.approxBytes, 0);
    return {
      backbone,
      ready: blocking.length === 0,
      components,
      missingBytes,
      freeDiskBytes: freeDisk,
      demoAvailable: backbone === 'uno' && this.demoAvailable(),
      ...where,
    };
  }
}
