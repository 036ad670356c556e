import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { JsonSettingsService, MemorySettingsService, parseSettingsPatch } from '../../../electron/services/settings-service.js';
import { UserInputError } from '../../../electron/services/service-errors.js';
import { DEFAULT_SETTINGS, type Settings } from '../../../shared/settings.js';
import { tempDir } from './service-fixtures.js';

describe('JsonSettingsService', () => {
  test('starts from defaults, persists updates atomically, and a new instance reads them back', () => {
    const dir = tempDir();
    const file = path.join(dir, 'settings.json');
    const s = new JsonSettingsService(file);
    expect(s.get()).toEqual(DEFAULT_SETTINGS);
    expect(fs.existsSync(file)).toBe(false);
    const seen: Settings[] = [];
    s.onChange((v) => seen.push(v));
    s.update({ theme: 'dark', loraScale: 0.5 });
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).theme).toBe('dark');
    expect(fs.readdirSync(dir)).toEqual(['settings.json']); // no temp files left behind
    const again = new JsonSettingsService(file);
    expect(again.get().theme).toBe('dark');
    expect(again.get().loraScale).toBe(0.5);
    expect(again.warnings).toEqual([]);
    expect(seen.map((v) => v.theme)).toEqual(['dark']);
  });

  test('a partial update keeps every other field (the zod partial schema fills defaults; the service must not apply them)', () => {
    const s = new JsonSettingsService(path.join(tempDir(), 'settings.json'));
    s.update({ theme: 'dark', modelsRoot: '/models', devicePreference: 'cpu' });
    s.update({ loraScale: 1.5 });
    expect(s.get()).toMatchObject({ theme: 'dark', modelsRoot: '/models', devicePreference: 'cpu', loraScale: 1.5 });
    expect(parseSettingsPatch({ theme: 'light' })).toEqual({ theme: 'light' });
  });

  test('no change event when nothing changed', () => {
    const s = new JsonSettingsService(path.join(tempDir(), 'settings.json'));
    let n = 0;
    s.onChange(() => n++);
    s.update({ theme: 'system' });
    expect(n).toBe(0);
  });

  test('invalid values are refused with the field named, and nothing is written', () => {
    const file = path.join(tempDir(), 'settings.json');
    const s = new JsonSettingsService(file);
    expect(() => s.update({ loraScale: 7 })).toThrow(UserInputError);
    expect(() => s.update({ loraScale: 7 })).toThrow(/loraScale/);
    expect(() => s.update({ theme: 'purple' } as never)).toThrow(/theme/);
    expect(fs.existsSync(file)).toBe(false);
  });

  test('a corrupt file is backed up, defaults are used, and a warning names the backup', () => {
    const dir = tempDir();
    const file = path.join(dir, 'settings.json');
    fs.writeFileSync(file, '{"theme": "dark", ');
    const s = new JsonSettingsService(file);
    expect(s.get()).toEqual(DEFAULT_SETTINGS);
    expect(s.warnings).toHaveLength(1);
    expect(s.warnings[0]).toMatch(/not valid JSON.*default settings.*kept as .*settings\.json\.corrupt-/);
    const backups = fs.readdirSync(dir).filter((f) => f.includes('.corrupt-'));
    expect(backups).toHaveLength(1);
    expect(fs.readFileSync(path.join(dir, backups[0]), 'utf8')).toBe('{"theme": "dark", ');
    // The repaired file is valid now: no warning the next time.
    expect(new JsonSettingsService(file).warnings).toEqual([]);
  });

  test('a file with one invalid field keeps the valid ones and resets only that field', () => {
    const dir = tempDir();
    const file = path.join(dir, 'settings.json');
    fs.writeFileSync(file, JSON.stringify({ theme: 'dark', loraScale: 99, modelsRoot: '/m' }));
    const s = new JsonSettingsService(file);
    expect(s.get().theme).toBe('dark');
    expect(s.get().modelsRoot).toBe('/m');
    expect(s.get().loraScale).toBe(DEFAULT_SETTINGS.loraScale);
    expect(s.warnings[0]).toMatch(/reset invalid setting loraScale/);
  });

  test('MemorySettingsService has the same contract', () => {
    const m = new MemorySettingsService({ theme: 'light' });
    let last: Settings | null = null;
    const off = m.onChange((v) => { last = v; });
    m.update({ backbone: 'omnigen2' });
    expect(last!.backbone).toBe('omnigen2');
    expect(m.get().theme).toBe('light');
    off();
    m.update({ backbone: 'uno' });
    expect(last!.backbone).toBe('omnigen2');
  });
});
