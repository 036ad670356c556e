// Installs the application menu built by buildMenuTemplate, and the "Open LoRA checkpoint…" flow
// shared by the menu and the renderer's addLora call: file dialog (.safetensors), validation by the
// services, and an error dialog for a file that is not a LoRA of the current backbone.
import type { Menu as MenuType } from 'electron';
import type { BackboneId } from '../../shared/model-manifests.js';
import type { LoraEntry, Settings } from '../../shared/settings.js';
import { buildMenuTemplate, menuStateFromSettings, type MenuActions } from './menu-template.js';

export const LORA_FILE_FILTERS = [{ name: 'LoRA checkpoint (safetensors)', extensions: ['safetensors'] }];

export interface MenuEnvironment {
  platform: NodeJS.Platform;
  appName: string;
  devTools: boolean;
}

/** Build and set the application menu for these settings (called at start and on every settings change). */
export function installAppMenu(Menu: Pick<typeof MenuType, 'buildFromTemplate' | 'setApplicationMenu'>, settings: Settings, env: MenuEnvironment, actions: MenuActions): void {
  Menu.setApplicationMenu(Menu.buildFromTemplate(buildMenuTemplate(menuStateFromSettings(settings, env), actions)));
}

export interface LoraPickDeps {
  /** Show the open-file dialog; resolves with the chosen path or null when cancelled. */
  pickFile(): Promise<string | null>;
  /** The services' validation + registration (throws a clear error for an unusable file). */
  addLora(input: { backbone: BackboneId; path: string }): Promise<LoraEntry | null>;
}

/** Let the user pick a LoRA file and validate it; null when the dialog was cancelled. Errors propagate. */
export async function pickAndAddLora(backbone: BackboneId, deps: LoraPickDeps): Promise<LoraEntry | null> {
  const file = await deps.pickFile();
  if (!file) return null;
  return deps.addLora({ backbone, path: file });
}

export interface LoraMenuDeps extends LoraPickDeps {
  setActiveLora(backbone: BackboneId, path: string | null): Promise<unknown>;
  showError(title: string, message: string): void;
}

/**
 * The menu's "Open LoRA checkpoint…": pick, validate, make it the active LoRA of the backbone. An
 * invalid file is reported in an error dialog and changes nothing.
 */
export async function openLoraFromMenu(backbone: BackboneId, deps: LoraMenuDeps): Promise<LoraEntry | null> {
  let entry: LoraEntry | null;
  try {
    entry = await pickAndAddLora(backbone, deps);
  } catch (e) {
    deps.showError('Not a usable LoRA checkpoint', (e as Error).message ?? String(e));
    return null;
  }
  if (!entry) return null;
  try {
    await deps.setActiveLora(backbone, entry.path);
  } catch (e) {
    deps.showError('Could not select the LoRA checkpoint', (e as Error).message ?? String(e));
    return null;
  }
  return entry;
}
