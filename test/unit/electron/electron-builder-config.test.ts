// The packaging config, validated offline with electron-builder's own schema (app-builder-lib's
// getConfig + validateConfiguration), and its key fields asserted.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const root = path.resolve(import.meta.dirname, '../../..');
const configPath = path.join(root, 'build', 'electron-builder.config.cjs');

interface BuilderConfigModule {
  getConfig(projectDir: string, configPath: string | null, configFromOptions: unknown): Promise<Record<string, unknown>>;
  validateConfiguration(config: unknown, debugLogger: unknown): Promise<void>;
}
const { getConfig, validateConfiguration } = require('app-builder-lib/out/util/config/config') as BuilderConfigModule;
const { DebugLogger } = require('builder-util') as { DebugLogger: new (enabled?: boolean) => unknown };

type Target = { target: string; arch?: string[] };

describe('electron-builder config', () => {
  it('passes electron-builder\'s schema validation', async () => {
    const config = await getConfig(root, configPath, null);
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
  });

  it('the validation is real: a misspelt fuse is rejected', async () => {
    const config = await getConfig(root, configPath, null);
    const bad = { ...config, electronFuses: { ...(config.electronFuses as object), runAsNod: false } };
    await expect(validateConfiguration(bad, new DebugLogger(false))).rejects.toThrow(/electronFuses/);
  });

  it('has the app identity, targets, native modules unpacked, files and fuses', async () => {
    const c = await getConfig(root, configPath, null) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(c.appId).toBe('io.github.umo-studio.app');
    expect(c.productName).toBe('UMO Studio');
    expect(c.npmRebuild).toBe(false);
    expect((c.win.target as Target[]).map((t) => t.target)).toEqual(['nsis']);
    expect((c.mac.target as Target[]).map((t) => t.target)).toEqual(['dmg']);
    expect((c.linux.target as Target[]).map((t) => t.target)).toEqual(['AppImage', 'deb']);
    expect(c.asar).toBe(true);
    expect(c.asarUnpack).toEqual(expect.arrayContaining(['**/node_modules/onnxruntime-node/**', '**/node_modules/sharp/**', '**/node_modules/@img/**']));
    // getConfig normalises `files` to file sets.
    const files = (c.files as Array<{ filter: string[] }>).flatMap((f) => f.filter);
    expect(files).toEqual(expect.arrayContaining(['dist/**/*', 'renderer/dist/**/*', 'package.json', 'node_modules/**/*']));
    expect(c.electronFuses).toEqual({
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      grantFileProtocolExtraPrivileges: false,
    });
    // Packages go to out/ (dist/ holds the compiled TypeScript).
    expect(c.directories.output).toBe('out/packages');
  });

  it('points at an icon that exists and is a large enough PNG', async () => {
    const c = await getConfig(root, configPath, null) as { icon: string };
    const icon = fs.readFileSync(path.join(root, c.icon));
    expect(icon.subarray(1, 4).toString('latin1')).toBe('PNG');
    const width = icon.readUInt32BE(16);
    const height = icon.readUInt32BE(20);
    expect([width, height]).toEqual([1024, 1024]);
  });

  it('package.json starts the compiled main process', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { main?: string; scripts: Record<string, string> };
    expect(pkg.main).toBe('dist/electron/main/main.js');
    expect(pkg.scripts['start:electron']).toBe('npm run --silent build && npm run --silent build:renderer && electron .');
    expect(pkg.scripts.start).toBe('node scripts/start.mjs');
  });
});
