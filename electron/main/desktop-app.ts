// The desktop app's composition: Electron objects + the main-process services. Order matters:
// privileged schemes and guards before `ready`; then settings (electron-store), services (engine in a
// utilityProcess), session security, protocols, IPC, menu, and the window.
import fs from 'node:fs';
import path from 'node:path';
import type * as Electron from 'electron';
import type { BackboneId } from '../../shared/model-manifests.js';
import type { UmoEvent } from '../../shared/umo-api.js';
import type { AppServices, AppServicesOptions } from '../services/app-services.js';
import { appImageUrl } from './app-image-path.js';
import { chooseModelPath } from './model-dialogs.js';
import { engineEntryInApp, utilityProcessSpawner, type UtilityFork } from './engine-process.js';
import { IPC_EVENT_CHANNEL, registerIpcHandlers, type RequestApi } from './ipc.js';
import { LORA_FILE_FILTERS, installAppMenu, openLoraFromMenu, pickAndAddLora } from './menu.js';
import type { MenuActions } from './menu-template.js';
import { installProtocolHandlers, registerPrivilegedSchemes } from './protocols.js';
import { installGlobalGuards, installSessionSecurity } from './security.js';
import { ElectronStoreSettings, openSettingsStore, type StoreConstructor } from './settings-store.js';
import { createMainWindow, type BrowserWindowCtor } from './window.js';

/** The parts of the `electron` module the app uses (the real module, or the test mock). */
export type ElectronModule = Pick<typeof Electron, 'app' | 'BrowserWindow' | 'Menu' | 'dialog' | 'ipcMain' | 'protocol' | 'session' | 'shell' | 'utilityProcess'>;

export interface DesktopDeps {
  electron: ElectronModule;
  /** electron-store's class. */
  Store: StoreConstructor;
  createAppServices(opts: AppServicesOptions): Promise<AppServices>;
}

/** Where the app's files are, relative to the app path (the package root, or app.asar when packaged). */
export function appLayout(appPath: string) {
  return {
    preload: path.join(appPath, 'dist', 'electron', 'preload', 'preload.js'),
    rendererDir: path.join(appPath, 'renderer', 'dist'),
    engineEntry: engineEntryInApp(appPath),
    icon: path.join(appPath, 'build', 'icon.png'),
  };
}

/** Delay before start-up notices (interrupted jobs, repaired settings) are pushed to a freshly loaded page. */
const NOTICE_DELAY_MS = 1000;

export interface DesktopApp {
  /** Resolves when the window is created (or rejects with the start-up error). */
  readonly started: Promise<void>;
  mainWindow(): Electron.BrowserWindow | null;
  services(): AppServices | null;
}

/**
 * Start the desktop app. Must be called synchronously while the main module is evaluated (before
 * `ready`): it registers the privileged schemes and the web-contents guard first.
 */
