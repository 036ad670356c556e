// The application menu as a pure function of the settings: File, Edit, View, Backbone (radio), LoRA
// (known checkpoints of the current backbone as radio items), Generate. Rebuilt on every
// settings change, so the menu always shows what the UI shows.
import type { MenuItemConstructorOptions } from 'electron';
import type { BackboneId } from '../../shared/model-manifests.js';
import type { LoraEntry, Settings } from '../../shared/settings.js';

export const BACKBONE_MENU_LABELS: Record<BackboneId, string> = {
  uno: 'UNO',
  omnigen2: 'OmniGen2',
};
const BACKBONE_IDS = Object.keys(BACKBONE_MENU_LABELS) as BackboneId[];

export interface MenuState {
  platform: NodeJS.Platform;
  appName: string;
  backbone: BackboneId;
  /** Known LoRA checkpoints of the current backbone, most recent first. */
  loras: LoraEntry[];
  /** The active LoRA path of the current backbone (null = none). */
  activeLora: string | null;
  /** Whether developer tools are offered (unpackaged builds only). */
  devTools: boolean;
}

export interface MenuActions {
  openLoraCheckpoint(): void;
  openOutputFolder(): void;
  openSettings(): void;
  setBackbone(backbone: BackboneId): void;
  setActiveLora(path: string | null): void;
  generate(): void;
  cancel(): void;
}

function baseName(p: string): string {
  const parts = p.split(/[\\/]/);
  return parts[parts.length - 1] || p;
}

export function menuStateFromSettings(settings: Settings, env: { platform: NodeJS.Platform; appName: string; devTools: boolean }): MenuState {
  const backbone = settings.backbone;
  const activeLora = settings.activeLora[backbone];
  const loras = settings.recentLoras.filter((l) => l.backbone === backbone);
  if (activeLora && !loras.some((l) => l.path === activeLora)) loras.unshift({ path: activeLora, label: baseName(activeLora), backbone });
  return { ...env, backbone, loras, activeLora };
}

/** Menu labels treat `&` as a mnemonic marker on Windows/Linux; show file names literally. */
function literalLabel(s: string): string {
  return s.replace(/&/g, '&&');
}

export function buildMenuTemplate(state: MenuState, actions: MenuActions): MenuItemConstructorOptions[] {
  const mac = state.platform === 'darwin';
  const template: MenuItemConstructorOptions[] = [];

  if (mac) {
    template.push({
      label: state.appName,
      submenu: [
        { role: 'about' },
        { type: 'separator' },
        { id: 'app-settings', label: 'Settings…', accelerator: 'CmdOrCtrl+,', click: () => actions.openSettings() },
        { type: 'separator' },
        { role: 'services' },
        { type: 'separator' },
        { role: 'hide' },
        { role: 'hideOthers' },
        { role: 'unhide' },
        { type: 'separator' },
        { role: 'quit' },
      ],
    });
  }

  template.push({
    id: 'file',
    label: '&File',
    submenu: [
      { id: 'open-lora', label: 'Open LoRA Checkpoint…', accelerator: 'CmdOrCtrl+O', click: () => actions.openLoraCheckpoint() },
      { id: 'open-output-folder', label: 'Open Output Folder', click: () => actions.openOutputFolder() },
      ...(mac ? [] : [
        { type: 'separator' } as const,
        { id: 'settings', label: 'Settings…', accelerator: 'CmdOrCtrl+,', click: () => actions.openSettings() },
        { type: 'separator' } as const,
        { id: 'quit', role: 'quit', label: 'Quit', accelerator: 'CmdOrCtrl+Q' } as const,
      ]),
    ],
  });

  template.push({
    id: 'edit',
    label: '&Edit',
    submenu: [
      { role: 'undo' },
      { role: 'redo' },
      { type: 'separator' },
      { role: 'cut' },
      { role: 'copy' },
      { role: 'paste' },
      { role: 'selectAll' },
    ],
  });

  template.push({
    id: 'view',
    label: '&View',
    submenu: [
      { role: 'reload' },
      ...(state.devTools ? [{ role: 'toggleDevTools' } as const] : []),
      { type: 'separator' },
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      { role: 'zoomOut' },
      { type: 'separator' },
      { role: 'togglefullscreen' },
    ],
  });

  template.push({
    id: 'backbone',
    label: '&Backbone',
    submenu: BACKBONE_IDS.map((b) => ({
      id: `backbone-${b}`,
      label: BACKBONE_MENU_LABELS[b],
      type: 'radio' as const,
      checked: state.backbone === b,
      click: () => actions.setBackbone(b),
    })),
  });

  template.push({
    id: 'lora',
    label: '&LoRA',
    submenu: [
      { id: 'lora-none', label: 'No LoRA', type: 'radio', checked: state.activeLora === null, click: () => actions.setActiveLora(null) },
      ...state.loras.map((l, i): MenuItemConstructorOptions => ({
        id: `lora-${i}`,
        label: literalLabel(l.label),
        toolTip: l.path,
        type: 'radio',
        checked: state.activeLora === l.path,
        click: () => actions.setActiveLora(l.path),
      })),
      { type: 'separator' },
      { id: 'lora-open', label: 'Open LoRA Checkpoint…', click: () => actions.openLoraCheckpoint() },
    ],
  });

  // The renderer handles Ctrl/Cmd+Enter and Esc itself (also in web mode, and it knows when a dialog
  // has the focus), so these accelerators are shown but not registered: no double trigger.
  template.push({
    id: 'generate-menu',
    label: '&Generate',
    submenu: [
      { id: 'generate', label: 'Generate', accelerator: 'CmdOrCtrl+Enter', registerAccelerator: false, click: () => actions.generate() },
      { id: 'cancel', label: 'Cancel Generation', accelerator: 'Escape', registerAccelerator: false, click: () => actions.cancel() },
    ],
  });

  if (mac) template.push({ role: 'windowMenu' });
  return template;
}
