// The sandboxed preload: exposes `window.umo` (UmoApi over one `ipcRenderer.invoke('umo:<channel>')`
// per channel plus the `umo:event` push channel) and `window.umoFiles.pathForFile` (the path of a
// dropped file, Electron's webUtils). A sandboxed preload is a plain CommonJS script whose `require`
// knows only Electron's modules: so this folder compiles to CommonJS (its package.json), the file is
// self-contained, and it imports nothing but types from shared/.
import type { IpcRendererEvent } from 'electron';
import type { ApiChannel, UmoApi, UmoEvent } from '../../shared/umo-api.js';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- a sandboxed preload is CommonJS
const { contextBridge, ipcRenderer, webUtils } = require('electron') as typeof import('electron');

/** The request channels; kept equal to ApiArgSchemas' keys by the compile-time check below. */
const PRELOAD_CHANNELS = [
  'getAppInfo', 'getSettings', 'updateSettings', 'getModelStatus', 'listDevices', 'planRequest', 'importReference',
  'referenceFromResult', 'generate', 'cancel', 'listHistory', 'addLora', 'setActiveLora', 'revealResult',
  'installDemoModel', 'chooseFolder',
] as const satisfies readonly ApiChannel[];

type Missing = Exclude<ApiChannel, (typeof PRELOAD_CHANNELS)[number]>;
const _allChannels: [Missing] extends [never] ? true : Missing = true;
void _allChannels;

const EVENT_CHANNEL = 'umo:event';

function createPreloadApi(): UmoApi {
  const api: Record<string, unknown> = {};
  for (const channel of PRELOAD_CHANNELS) {
    api[channel] = (...args: unknown[]) => ipcRenderer.invoke(`umo:${channel}`, ...args);
  }
  api.onEvent = (listener: (ev: UmoEvent) => void) => {
    if (typeof listener !== 'function') throw new TypeError('window.umo.onEvent needs a function');
    const wrapped = (_event: IpcRendererEvent, payload: UmoEvent) => listener(payload);
    ipcRenderer.on(EVENT_CHANNEL, wrapped);
    return () => {
      ipcRenderer.removeListener(EVENT_CHANNEL, wrapped);
    };
  };
  return api as unknown as UmoApi;
}

contextBridge.exposeInMainWorld('umo', createPreloadApi());
contextBridge.exposeInMainWorld('umoFiles', {
  pathForFile: (file: Parameters<typeof webUtils.getPathForFile>[0]) => webUtils.getPathForFile(file),
});
