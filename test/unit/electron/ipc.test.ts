// Typed IPC: every channel is registered; a valid call reaches the service with the parsed
// arguments; an invalid payload is rejected with the schema's message; foreign senders are refused.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { IpcMain } from 'electron';
import { API_CHANNELS } from '../../../shared/umo-api.js';
import { DEFAULT_SETTINGS } from '../../../shared/settings.js';
import {
  IPC_EVENT_CHANNEL, ipcChannelName, parseApiArgs, registerIpcHandlers, senderProblem, type RequestApi,
} from '../../../electron/main/ipc.js';

type Handler = (event: unknown, ...args: unknown[]) => Promise<unknown>;

function fakeIpcMain() {
  const handlers = new Map<string, Handler>();
  return {
    handlers,
    ipcMain: {
      handle: vi.fn((c: string, h: Handler) => { handlers.set(c, h); }),
      removeHandler: vi.fn((c: string) => { handlers.delete(c); }),
    } as unknown as Pick<IpcMain, 'handle' | 'removeHandler'>,
  };
}

type FakeApi = { [K in keyof RequestApi]: ReturnType<typeof vi.fn> };

function fakeApi(): FakeApi {
  const api: Record<string, ReturnType<typeof vi.fn>> = {};
  for (const c of API_CHANNELS) api[c] = vi.fn(async () => `${c}-result`);
  return api as unknown as FakeApi;
}

const MAIN_ID = 7;
const fromApp = { sender: { id: MAIN_ID }, senderFrame: { url: 'app://umo/index.html', parent: null } };

