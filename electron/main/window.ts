// The one application window: secure options, the app's own URL, shown when ready.
import type { BrowserWindow as BrowserWindowType, BrowserWindowConstructorOptions } from 'electron';
import { APP_INDEX_URL, mainWindowOptions, type WindowOptionsInput } from './security-policy.js';

export type BrowserWindowCtor = new (options: BrowserWindowConstructorOptions) => BrowserWindowType;

export function createMainWindow(BrowserWindow: BrowserWindowCtor, input: WindowOptionsInput): BrowserWindowType {
  const win = new BrowserWindow(mainWindowOptions(input));
  win.once('ready-to-show', () => win.show());
  void win.loadURL(APP_INDEX_URL).catch((e: unknown) => console.error(`could not load ${APP_INDEX_URL}: ${(e as Error).message}`));
  return win;
}
