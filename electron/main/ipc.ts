// Typed IPC: one `ipcMain.handle('umo:<channel>')` per channel of ApiArgSchemas. Every call is checked
// twice before it reaches the services: the sender must be the main window's top frame on the app's
// own origin, and the arguments must match the channel's schema.
import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { API_CHANNELS, ApiArgSchemas, type ApiChannel, type UmoApi } from '../../shared/umo-api.js';
import { isAppUrl } from './security-policy.js';

export const IPC_CHANNEL_PREFIX = 'umo:';
/** The one channel the main process pushes events on (`webContents.send('umo:event', ev)`). */
export const IPC_EVENT_CHANNEL = 'umo:event';

/** Every request channel, the desktop-only ones (chooseFolder) included: the desktop app implements them all. */
export type RequestApi = Required<Omit<UmoApi, 'onEvent'>>;

export function ipcChannelName(channel: ApiChannel): string {
  return `${IPC_CHANNEL_PREFIX}${channel}`;
}

export class IpcRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IpcRejectedError';
  }
}

/**
 * Validate one call's arguments; throws IpcRejectedError naming the channel, the argument path and the
 * problem. Returns the parsed (defaulted) tuple.
 */
export function parseApiArgs<C extends ApiChannel>(channel: C, args: unknown[]): Parameters<RequestApi[C]> {
  const schema = ApiArgSchemas[channel];
  if (!schema) throw new IpcRejectedError(`unknown channel "${String(channel)}"`);
  const parsed = schema.safeParse(args);
  if (!parsed.success) {
    const details = parsed.error.issues
      .map((i) => `${i.path.length ? `argument ${i.path.join('.')}` : 'arguments'}: ${i.message}`)
      .join('; ');
    throw new IpcRejectedError(`${ipcChannelName(channel)}: invalid arguments: ${details}`);
  }
  return parsed.data as unknown as Parameters<RequestApi[C]>;
}

export interface SenderFacts {
  webContentsId: number;
  /** URL of the sending frame (null when the frame is gone). */
  frameUrl: string | null;
  /** Whether the sending frame is the top-level frame of its page. */
  isMainFrame: boolean;
}

/** Why a sender is refused, or null when it is the app's own main window. */
export function senderProblem(sender: SenderFacts, trustedWebContentsId: number | null): string | null {
  if (trustedWebContentsId === null) return 'the main window is not open';
  if (sender.webContentsId !== trustedWebContentsId) return `sender ${sender.webContentsId} is not the main window`;
  if (!sender.isMainFrame) return 'the sender is not the top-level frame';
  if (!isAppUrl(sender.frameUrl)) return `the sender's URL ${sender.frameUrl ?? '(none)'} is not the app's own origin`;
  return null;
}

export function senderFacts(event: IpcMainInvokeEvent): SenderFacts {
  const frame = event.senderFrame;
  return {
    webContentsId: event.sender.id,
    frameUrl: frame ? frame.url : null,
    isMainFrame: !!frame && frame.parent === null,
  };
}

/**
 * Register a handler for every API channel. `trustedWebContentsId()` names the main window's
 * webContents (null while there is none). Returns a function that removes the handlers.
 */
export function registerIpcHandlers(ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>, api: RequestApi, trustedWebContentsId: () => number | null): () => void {
  for (const channel of API_CHANNELS) {
    ipcMain.handle(ipcChannelName(channel), async (event, ...args: unknown[]) => {
      const problem = senderProblem(senderFacts(event), trustedWebContentsId());
      if (problem) throw new IpcRejectedError(`${ipcChannelName(channel)}: refused: ${problem}`);
      parseApiArgs(channel, args);
      // Dispatch the arguments as sent (validated above), like web mode: the schemas fill defaults that
      // would change the meaning (a settings patch would reset every omitted field; a generate request
      // without `lora` means "the active LoRA"); the services apply their own defaults.
      const method = api[channel] as (...a: unknown[]) => Promise<unknown>;
      return method.apply(api, args);
    });
  }
  return () => {
    for (const channel of API_CHANNELS) ipcMain.removeHandler(ipcChannelName(channel));
  };
}
