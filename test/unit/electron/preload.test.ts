// The preload runs the way Electron runs a sandboxed preload: as a CommonJS script whose `require`
// knows only `electron` (anything else throws here). It must expose window.umo with one invoke per
// channel plus the event subscription, and window.umoFiles.pathForFile.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it, vi } from 'vitest';
import { API_CHANNELS } from '../../../shared/umo-api.js';

const preloadFile = path.resolve(import.meta.dirname, '../../../electron/preload/preload.ts');

function runPreload() {
  const source = fs.readFileSync(preloadFile, 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
    fileName: 'preload.ts',
  });
  const exposed = new Map<string, Record<string, unknown>>();
  const ipcRenderer = Object.assign(new EventEmitter(), { invoke: vi.fn(async (..._a: unknown[]) => 'ok') });
  const webUtils = { getPathForFile: vi.fn((f: { fake: string }) => `/dropped/${f.fake}`) };
  const electron = {
    contextBridge: { exposeInMainWorld: (key: string, api: Record<string, unknown>) => exposed.set(key, api) },
    ipcRenderer,
    webUtils,
  };
  const required: string[] = [];
  const sandboxRequire = (id: string) => {
    required.push(id);
    if (id === 'electron') return electron;
    throw new Error(`module not found: ${id} (sandboxed preloads can only require electron)`);
  };
  const module = { exports: {} };
  new Function('require', 'process', 'module', 'exports', outputText)(sandboxRequire, { type: 'renderer' }, module, module.exports);
  return { exposed, ipcRenderer, webUtils, required, outputText };
}

describe('preload', () => {
  it('compiles to CommonJS (its folder is "type": "commonjs") and requires nothing but electron', () => {
    expect(JSON.parse(fs.readFileSync(path.join(path.dirname(preloadFile), 'package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
    const { required, outputText } = runPreload();
    expect(required).toEqual(['electron']);
    expect(outputText).not.toMatch(/^\s*import\s/m);
  });

  it('exposes every API channel as an ipcRenderer.invoke of umo:<channel>', async () => {
    const { exposed, ipcRenderer } = runPreload();
    const umo = exposed.get('umo')!;
    expect(Object.keys(umo).sort()).toEqual([...API_CHANNELS, 'onEvent'].sort());
    for (const c of API_CHANNELS) {
      await (umo[c] as (...a: unknown[]) => Promise<unknown>)('a', 2);
      expect(ipcRenderer.invoke).toHaveBeenLastCalledWith(`umo:${c}`, 'a', 2);
    }
    expect(ipcRenderer.invoke).toHaveBeenCalledTimes(API_CHANNELS.length);
  });

  it('onEvent subscribes to umo:event and returns an unsubscribe function', () => {
    const { exposed, ipcRenderer } = runPreload();
    const onEvent = exposed.get('umo')!.onEvent as (l: (ev: unknown) => void) => () => void;
    const seen: unknown[] = [];
    const off = onEvent((ev) => seen.push(ev));
    ipcRenderer.emit('umo:event', { sender: 'ignored' }, { type: 'menu-command', command: 'generate' });
    expect(seen).toEqual([{ type: 'menu-command', command: 'generate' }]);
    off();
    ipcRenderer.emit('umo:event', {}, { type: 'menu-command', command: 'cancel' });
    expect(seen).toHaveLength(1);
    expect(ipcRenderer.listenerCount('umo:event')).toBe(0);
    expect(() => onEvent('nope' as never)).toThrow(/needs a function/);
  });

  it('umoFiles.pathForFile uses webUtils.getPathForFile', () => {
    const { exposed, webUtils } = runPreload();
    expect((exposed.get('umoFiles')!.pathForFile as (f: unknown) => string)({ fake: 'a.png' })).toBe('/dropped/a.png');
    expect(webUtils.getPathForFile).toHaveBeenCalledTimes(1);
  });
});
