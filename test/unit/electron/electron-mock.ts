// A hand-written stand-in for the parts of the `electron` module the main process and preload use.
// Tests install it with `vi.mock('electron', async () => (await import('./electron-mock.js')).electronModule)`
// and inspect `mock` (the recorded calls) afterwards. No Electron binary is involved.
import { EventEmitter } from 'node:events';
import { vi } from 'vitest';

let nextWebContentsId = 1;

export class FakeWebFrame {
  parent: FakeWebFrame | null = null;
  constructor(public url: string) {}
}

export class FakeWebContents extends EventEmitter {
  readonly id = nextWebContentsId++;
  windowOpenHandler: ((details: { url: string }) => { action: 'allow' | 'deny' }) | null = null;
  readonly sent: Array<{ channel: string; payload: unknown }> = [];
  readonly mainFrame: FakeWebFrame;
  url = '';
  constructor(url = 'app://umo/index.html') {
    super();
    this.url = url;
    this.mainFrame = new FakeWebFrame(url);
  }
  setWindowOpenHandler(h: (details: { url: string }) => { action: 'allow' | 'deny' }): void {
    this.windowOpenHandler = h;
  }
  send(channel: string, payload: unknown): void {
    this.sent.push({ channel, payload });
  }
  getURL(): string {
    return this.url;
  }
  isDestroyed(): boolean {
    return false;
  }
  /** Emit an Electron-style event with preventDefault(); returns whether it was prevented. */
  fire(name: string, ...args: unknown[]): boolean {
    let prevented = false;
    const event = { preventDefault: () => { prevented = true; } };
    this.emit(name, event, ...args);
    return prevented;
  }
}

export class FakeBrowserWindow extends EventEmitter {
  static instances: FakeBrowserWindow[] = [];
  readonly webContents = new FakeWebContents();
  loadedUrl: string | null = null;
  shown = false;
  constructor(readonly options: Record<string, unknown>) {
    super();
    FakeBrowserWindow.instances.push(this);
  }
  loadURL(url: string): Promise<void> {
    this.loadedUrl = url;
    this.webContents.url = url;
    this.webContents.mainFrame.url = url;
    return Promise.resolve();
  }
  show(): void {
    this.shown = true;
  }
  focus(): void {}
  restore(): void {}
  isMinimized(): boolean {
    return false;
  }
  isDestroyed(): boolean {
    return false;
  }
  static getAllWindows(): FakeBrowserWindow[] {
    return FakeBrowserWindow.instances;
  }
}

export class FakeUtilityProcess extends EventEmitter {
  static forks: Array<{ modulePath: string; args: string[]; options: Record<string, unknown>; child: FakeUtilityProcess }> = [];
  readonly posted: unknown[] = [];
  killed = false;
  postMessage(msg: unknown): void {
    this.posted.push(msg);
  }
  kill(): boolean {
    this.killed = true;
    return true;
  }
}

type Handler = (event: unknown, ...args: unknown[]) => unknown;

function createMock() {
  const appEmitter = new EventEmitter();
  const ipcHandlers = new Map<string, Handler>();
  const protocolHandlers = new Map<string, (req: Request) => Promise<Response> | Response>();
  const session = {
    permissionRequestHandler: null as null | ((...a: unknown[]) => void),
    permissionCheckHandler: null as null | ((...a: unknown[]) => boolean),
    headersHandler: null as null | ((...a: unknown[]) => void),
    setPermissionRequestHandler: vi.fn((h: (...a: unknown[]) => void) => { session.permissionRequestHandler = h; }),
    setPermissionCheckHandler: vi.fn((h: (...a: unknown[]) => boolean) => { session.permissionCheckHandler = h; }),
    webRequest: { onHeadersReceived: vi.fn((h: (...a: unknown[]) => void) => { session.headersHandler = h; }) },
  };
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((r) => { readyResolve = r; });
  const mock = {
    userData: '/tmp/umo-user-data',
    appPath: '/tmp/umo-app',
    appEmitter,
    ipcHandlers,
    protocolHandlers,
    privilegedSchemes: [] as unknown[],
    session,
    openedExternal: [] as string[],
    menus: [] as unknown[][],
    errorBoxes: [] as Array<{ title: string; content: string }>,
    openDialogResult: { canceled: true, filePaths: [] as string[] },
    exposed: new Map<string, unknown>(),
    makeReady: () => readyResolve(),
  };

  const app = Object.assign(appEmitter, {
    isPackaged: false,
    name: 'UMO Studio',
    whenReady: () => ready,
    isReady: () => false,
    getPath: vi.fn((name: string) => (name === 'userData' ? mock.userData : `/tmp/umo-${name}`)),
    getAppPath: () => mock.appPath,
    getVersion: () => '0.1.0',
    getName: () => 'UMO Studio',
    quit: vi.fn(),
    exit: vi.fn(),
    enableSandbox: vi.fn(),
    requestSingleInstanceLock: vi.fn(() => true),
    setAppUserModelId: vi.fn(),
  });

  const electronModule = {
    app,
    BrowserWindow: FakeBrowserWindow,
    ipcMain: {
      handle: vi.fn((channel: string, h: Handler) => {
        if (ipcHandlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
        ipcHandlers.set(channel, h);
      }),
      removeHandler: vi.fn((channel: string) => { ipcHandlers.delete(channel); }),
      on: vi.fn(),
    },
    protocol: {
      registerSchemesAsPrivileged: vi.fn((s: unknown[]) => { mock.privilegedSchemes.push(...s); }),
      handle: vi.fn((scheme: string, h: (req: Request) => Promise<Response>) => { protocolHandlers.set(scheme, h); }),
    },
    session: { defaultSession: session },
    shell: {
      openExternal: vi.fn(async (url: string) => { mock.openedExternal.push(url); }),
      openPath: vi.fn(async () => ''),
      showItemInFolder: vi.fn(),
    },
    Menu: {
      buildFromTemplate: vi.fn((t: unknown[]) => ({ template: t })),
      setApplicationMenu: vi.fn((m: { template: unknown[] }) => { mock.menus.push(m.template); }),
    },
    dialog: {
      showOpenDialog: vi.fn(async () => mock.openDialogResult),
      showErrorBox: vi.fn((title: string, content: string) => { mock.errorBoxes.push({ title, content }); }),
      showMessageBox: vi.fn(async () => ({ response: 0 })),
    },
    utilityProcess: {
      fork: vi.fn((modulePath: string, args: string[], options: Record<string, unknown>) => {
        const child = new FakeUtilityProcess();
        FakeUtilityProcess.forks.push({ modulePath, args, options, child });
        return child;
      }),
    },
    contextBridge: {
      exposeInMainWorld: vi.fn((key: string, api: unknown) => { mock.exposed.set(key, api); }),
    },
    ipcRenderer: Object.assign(new EventEmitter(), { invoke: vi.fn(async (..._a: unknown[]) => undefined) }),
    webUtils: { getPathForFile: vi.fn((f: { path?: string }) => f.path ?? '') },
  };
  return { mock, electronModule };
}

const created = createMock();
export const mock = created.mock;
export const electronModule = { ...created.electronModule, default: created.electronModule };