export function startDesktopApp(deps: DesktopDeps): DesktopApp {
  const { app, BrowserWindow, Menu, dialog, ipcMain, protocol, session, shell, utilityProcess } = deps.electron;
  registerPrivilegedSchemes(protocol);
  app.enableSandbox();
  const openExternal = (url: string) => shell.openExternal(url);
  installGlobalGuards(app, openExternal);

  let win: Electron.BrowserWindow | null = null;
  let services: AppServices | null = null;

  const send = (ev: UmoEvent) => {
    if (win && !win.isDestroyed()) win.webContents.send(IPC_EVENT_CHANNEL, ev);
  };
  const reportError = (title: string) => (e: unknown) => dialog.showErrorBox(title, (e as Error)?.message ?? String(e));

  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return { started: Promise.resolve(), mainWindow: () => null, services: () => null };
  }
  app.on('second-instance', () => {
    if (!win) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  });

  const start = async () => {
    await app.whenReady();
    const layout = appLayout(app.getAppPath());
    const dataDir = app.getPath('userData');
    const settings = new ElectronStoreSettings(openSettingsStore(deps.Store, { cwd: dataDir, name: 'settings' }));
    const svc = await deps.createAppServices({
      dataDir,
      mode: 'desktop',
      settings,
      fileUrl: appImageUrl,
      appVersion: app.getVersion(),
      spawnEngine: utilityProcessSpawner(utilityProcess.fork as unknown as UtilityFork, layout.engineEntry),
    });
    services = svc;

    installSessionSecurity(session.defaultSession);
    installProtocolHandlers(protocol, { rendererDir: layout.rendererDir, imageRoots: (kind) => svc.fileRoots(kind) });

    const pickLoraFile = async (): Promise<string | null> => {
      const options: Electron.OpenDialogOptions = { title: 'Open LoRA checkpoint', properties: ['openFile'], filters: LORA_FILE_FILTERS };
      const r = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
      return r.canceled || r.filePaths.length === 0 ? null : r.filePaths[0];
    };

    // The services' API, with the two desktop-only behaviours: a file dialog for addLora without a
    // file, and revealing a result in the system file manager.
    const api: RequestApi = {
      getAppInfo: () => svc.getAppInfo(),
      getSettings: () => svc.getSettings(),
      updateSettings: (patch) => svc.updateSettings(patch),
      getModelStatus: (b) => svc.getModelStatus(b),
      listDevices: () => svc.listDevices(),
      planRequest: (query) => svc.planRequest(query),
      importReference: (input) => svc.importReference(input),
      referenceFromResult: (jobId) => svc.referenceFromResult(jobId),
      generate: (request, options) => svc.generate(request, options),
      cancel: (jobId) => svc.cancel(jobId),
      listHistory: () => svc.listHistory(),
      addLora: async (input) => {
        if (input.path || input.bytes) return svc.addLora(input);
        return pickAndAddLora(input.backbone, { pickFile: pickLoraFile, addLora: (i) => svc.addLora(i) });
      },
      setActiveLora: (b, p) => svc.setActiveLora(b, p),
      installDemoModel: () => svc.installDemoModel(),
      chooseFolder: (choice) => chooseModelPath(choice, (options) => (win ? dialog.showOpenDialog(win, options) : dialog.showOpenDialog(options))),
      revealResult: async (jobId) => {
        await svc.revealResult(jobId);
        shell.showItemInFolder(svc.resultFile(jobId).file);
      },
    };
    registerIpcHandlers(ipcMain, api, () => (win && !win.isDestroyed() ? win.webContents.id : null));

    const actions: MenuActions = {
      openLoraCheckpoint: () => {
        void openLoraFromMenu(settings.get().backbone, {
          pickFile: pickLoraFile,
          addLora: (i) => svc.addLora(i),
          setActiveLora: (b, p) => svc.setActiveLora(b, p),
          showError: (title, message) => dialog.showErrorBox(title, message),
        });
      },
      openOutputFolder: () => {
        const dir = path.resolve(settings.get().outputDir ?? svc.paths.defaultOutputDir);
        fs.mkdirSync(dir, { recursive: true });
        void shell.openPath(dir).then((err) => { if (err) dialog.showErrorBox('Could not open the output folder', `${dir}: ${err}`); });
      },
      openSettings: () => send({ type: 'menu-command', command: 'open-settings' }),
      setBackbone: (backbone: BackboneId) => { svc.updateSettings({ backbone }).catch(reportError('Could not switch the backbone')); },
      setActiveLora: (p) => { svc.setActiveLora(settings.get().backbone, p).catch(reportError('Could not select the LoRA')); },
      generate: () => send({ type: 'menu-command', command: 'generate' }),
      cancel: () => send({ type: 'menu-command', command: 'cancel' }),
    };
    const menuEnv = { platform: process.platform, appName: app.getName(), devTools: !app.isPackaged };
    const rebuildMenu = () => installAppMenu(Menu, settings.get(), menuEnv, actions);
    rebuildMenu();

    svc.subscribe((ev) => {
      send(ev);
      // Menu and UI in sync: any settings change (from the UI or the menu) rebuilds the menu.
      if (ev.type === 'settings-changed') rebuildMenu();
    });

    const openWindow = () => {
      const w = createMainWindow(BrowserWindow as unknown as BrowserWindowCtor, {
        preloadPath: layout.preload,
        iconPath: fs.existsSync(layout.icon) ? layout.icon : undefined,
      });
      win = w;
      w.webContents.on('did-finish-load', () => {
        setTimeout(() => { for (const ev of svc.takeStartupNotices()) send(ev); }, NOTICE_DELAY_MS);
      });
      w.on('closed', () => { if (win === w) win = null; });
    };
    openWindow();
    app.on('activate', () => { if (!win) openWindow(); });
  };

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  let closing = false;
  app.on('before-quit', (event) => {
    if (closing || !services) return;
    closing = true;
    event.preventDefault();
    void services.close().catch(() => {}).finally(() => app.quit());
  });

  const started = start().catch((e: unknown) => {
    dialog.showErrorBox('UMO Studio could not start', (e as Error)?.stack ?? String(e));
    app.exit(1);
    throw e;
  });
  return { started, mainWindow: () => win, services: () => services };
}
