// User settings behind a small interface (`SettingsStore`): a JSON file in web mode (this module),
// electron-store with the same zod schema in the desktop app. Writes are atomic (temp file + rename);
// a corrupt or invalid file is backed up next to itself and replaced by defaults (only the invalid
// fields are reset when the rest is readable), with a warning saying so.
import fs from 'node:fs';
import path from 'node:path';
import {
  DEFAULT_SETTINGS, SettingsPatchSchema, SettingsSchema, type Settings, type SettingsPatch,
} from '../../shared/settings.js';
import { UserInputError } from './service-errors.js';

export type SettingsListener = (settings: Settings) => void;

export interface SettingsStore {
  get(): Settings;
  /** Validate and apply a partial update; returns the new settings. Throws `UserInputError` on invalid values. */
  update(patch: SettingsPatch): Settings;
  /** Called after every change that altered something; returns an unsubscribe function. */
  onChange(listener: SettingsListener): () => void;
}

/** Validate a patch from outside (IPC/HTTP); the error lists every problem as "field: message". */
export function parseSettingsPatch(input: unknown): SettingsPatch {
  const r = SettingsPatchSchema.safeParse(input);
  if (r.success) {
    // zod applies each field's default inside `.partial()`, so the parsed patch holds every field:
    // keep only the fields the caller actually sent, or a patch would reset all the others.
    const sent = input as Record<string, unknown>;
    return Object.fromEntries(Object.entries(r.data).filter(([k]) => Object.prototype.hasOwnProperty.call(sent, k) && sent[k] !== undefined)) as SettingsPatch;
  }
  const problems = r.error.issues.map((i) => `${i.path.join('.') || 'settings'}: ${i.message}`);
  throw new UserInputError(`invalid settings:\n  ${problems.join('\n  ')}`, problems);
}

/** Merge a patch into settings and validate the result as a whole. */
export function applySettingsPatch(current: Settings, patch: SettingsPatch): Settings {
  const r = SettingsSchema.safeParse({ ...current, ...parseSettingsPatch(patch) });
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.join('.') || 'settings'}: ${i.message}`);
  throw new UserInputError(`invalid settings:\n  ${problems.join('\n  ')}`, problems);
}

/** Write a small text file crash-safely: temp file in the same folder, fsync, rename over the target. */
export function writeTextAtomicSync(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now().toString(36)}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

export function writeJsonAtomicSync(file: string, value: unknown): void {
  writeTextAtomicSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

export interface LoadedSettings {
  settings: Settings;
  warnings: string[];
}

/** Read a settings file; never throws for a bad file (backs it up and falls back), only for I/O trouble writing the backup. */
export function loadSettingsFile(file: string): LoadedSettings {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { settings: DEFAULT_SETTINGS, warnings: [] };
    throw e;
  }
  const backup = () => {
    const b = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    fs.copyFileSync(file, b);
    return b;
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const b = backup();
    return { settings: DEFAULT_SETTINGS, warnings: [`${file} is not valid JSON (${(e as Error).message}); using default settings. The old file was kept as ${b}`] };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    const b = backup();
    return { settings: DEFAULT_SETTINGS, warnings: [`${file} does not hold a settings object; using default settings. The old file was kept as ${b}`] };
  }
  const full = SettingsSchema.safeParse(raw);
  if (full.success) return { settings: full.data, warnings: [] };
  // Keep what is valid: drop each top-level field with a problem and parse again.
  const bad = [...new Set(full.error.issues.map((i) => String(i.path[0] ?? '')))].filter(Boolean);
  const kept = Object.fromEntries(Object.entries(raw as Record<string, unknown>).filter(([k]) => !bad.includes(k)));
  const partial = SettingsSchema.safeParse(kept);
  const b = backup();
  if (!partial.success) {
    return { settings: DEFAULT_SETTINGS, warnings: [`${file} is invalid; using default settings. The old file was kept as ${b}`] };
  }
  const details = full.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  return {
    settings: partial.data,
    warnings: [`${file}: reset invalid setting${bad.length === 1 ? '' : 's'} ${bad.join(', ')} to the default (${details}). The old file was kept as ${b}`],
  };
}

/**
 * The shared behaviour of every settings store: validated patches, change detection, listeners.
 * Subclasses only say how a new value is persisted.
 */
export abstract class SettingsStoreBase implements SettingsStore {
  private readonly listeners = new Set<SettingsListener>();

  protected constructor(protected current: Settings) {}

  /** Write `next` to the backing store (called before listeners hear of it). */
  protected abstract persist(next: Settings): void;

  get(): Settings {
    return this.current;
  }

  /** Validate and apply a patch (UserInputError on invalid values), persist it, notify listeners. */
  update(patch: SettingsPatch): Settings {
    const next = applySettingsPatch(this.current, patch);
    if (JSON.stringify(next) === JSON.stringify(this.current)) return this.current;
    this.persist(next);
    this.current = next;
    for (const l of this.listeners) l(next);
    return next;
  }

  onChange(listener: SettingsListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** Settings in a JSON file (web mode, tests, CLI). */
export class JsonSettingsService extends SettingsStoreBase {
  /** Problems found when the file was loaded (shown to the user once). */
  readonly warnings: readonly string[];

  constructor(readonly file: string) {
    const loaded = loadSettingsFile(file);
    super(loaded.settings);
    this.warnings = loaded.warnings;
    // Rewrite a repaired file so the warning is not repeated at every start.
    if (loaded.warnings.length) writeJsonAtomicSync(file, this.current);
  }

  protected persist(next: Settings): void {
    writeJsonAtomicSync(this.file, next);
  }
}

/** Settings held in memory only (tests). */
export class MemorySettingsService extends SettingsStoreBase {
  constructor(initial: SettingsPatch = {}) {
    super(applySettingsPatch(DEFAULT_SETTINGS, initial));
  }

  protected persist(): void {
    /* nothing to write */
  }
}
