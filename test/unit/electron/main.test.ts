// The Electron main entry wired against the hand-written electron mock, a fake electron-store and
// fake services: order of start-up, window, guards, protocols, IPC (valid / invalid / wrong sender),
// events to the renderer, and the menu kept in sync with the settings both ways.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MenuItemConstructorOptions } from 'electron';
import type { AppServicesOptions } from '../../../electron/services/app-services.js';
import type { UmoEvent } from '../../../shared/umo-api.js';
import { API_CHANNELS } from '../../../shared/umo-api.js';
import { FakeBrowserWindow, FakeUtilityProcess, mock } from './electron-mock.js';

vi.mock('electron', async () => (await import('./electron-mock.js')).electronModule);

vi.mock('electron-store', () => ({
  default: class FakeElectronStore {
    static instances: unknown[] = [];
    store: Record<string, unknown> = {};
    readonly path: string;
    constructor(readonly options: { cwd: string; name: string }) {
      this.path = `${options.cwd}/${options.name}.json`;
      FakeElectronStore.instances.push(this);
    }
  },
}));

const services = vi.hoisted(() => ({
  options: null as null | AppServicesOptions,
  listeners: new Set<(ev: UmoEvent) => void>(),
  calls: [] as Array<[string, unknown[]]>,
  addLoraError: null as null | Error,
}));

vi.mock('../../../electron/services/app-services.js', () => ({
  createAppServices: async (opts: AppServicesOptions) => {
    services.options = opts;
    const settings = opts.settings!;
    settings.onChange((s) => { for (const l of services.listeners) l({ type: 'settings-changed', settings: s }); });
    const record = (name: string) => (...args: unknown[]) => { services.calls.push([name, args]); return Promise.resolve(`${name}-result`); };
    return {
      paths: { defaultOutputDir: '/tmp/umo-user-data/outputs' },
      settings,
      subscribe: (l: (ev: UmoEvent) => void) => { services.listeners.add(l); return () => services.listeners.delete(l); },
      takeStartupNotices: () => [],
      fileRoots: (kind: string) => [`/data/${kind}`],
      resultFile: (jobId: string) => ({ file: `/data/outputs/${jobId}.png`, name: `${jobId}.png`, url: '' }),
      getAppInfo: record('getAppInfo'),
      getSettings: async () => settings.get(),
      updateSettings: async (patch: object) => settings.update(patch),
      getModelStatus: record('getModelStatus'),
      listDevices: record('listDevices'),
      importReference: record('importReference'),
      referenceFromResult: record('referenceFromResult'),
      generate: record('generate'),
      cancel: record('cancel'),
      listHistory: record('listHistory'),
      addLora: async (input: { backbone: 'uno' | 'omnigen2'; path: string }) => {
        services.calls.push(['addLora', [input]]);
        if (services.addLoraError) throw services.addLoraError;
        const entry = { path: input.path, label: input.path.split('/').pop()!, backbone: input.backbone };
        settings.update({ recentLoras: [entry, ...settings.get().recentLoras] });
        return entry;
      },
      setActiveLora: async (backbone: 'uno' | 'omnigen2', p: string | null) => {
        services.calls.push(['setActiveLora', [backbone, p]]);
        return settings.update({ activeLora: { ...settings.get().activeLora, [backbone]: p } });
      },
      revealResult: record('revealResult'),
      close: vi.fn(async () => {}),
    };
  },
}));

const electron = (await import('./electron-mock.js')).electronModule;

function lastMenu(): MenuItemConstructorOptions[] {
  return mock.menus[mock.menus.length - 1] as MenuItemConstructorOptions[];
}
function menuItem(menuId: string, itemId: string): MenuItemConstructorOptions {
  const sub = lastMenu().find((m) => m.id === menuId)!.submenu as MenuItemConstructorOptions[];
  return sub.find((i) => i.id === itemId)!;
}
const click = (i: MenuItemConstructorOptions) => (i.click as unknown as () => void)();

let win: FakeBrowserWindow;
const fromWindow = () => ({ sender: win.webContents, senderFrame: win.webContents.mainFrame });

