// Settings on electron-store: validation on read (invalid fields fall back to defaults with a
// warning; unreadable JSON is moved aside), patches persisted, listeners notified. Uses an in-memory
// mock store, and the real electron-store class (which loads in plain Node with an absolute cwd and
// ELECTRON_OVERRIDE_DIST_PATH set, so the `electron` package does not try to download a binary).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SETTINGS } from '../../../shared/settings.js';
import { UserInputError } from '../../../electron/services/service-errors.js';
import {
  ElectronStoreSettings, openSettingsStore, settingsFromStored, type KeyValueStore, type StoreConstructor,
} from '../../../electron/main/settings-store.js';

class MemoryStore implements KeyValueStore {
  writes = 0;
  private data: Record<string, unknown>;
  constructor(initial: Record<string, unknown>, readonly path = '/mem/settings.json') {
    this.data = structuredClone(initial);
  }
  get store(): Record<string, unknown> {
    return structuredClone(this.data);
  }
  set store(v: Record<string, unknown>) {
    this.writes++;
    this.data = structuredClone(v);
  }
}

describe('settingsFromStored', () => {
  it('accepts valid settings and fills defaults', () => {
    expect(settingsFromStored({ theme: 'dark' })).toEqual({ settings: { ...DEFAULT_SETTINGS, theme: 'dark' }, problems: [] });
  });

  it('resets only the invalid fields, naming them', () => {
    const r = settingsFromStored({ theme: 'purple', loraScale: 0.5, backbone: 'sdxl', modelsRoot: '/m' });
    expect(r.settings).toEqual({ ...DEFAULT_SETTINGS, loraScale: 0.5, modelsRoot: '/m' });
    expect(r.problems).toHaveLength(2);
    expect(r.problems[0]).toMatch(/^setting "theme" is invalid \(.+\); using the default$/);
    expect(r.problems[1]).toMatch(/^setting "backbone" is invalid/);
  });

  it('falls back to defaults for something that is not an object', () => {
    for (const raw of [null, 3, 'x', [1]]) {
      const r = settingsFromStored(raw);
      expect(r.settings).toEqual(DEFAULT_SETTINGS);
      expect(r.problems).toEqual(['the stored settings are not an object; using defaults']);
    }
  });
});

describe('ElectronStoreSettings over a mock store', () => {
  it('repairs an invalid store on open, with one warning per field, and writes the repaired object back', () => {
    const store = new MemoryStore({ ...DEFAULT_SETTINGS, loraScale: 9, theme: 'dark' });
    const warn = vi.fn();
    const s = new ElectronStoreSettings(store, warn);
    expect(s.get()).toEqual({ ...DEFAULT_SETTINGS, theme: 'dark' });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatch(/^\/mem\/settings\.json: setting "loraScale" is invalid/);
    expect(store.store).toEqual({ ...DEFAULT_SETTINGS, theme: 'dark' });
  });

  it('applies patches: persists, keeps other fields, notifies listeners, ignores no-op updates', () => {
    const store = new MemoryStore({});
    const s = new ElectronStoreSettings(store, vi.fn());
    const seen: unknown[] = [];
    const off = s.onChange((v) => seen.push(v));
    s.update({ theme: 'dark', modelsRoot: '/models' });
    s.update({ loraScale: 1.5 });
    expect(s.get()).toEqual({ ...DEFAULT_SETTINGS, theme: 'dark', modelsRoot: '/models', loraScale: 1.5 });
    expect(store.store).toEqual(s.get());
    expect(seen).toHaveLength(2);
    const writes = store.writes;
    s.update({ theme: 'dark' });
    expect(store.writes).toBe(writes);
    expect(seen).toHaveLength(2);
    off();
    s.update({ theme: 'light' });
    expect(seen).toHaveLength(2);
  });

  it('refuses an invalid patch with a UserInputError and changes nothing', () => {
    const store = new MemoryStore({ theme: 'dark' });
    const s = new ElectronStoreSettings(store, vi.fn());
    const before = store.store;
    expect(() => s.update({ loraScale: 7 })).toThrow(UserInputError);
    expect(() => s.update({ theme: 'blue' } as never)).toThrow(/theme/);
    expect(store.store).toEqual(before);
    expect(s.get().theme).toBe('dark');
  });
});

describe('with the real electron-store class', () => {
  let dir: string;
  let Store: StoreConstructor;
  const savedEnv = process.env.ELECTRON_OVERRIDE_DIST_PATH;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'umo-estore-'));
    process.env.ELECTRON_OVERRIDE_DIST_PATH = path.join(dir, 'no-electron');
    Store = (await import('electron-store')).default as unknown as StoreConstructor;
  });
  afterAll(() => {
    if (savedEnv === undefined) delete process.env.ELECTRON_OVERRIDE_DIST_PATH;
    else process.env.ELECTRON_OVERRIDE_DIST_PATH = savedEnv;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('persists to <userData>/settings.json and reads it back in a new instance', () => {
    const cwd = path.join(dir, 'a');
    const s = new ElectronStoreSettings(openSettingsStore(Store, { cwd }), vi.fn());
    expect(s.get()).toEqual(DEFAULT_SETTINGS);
    s.update({ backbone: 'omnigen2', recentLoras: [{ path: '/l/x.safetensors', label: 'x', backbone: 'omnigen2' }] });
    expect(s.filePath).toBe(path.join(cwd, 'settings.json'));
    const again = new ElectronStoreSettings(openSettingsStore(Store, { cwd }), vi.fn());
    expect(again.get().backbone).toBe('omnigen2');
    expect(again.get().recentLoras).toEqual([{ path: '/l/x.safetensors', label: 'x', backbone: 'omnigen2' }]);
    expect(JSON.parse(fs.readFileSync(path.join(cwd, 'settings.json'), 'utf8')).backbone).toBe('omnigen2');
  });

  it('a file that is not JSON is moved aside with a warning and defaults are used', () => {
    const cwd = path.join(dir, 'b');
    fs.mkdirSync(cwd, { recursive: true });
    fs.writeFileSync(path.join(cwd, 'settings.json'), '{ "theme": "dark", oops');
    const warn = vi.fn();
    const s = new ElectronStoreSettings(openSettingsStore(Store, { cwd }, warn), warn);
    expect(s.get()).toEqual(DEFAULT_SETTINGS);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatch(/settings\.json could not be read .*; moved it to .*settings\.json\.corrupt-\d+ and started from the default settings/);
    const aside = fs.readdirSync(cwd).filter((f) => f.startsWith('settings.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(fs.readFileSync(path.join(cwd, aside[0]), 'utf8')).toBe('{ "theme": "dark", oops');
    s.update({ theme: 'light' });
    expect(JSON.parse(fs.readFileSync(path.join(cwd, 'settings.json'), 'utf8')).theme).toBe('light');
  });

  it('a file with an invalid value keeps the valid fields and repairs the file', () => {
    const cwd = path.join(dir, 'c');
    fs.mkdirSync(cwd, { recursive: true });
    fs.writeFileSync(path.join(cwd, 'settings.json'), JSON.stringify({ theme: 'dark', devicePreference: 'tpu', loraScale: 0.25 }));
    const warn = vi.fn();
    const s = new ElectronStoreSettings(openSettingsStore(Store, { cwd }, warn), warn);
    expect(s.get()).toEqual({ ...DEFAULT_SETTINGS, theme: 'dark', loraScale: 0.25 });
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/setting "devicePreference" is invalid/));
    expect(JSON.parse(fs.readFileSync(path.join(cwd, 'settings.json'), 'utf8')).devicePreference).toBe('auto');
  });
});
