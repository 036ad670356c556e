// The application menu template (items, radio state, accelerators) and the LoRA open flow.
import { describe, expect, it, vi } from 'vitest';
import type { MenuItemConstructorOptions } from 'electron';
import { DEFAULT_SETTINGS, type Settings } from '../../../shared/settings.js';
import { buildMenuTemplate, menuStateFromSettings, type MenuActions, type MenuState } from '../../../electron/main/menu-template.js';
import { LORA_FILE_FILTERS, installAppMenu, openLoraFromMenu, pickAndAddLora } from '../../../electron/main/menu.js';

function actions(): MenuActions & Record<string, ReturnType<typeof vi.fn>> {
  return {
    openLoraCheckpoint: vi.fn(), openOutputFolder: vi.fn(), openSettings: vi.fn(), setBackbone: vi.fn(),
    setActiveLora: vi.fn(), generate: vi.fn(), cancel: vi.fn(),
  };
}

const settings: Settings = {
  ...DEFAULT_SETTINGS,
  backbone: 'uno',
  recentLoras: [
    { path: '/loras/umo_uno.safetensors', label: 'UMO & UNO', backbone: 'uno' },
    { path: '/loras/omni.safetensors', label: 'omni', backbone: 'omnigen2' },
    { path: '/loras/uno_style.safetensors', label: 'uno_style', backbone: 'uno' },
  ],
  activeLora: { uno: '/loras/uno_style.safetensors', omnigen2: null },
};
const env = { platform: 'linux' as NodeJS.Platform, appName: 'UMO Studio', devTools: false };

function submenu(t: MenuItemConstructorOptions[], id: string): MenuItemConstructorOptions[] {
  const m = t.find((i) => i.id === id);
  if (!m) throw new Error(`no menu ${id}`);
  return m.submenu as MenuItemConstructorOptions[];
}
const item = (items: MenuItemConstructorOptions[], id: string) => {
  const i = items.find((x) => x.id === id);
  if (!i) throw new Error(`no item ${id}`);
  return i;
};
const click = (i: MenuItemConstructorOptions) => (i.click as unknown as () => void)();

describe('buildMenuTemplate', () => {
  const a = actions();
  const t = buildMenuTemplate(menuStateFromSettings(settings, env), a);

  it('has File, Edit, View, Backbone, LoRA and Generate menus', () => {
    expect(t.map((m) => m.label)).toEqual(['&File', '&Edit', '&View', '&Backbone', '&LoRA', '&Generate']);
    const file = submenu(t, 'file');
    expect(file.filter((i) => i.label).map((i) => i.label)).toEqual(['Open LoRA Checkpoint…', 'Open Output Folder', 'Settings…', 'Quit']);
    expect(item(file, 'quit').role).toBe('quit');
    expect(item(file, 'settings').accelerator).toBe('CmdOrCtrl+,');
    expect(submenu(t, 'edit').map((i) => i.role ?? i.type)).toEqual(['undo', 'redo', 'separator', 'cut', 'copy', 'paste', 'selectAll']);
    expect(submenu(t, 'view').map((i) => i.role ?? i.type)).not.toContain('toggleDevTools');
  });

  it('Backbone is a radio group with the current backbone checked', () => {
    const b = submenu(t, 'backbone');
    expect(b.map((i) => [i.label, i.type, i.checked])).toEqual([['UNO', 'radio', true], ['OmniGen2', 'radio', false]]);
    click(item(b, 'backbone-omnigen2'));
    expect(a.setBackbone).toHaveBeenCalledWith('omnigen2');
  });

  it('LoRA lists the current backbone\'s checkpoints as radio items, the active one checked', () => {
    const l = submenu(t, 'lora');
    const radios = l.filter((i) => i.type === 'radio');
    expect(radios.map((i) => [i.label, i.checked])).toEqual([
      ['No LoRA', false],
      ['UMO && UNO', false],
      ['uno_style', true],
    ]);
    expect(radios.filter((i) => i.checked)).toHaveLength(1);
    expect(l.some((i) => i.toolTip === '/loras/omni.safetensors')).toBe(false);
    click(item(l, 'lora-0'));
    expect(a.setActiveLora).toHaveBeenLastCalledWith('/loras/umo_uno.safetensors');
    click(item(l, 'lora-none'));
    expect(a.setActiveLora).toHaveBeenLastCalledWith(null);
    expect(l[l.length - 1].label).toBe('Open LoRA Checkpoint…');
    click(l[l.length - 1]);
    expect(a.openLoraCheckpoint).toHaveBeenCalledTimes(1);
  });

  it('"No LoRA" is checked when none is active, and the other backbone shows its own list', () => {
    const s2: Settings = { ...settings, backbone: 'omnigen2' };
    const l = submenu(buildMenuTemplate(menuStateFromSettings(s2, env), actions()), 'lora');
    expect(l.filter((i) => i.type === 'radio').map((i) => [i.label, i.checked])).toEqual([['No LoRA', true], ['omni', false]]);
  });

  it('an active LoRA missing from the recent list still shows, checked', () => {
    const s3: Settings = { ...settings, recentLoras: [], activeLora: { uno: 'C:\\loras\\gone.safetensors', omnigen2: null } };
    const l = submenu(buildMenuTemplate(menuStateFromSettings(s3, env), actions()), 'lora');
    expect(l.filter((i) => i.type === 'radio').map((i) => [i.label, i.checked])).toEqual([['No LoRA', false], ['gone.safetensors', true]]);
  });

  it('Generate and Cancel carry Ctrl/Cmd+Enter and Esc and send the commands', () => {
    const g = submenu(t, 'generate-menu');
    expect(item(g, 'generate')).toMatchObject({ label: 'Generate', accelerator: 'CmdOrCtrl+Enter' });
    expect(item(g, 'cancel')).toMatchObject({ label: 'Cancel Generation', accelerator: 'Escape' });
    click(item(g, 'generate'));
    click(item(g, 'cancel'));
    expect(a.generate).toHaveBeenCalledTimes(1);
    expect(a.cancel).toHaveBeenCalledTimes(1);
  });

  it('File items call their actions', () => {
    const file = submenu(t, 'file');
    click(item(file, 'open-output-folder'));
    click(item(file, 'settings'));
    click(item(file, 'open-lora'));
    expect(a.openOutputFolder).toHaveBeenCalled();
    expect(a.openSettings).toHaveBeenCalled();
  });

  it('on macOS: an app menu with Settings and Quit, a Window menu, and no Quit under File', () => {
    const state: MenuState = { ...menuStateFromSettings(settings, env), platform: 'darwin', devTools: true };
    const mt = buildMenuTemplate(state, actions());
    expect(mt[0].label).toBe('UMO Studio');
    expect((mt[0].submenu as MenuItemConstructorOptions[]).map((i) => i.role ?? i.id ?? i.type)).toContain('quit');
    expect(submenu(mt, 'file').some((i) => i.role === 'quit')).toBe(false);
    expect(mt[mt.length - 1].role).toBe('windowMenu');
    expect(submenu(mt, 'view').map((i) => i.role)).toContain('toggleDevTools');
  });
});

