// Native dialogs of the model setup view (`chooseFolder`): the models folder, or one manifest
// component's override — a folder dialog for folder components (T5, CLIP), a file dialog with a
// safetensors filter for single-file components (the DiT, the autoencoder, LoRAs).
import type * as Electron from 'electron';
import { MANIFESTS } from '../../shared/model-manifests.js';
import type { FolderChoice } from '../../shared/umo-api.js';

export type ShowOpenDialog = (options: Electron.OpenDialogOptions) => Promise<Electron.OpenDialogReturnValue>;

/** The dialog options for a choice; throws for a component the backbone's manifest does not have. */
export function modelDialogOptions(choice: FolderChoice): Electron.OpenDialogOptions {
  if (choice.kind === 'models-root') {
    return { title: 'Choose the folder that holds your model checkpoints', properties: ['openDirectory', 'createDirectory'] };
  }
  const c = MANIFESTS[choice.backbone]?.components.find((x) => x.id === choice.component);
  if (!c) throw new Error(`${choice.backbone} has no model component "${choice.component}"`);
  if (c.kind === 'folder') {
    return { title: `Choose the ${c.label} folder (${c.repo})`, properties: ['openDirectory'] };
  }
  return {
    title: `Choose the ${c.label} file (${c.path})`,
    properties: ['openFile'],
    filters: [{ name: 'safetensors checkpoints', extensions: ['safetensors'] }, { name: 'All files', extensions: ['*'] }],
  };
}

export async function chooseModelPath(choice: FolderChoice, show: ShowOpenDialog): Promise<string | null> {
  const r = await show(modelDialogOptions(choice));
  return r.canceled || r.filePaths.length === 0 ? null : r.filePaths[0];
}