describe('Electron main entry', () => {
  beforeAll(async () => {
    await import('../../../electron/main/main.js');
  });
  afterAll(() => vi.restoreAllMocks());

  it('registers the privileged schemes, the sandbox and the guards before the app is ready', () => {
    expect(FakeBrowserWindow.instances).toHaveLength(0);
    expect(electron.protocol.registerSchemesAsPrivileged).toHaveBeenCalledTimes(1);
    expect(mock.privilegedSchemes.map((s) => (s as { scheme: string }).scheme)).toEqual(['app', 'app-image']);
    expect(electron.app.enableSandbox).toHaveBeenCalled();
    expect(mock.appEmitter.listenerCount('web-contents-created')).toBe(1);
  });

  it('on ready: services on userData with electron-store settings and a utilityProcess engine, then the window', async () => {
    mock.makeReady();
    await vi.waitFor(() => expect(FakeBrowserWindow.instances).toHaveLength(1));
    win = FakeBrowserWindow.instances[0];
    const opts = services.options!;
    expect(opts.dataDir).toBe('/tmp/umo-user-data');
    expect(opts.mode).toBe('desktop');
    expect((opts.settings as unknown as { filePath: string }).filePath).toBe('/tmp/umo-user-data/settings.json');
    expect(opts.fileUrl!('outputs', 'a b.png')).toBe('app-image://outputs/a%20b.png');
    opts.spawnEngine!();
    expect(FakeUtilityProcess.forks[0]).toMatchObject({
      modulePath: '/tmp/umo-app/dist/electron/engine/engine-main.js',
      options: { serviceName: 'UMO Studio engine' },
    });

    const wp = win.options.webPreferences as Record<string, unknown>;
    expect(wp).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, webviewTag: false, preload: '/tmp/umo-app/dist/electron/preload/preload.js' });
    expect(win.loadedUrl).toBe('app://umo/index.html');
    expect([...mock.protocolHandlers.keys()]).toEqual(['app', 'app-image']);
    expect(mock.session.setPermissionRequestHandler).toHaveBeenCalled();
    expect(mock.session.setPermissionCheckHandler).toHaveBeenCalled();
    expect(mock.session.webRequest.onHeadersReceived).toHaveBeenCalled();
  });

  it('hardens the window\'s web contents when Electron reports them', () => {
    mock.appEmitter.emit('web-contents-created', {}, win.webContents);
    expect(win.webContents.windowOpenHandler!({ url: 'https://example.com/' })).toEqual({ action: 'deny' });
    expect(win.webContents.fire('will-navigate', 'https://example.com/')).toBe(true);
  });

  it('answers IPC from the window, rejects invalid payloads and other senders', async () => {
    expect([...mock.ipcHandlers.keys()].sort()).toEqual(API_CHANNELS.map((c) => `umo:${c}`).sort());
    await expect(mock.ipcHandlers.get('umo:cancel')!(fromWindow(), 'job-1')).resolves.toBe('cancel-result');
    expect(services.calls).toContainEqual(['cancel', ['job-1']]);
    await expect(mock.ipcHandlers.get('umo:cancel')!(fromWindow(), 42)).rejects.toThrow(/umo:cancel: invalid arguments: argument 0: /);
    const other = new FakeBrowserWindow({});
    await expect(mock.ipcHandlers.get('umo:cancel')!({ sender: other.webContents, senderFrame: other.webContents.mainFrame }, 'job-2'))
      .rejects.toThrow(/refused: sender \d+ is not the main window/);
    FakeBrowserWindow.instances.pop();
    expect(services.calls.filter(([n]) => n === 'cancel')).toHaveLength(1);
  });

  it('menu → settings → renderer: a Backbone click updates the settings, the renderer hears it, the menu is rebuilt', async () => {
    expect(menuItem('backbone', 'backbone-uno').checked).toBe(true);
    const before = mock.menus.length;
    click(menuItem('backbone', 'backbone-omnigen2'));
    await vi.waitFor(() => expect(mock.menus.length).toBe(before + 1));
    expect(menuItem('backbone', 'backbone-omnigen2').checked).toBe(true);
    expect(win.webContents.sent.at(-1)).toMatchObject({ channel: 'umo:event', payload: { type: 'settings-changed', settings: { backbone: 'omnigen2' } } });
  });

  it('UI → settings → menu: an updateSettings call over IPC rebuilds the menu', async () => {
    await mock.ipcHandlers.get('umo:updateSettings')!(fromWindow(), { backbone: 'uno' });
    expect(menuItem('backbone', 'backbone-uno').checked).toBe(true);
  });

  it('Generate / Cancel / Settings menu items send menu-command events', () => {
    click(menuItem('generate-menu', 'generate'));
    click(menuItem('generate-menu', 'cancel'));
    click(menuItem('file', 'settings'));
    expect(win.webContents.sent.slice(-3).map((s) => s.payload)).toEqual([
      { type: 'menu-command', command: 'generate' },
      { type: 'menu-command', command: 'cancel' },
      { type: 'menu-command', command: 'open-settings' },
    ]);
  });

  it('Open LoRA checkpoint: dialog filtered to .safetensors, validated, made active, listed checked', async () => {
    mock.openDialogResult = { canceled: false, filePaths: ['/loras/umo.safetensors'] };
    click(menuItem('file', 'open-lora'));
    await vi.waitFor(() => expect(services.calls).toContainEqual(['setActiveLora', ['uno', '/loras/umo.safetensors']]));
    const dialogOptions = (electron.dialog.showOpenDialog.mock.calls.at(-1) as unknown[]).at(-1) as { filters: unknown };
    expect(dialogOptions.filters).toEqual([{ name: 'LoRA checkpoint (safetensors)', extensions: ['safetensors'] }]);
    await vi.waitFor(() => expect(menuItem('lora', 'lora-0')).toMatchObject({ label: 'umo.safetensors', checked: true }));
    expect(menuItem('lora', 'lora-none').checked).toBe(false);
  });

  it('an invalid LoRA file shows an error dialog and changes nothing', async () => {
    services.addLoraError = new Error('bad.safetensors: not a UNO LoRA (no processor keys)');
    mock.openDialogResult = { canceled: false, filePaths: ['/loras/bad.safetensors'] };
    const active = services.options!.settings!.get().activeLora.uno;
    click(menuItem('lora', 'lora-open'));
    await vi.waitFor(() => expect(mock.errorBoxes).toHaveLength(1));
    expect(mock.errorBoxes[0]).toEqual({ title: 'Not a usable LoRA checkpoint', content: 'bad.safetensors: not a UNO LoRA (no processor keys)' });
    expect(services.options!.settings!.get().activeLora.uno).toBe(active);
    services.addLoraError = null;
  });

  it('addLora over IPC without a file opens the dialog; revealResult shows the file', async () => {
    mock.openDialogResult = { canceled: false, filePaths: ['/loras/picked.safetensors'] };
    await expect(mock.ipcHandlers.get('umo:addLora')!(fromWindow(), { backbone: 'omnigen2' }))
      .resolves.toEqual({ path: '/loras/picked.safetensors', label: 'picked.safetensors', backbone: 'omnigen2' });
    mock.openDialogResult = { canceled: true, filePaths: [] };
    await expect(mock.ipcHandlers.get('umo:addLora')!(fromWindow(), { backbone: 'omnigen2' })).resolves.toBeNull();
    await mock.ipcHandlers.get('umo:revealResult')!(fromWindow(), 'job-9');
    expect(electron.shell.showItemInFolder).toHaveBeenCalledWith('/data/outputs/job-9.png');
  });

  it('engine and other events reach the renderer on umo:event', () => {
    for (const l of services.listeners) l({ type: 'progress', jobId: 'j', phase: 'denoising', step: 1, total: 4, etaMs: 100 });
    expect(win.webContents.sent.at(-1)).toEqual({ channel: 'umo:event', payload: { type: 'progress', jobId: 'j', phase: 'denoising', step: 1, total: 4, etaMs: 100 } });
  });
});
