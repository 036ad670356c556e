// The setup view's native dialogs (chooseFolder, desktop only): a folder dialog for the models
// folder and folder components, a safetensors file dialog for single-file components, null on cancel.
import { describe, expect, it } from 'vitest';
import { chooseModelPath, modelDialogOptions } from '../../../electron/main/model-dialogs.js';

describe('model dialogs', () => {
  it('picks the dialog kind from the manifest component', () => {
    expect(modelDialogOptions({ kind: 'models-root' }).properties).toEqual(['openDirectory', 'createDirectory']);
    const t5 = modelDialogOptions({ kind: 'component', backbone: 'uno', component: 't5' });
    expect(t5.properties).toEqual(['openDirectory']);
    expect(t5.title).toContain('T5-XXL text encoder');
    const dit = modelDialogOptions({ kind: 'component', backbone: 'uno', component: 'dit' });
    expect(dit.properties).toEqual(['openFile']);
    expect(dit.title).toContain('flux1-dev.safetensors');
    expect(dit.filters?.[0].extensions).toEqual(['safetensors']);
    expect(() => modelDialogOptions({ kind: 'component', backbone: 'uno', component: 'nope' })).toThrow('uno has no model component "nope"');
    expect(() => modelDialogOptions({ kind: 'component', backbone: 'omnigen2', component: 'dit' })).toThrow(/omnigen2 has no model component/);
  });

  it('returns the chosen path, or null when cancelled', async () => {
    const seen: unknown[] = [];
    const picked = await chooseModelPath({ kind: 'models-root' }, async (o) => { seen.push(o); return { canceled: false, filePaths: ['/data/models'] }; });
    expect(picked).toBe('/data/models');
    expect(seen).toHaveLength(1);
    expect(await chooseModelPath({ kind: 'models-root' }, async () => ({ canceled: true, filePaths: [] }))).toBeNull();
  });
});