describe('installAppMenu', () => {
  it('builds the template and sets it as the application menu', () => {
    const Menu = { buildFromTemplate: vi.fn((t: unknown) => ({ t })), setApplicationMenu: vi.fn() };
    installAppMenu(Menu as never, settings, env, actions());
    expect(Menu.buildFromTemplate).toHaveBeenCalledTimes(1);
    const built = Menu.setApplicationMenu.mock.calls[0][0] as { t: MenuItemConstructorOptions[] };
    expect(built.t.map((m) => m.id)).toContain('lora');
  });
});

describe('Open LoRA checkpoint', () => {
  it('filters the dialog to .safetensors', () => {
    expect(LORA_FILE_FILTERS).toEqual([{ name: 'LoRA checkpoint (safetensors)', extensions: ['safetensors'] }]);
  });

  it('a valid file is validated by the services and becomes the active LoRA', async () => {
    const entry = { path: '/l/a.safetensors', label: 'a.safetensors', backbone: 'uno' as const };
    const deps = {
      pickFile: vi.fn(async () => '/l/a.safetensors'),
      addLora: vi.fn(async () => entry),
      setActiveLora: vi.fn(async () => undefined),
      showError: vi.fn(),
    };
    await expect(openLoraFromMenu('uno', deps)).resolves.toEqual(entry);
    expect(deps.addLora).toHaveBeenCalledWith({ backbone: 'uno', path: '/l/a.safetensors' });
    expect(deps.setActiveLora).toHaveBeenCalledWith('uno', '/l/a.safetensors');
    expect(deps.showError).not.toHaveBeenCalled();
  });

  it('an invalid file shows an error dialog and changes nothing', async () => {
    const deps = {
      pickFile: vi.fn(async () => '/l/not-a-lora.safetensors'),
      addLora: vi.fn(async () => { throw new Error('not-a-lora.safetensors: no UNO LoRA keys'); }),
      setActiveLora: vi.fn(async () => undefined),
      showError: vi.fn(),
    };
    await expect(openLoraFromMenu('uno', deps)).resolves.toBeNull();
    expect(deps.showError).toHaveBeenCalledWith('Not a usable LoRA checkpoint', 'not-a-lora.safetensors: no UNO LoRA keys');
    expect(deps.setActiveLora).not.toHaveBeenCalled();
  });

  it('a cancelled dialog does nothing', async () => {
    const deps = { pickFile: vi.fn(async () => null), addLora: vi.fn(), setActiveLora: vi.fn(), showError: vi.fn() };
    await expect(openLoraFromMenu('omnigen2', deps)).resolves.toBeNull();
    await expect(pickAndAddLora('omnigen2', deps)).resolves.toBeNull();
    expect(deps.addLora).not.toHaveBeenCalled();
    expect(deps.showError).not.toHaveBeenCalled();
  });
});
