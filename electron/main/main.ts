// Electron main entry (package.json "main": dist/electron/main/main.js). Kept to the wiring of real
// modules: everything else is in desktop-app.ts and the pure modules next to it.
import { app, BrowserWindow, Menu, dialog, ipcMain, protocol, session, shell, utilityProcess } from 'electron';
import Store from 'electron-store';
import { createAppServices } from '../services/app-services.js';
import { startDesktopApp } from './desktop-app.js';
import type { StoreConstructor } from './settings-store.js';

// No top-level await before this call: schemes must be registered before the app is ready.
const electron = { app, BrowserWindow, Menu, dialog, ipcMain, protocol, session, shell, utilityProcess };
startDesktopApp({ electron, Store: Store as unknown as StoreConstructor, createAppServices }).started.catch(() => {
  // Already reported in an error dialog; the app exits.
});
