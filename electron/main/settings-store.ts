// Settings persisted with electron-store (a `conf` store), validated with the shared zod schema on
// every read: a field that fails validation falls back to its default with a warning, and a store file
// that is not even JSON is set aside (renamed) and replaced by defaults.
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_SETTINGS, SettingsSchema, type Settings } from '../../shared/settings.js';
import { SettingsStoreBase } from '../services/settings-service.js';

/** The part of electron-store / conf the adapter uses (a hand-written object in tests). */
export interface KeyValueStore {
  /** The whole stored object; assigning replaces it (and writes the file). */
  store: Record<string, unknown>;
  readonly path: string;
}

export type Warn = (message: string) => void;

/**
 * Validate a stored object. Valid fields are kept, invalid or unknown ones are replaced by defaults and
 * reported: `{ settings, problems }`.
 */
export function settingsFromStored(raw: unknown): { settings: Settings; problems: string[] } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { settings: structuredClone(DEFAULT_SETTINGS), problems: ['the stored settings are not an object; using defaults'] };
  }
  const whole = SettingsSchema.safeParse(raw);
  if (whole.success) return { settings: whole.data, problems: [] };
  const problems: string[] = [];
  const kept: Record<string, unknown> = {};
  const shape = SettingsSchema.shape as Record<string, { safeParse(v: unknown): { success: boolean; error?: { issues: { message: string }[] } } }>;
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const field = shape[key];
    if (!field) continue; // unknown keys (older/newer versions) are dropped silently by the schema anyway
    const r = field.safeParse(value);
    if (r.success) kept[key] = value;
    else problems.push(`setting "${key}" is invalid (${r.error?.issues[0]?.message ?? 'does not match the schema'}); using the default`);
  }
  const repaired = SettingsSchema.safeParse(kept);
  if (repaired.success) return { settings: repaired.data, problems };
  // Cross-field problems (none today) or something unexpected: start over from the defaults.
  return { settings: structuredClone(DEFAULT_SETTINGS), problems: [...problems, 'the stored settings are inconsistent; using defaults'] };
}

/**
 * The desktop app's SettingsStore: electron-store underneath, the shared schema on every read and write.
 * Reads repair invalid fields (warning once, then the repaired object is written back).
 */
export class ElectronStoreSettings extends SettingsStoreBase {
  constructor(private readonly store: KeyValueStore, private readonly warn: Warn = (m) => console.warn(`[settings] ${m}`)) {
    super(readStore(store, warn));
  }

  get filePath(): string {
    return this.store.path;
  }

  protected persist(next: Settings): void {
    this.store.store = next as unknown as Record<string, unknown>;
  }
}

/** Read and repair the stored settings (invalid fields reset with a warning, then written back). */
function readStore(store: KeyValueStore, warn: Warn): Settings {
  const { settings, problems } = settingsFromStored(store.store);
  if (problems.length > 0) {
    for (const p of problems) warn(`${store.path}: ${p}`);
    store.store = settings as unknown as Record<string, unknown>;
  }
  return settings;
}

export interface StoreConstructorOptions {
  name: string;
  cwd: string;
  defaults: Record<string, unknown>;
  clearInvalidConfig: boolean;
}

export type StoreConstructor = new (opts: StoreConstructorOptions) => KeyValueStore;

/**
 * Open the electron-store file `<cwd>/<name>.json`. When the file is not readable JSON the store's
 * constructor throws: the file is renamed to `<name>.json.corrupt-<time>` (kept for the user) and a
 * fresh store with defaults is opened.
 */
export function openSettingsStore(Store: StoreConstructor, opts: { cwd: string; name?: string }, warn: Warn = (m) => console.warn(`[settings] ${m}`)): KeyValueStore {
  const name = opts.name ?? 'settings';
  const options: StoreConstructorOptions = { name, cwd: opts.cwd, defaults: structuredClone(DEFAULT_SETTINGS) as unknown as Record<string, unknown>, clearInvalidConfig: false };
  try {
    return new Store(options);
  } catch (e) {
    const file = path.join(opts.cwd, `${name}.json`);
    const aside = `${file}.corrupt-${Date.now()}`;
    try {
      fs.renameSync(file, aside);
      warn(`${file} could not be read (${(e as Error).message}); moved it to ${aside} and started from the default settings`);
    } catch (renameError) {
      throw new Error(`${file} could not be read (${(e as Error).message}) nor moved aside (${(renameError as Error).message})`, { cause: e });
    }
    return new Store(options);
  }
}