describe('IPC handlers', () => {
  let ipc: ReturnType<typeof fakeIpcMain>;
  let api: ReturnType<typeof fakeApi>;
  let unregister: () => void;

  beforeEach(() => {
    ipc = fakeIpcMain();
    api = fakeApi();
    unregister = registerIpcHandlers(ipc.ipcMain, api as unknown as RequestApi, () => MAIN_ID);
  });

  it('registers umo:<channel> for every channel of ApiArgSchemas, and removes them again', () => {
    expect([...ipc.handlers.keys()].sort()).toEqual(API_CHANNELS.map((c) => `umo:${c}`).sort());
    expect(API_CHANNELS.length).toBe(16);
    expect(IPC_EVENT_CHANNEL).toBe('umo:event');
    unregister();
    expect(ipc.handlers.size).toBe(0);
  });

  it('passes a valid call to the service with the arguments as sent (no schema defaults added)', async () => {
    const request = { backbone: 'uno', prompt: 'a cat', width: 512, height: 512, steps: 4, guidance: 4, seed: 1 };
    await expect(ipc.handlers.get('umo:generate')!(fromApp, request)).resolves.toBe('generate-result');
    expect(api.generate).toHaveBeenCalledTimes(1);
    // Without `lora` the services use the active LoRA: the schema's default must not be filled in.
    expect(api.generate.mock.calls[0][0]).toEqual(request);

    // A settings patch stays a patch (the partial schema would otherwise reset every omitted field).
    await ipc.handlers.get('umo:updateSettings')!(fromApp, { theme: 'dark' });
    expect(api.updateSettings).toHaveBeenCalledWith({ theme: 'dark' });

    await ipc.handlers.get('umo:setActiveLora')!(fromApp, 'omnigen2', null);
    expect(api.setActiveLora).toHaveBeenCalledWith('omnigen2', null);
    await ipc.handlers.get('umo:importReference')!(fromApp, { name: 'a.png', bytes: new Uint8Array([1, 2]) });
    expect(api.importReference.mock.calls[0][0]).toEqual({ name: 'a.png', bytes: new Uint8Array([1, 2]) });
    await ipc.handlers.get('umo:getSettings')!(fromApp);
    expect(api.getSettings).toHaveBeenCalledWith();
  });

  it('rejects an invalid payload with the schema message, without calling the service', async () => {
    await expect(ipc.handlers.get('umo:generate')!(fromApp, { backbone: 'uno', prompt: 'x', width: 500, height: 512, steps: 4, guidance: 4, seed: 1 }))
      .rejects.toThrow(/^umo:generate: invalid arguments: argument 0\.width: Width must be a multiple of 16 \(got 500\)/);
    await expect(ipc.handlers.get('umo:getModelStatus')!(fromApp, 'sdxl')).rejects.toThrow(/umo:getModelStatus: invalid arguments: argument 0: /);
    await expect(ipc.handlers.get('umo:cancel')!(fromApp)).rejects.toThrow(/umo:cancel: invalid arguments/);
    await expect(ipc.handlers.get('umo:getSettings')!(fromApp, 'extra')).rejects.toThrow(/umo:getSettings: invalid arguments/);
    await expect(ipc.handlers.get('umo:updateSettings')!(fromApp, { loraScale: 7 })).rejects.toThrow(/argument 0\.loraScale: /);
    await expect(ipc.handlers.get('umo:importReference')!(fromApp, { name: 'a.png', bytes: 'not bytes' })).rejects.toThrow(/umo:importReference: invalid arguments/);
    expect(api.generate).not.toHaveBeenCalled();
    expect(api.getModelStatus).not.toHaveBeenCalled();
    expect(api.cancel).not.toHaveBeenCalled();
    expect(api.updateSettings).not.toHaveBeenCalled();
    expect(api.importReference).not.toHaveBeenCalled();
  });

  it('refuses other web contents, foreign origins, subframes and destroyed frames', async () => {
    const h = ipc.handlers.get('umo:getSettings')!;
    await expect(h({ sender: { id: 99 }, senderFrame: { url: 'app://umo/index.html', parent: null } })).rejects.toThrow(/umo:getSettings: refused: sender 99 is not the main window/);
    await expect(h({ sender: { id: MAIN_ID }, senderFrame: { url: 'https://evil.example/', parent: null } })).rejects.toThrow(/not the app's own origin/);
    await expect(h({ sender: { id: MAIN_ID }, senderFrame: { url: 'file:///tmp/x.html', parent: null } })).rejects.toThrow(/not the app's own origin/);
    await expect(h({ sender: { id: MAIN_ID }, senderFrame: { url: 'app://umo/index.html', parent: {} } })).rejects.toThrow(/not the top-level frame/);
    await expect(h({ sender: { id: MAIN_ID }, senderFrame: null })).rejects.toThrow(/refused/);
    expect(api.getSettings).not.toHaveBeenCalled();
  });

  it('refuses everything while there is no main window', async () => {
    const ipc2 = fakeIpcMain();
    const api2 = fakeApi();
    registerIpcHandlers(ipc2.ipcMain, api2 as unknown as RequestApi, () => null);
    await expect(ipc2.handlers.get('umo:getSettings')!(fromApp)).rejects.toThrow(/the main window is not open/);
  });
});

describe('parseApiArgs and senderProblem', () => {
  it('parseApiArgs returns the parsed tuple', () => {
    expect(parseApiArgs('cancel', ['job-1'])).toEqual(['job-1']);
    expect(parseApiArgs('updateSettings', [{ theme: 'dark' }])[0]).toMatchObject({ theme: 'dark' });
    expect(() => parseApiArgs('updateSettings', [{ theme: 'blue' }])).toThrow(/argument 0\.theme/);
    expect(DEFAULT_SETTINGS.theme).toBe('system');
    expect(ipcChannelName('addLora')).toBe('umo:addLora');
  });

  it('senderProblem is null only for the main window top frame on app://umo', () => {
    expect(senderProblem({ webContentsId: 1, frameUrl: 'app://umo/index.html', isMainFrame: true }, 1)).toBeNull();
    expect(senderProblem({ webContentsId: 1, frameUrl: 'app://umo2/index.html', isMainFrame: true }, 1)).toMatch(/origin/);
    expect(senderProblem({ webContentsId: 1, frameUrl: 'app://umo.evil/index.html', isMainFrame: true }, 1)).toMatch(/origin/);
  });
});
