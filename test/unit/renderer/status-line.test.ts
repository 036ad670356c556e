import { describe, expect, test } from 'vitest';
import { deviceText } from '../../../renderer/src/statusText.js';
import { DEFAULT_SETTINGS } from '../../../shared/settings.js';

const dev = (ep: string, works: boolean, auto = false) => ({ ep, available: true, works, detail: works ? 'ok' : 'no', auto });

describe('status line device text', () => {
  test('shows the provider the engine resolves "auto" to, not just any working GPU provider', () => {
    // WebGPU works through a software driver, but the engine picks CPU on this machine.
    expect(deviceText(DEFAULT_SETTINGS, [dev('cpu', true, true), dev('webgpu', true)])).toBe('cpu (auto)');
    expect(deviceText(DEFAULT_SETTINGS, [dev('cpu', true), dev('webgpu', true, true)])).toBe('webgpu (auto)');
  });

  test('an explicit choice that does not work says CPU is used', () => {
    expect(deviceText({ ...DEFAULT_SETTINGS, devicePreference: 'cuda' }, [dev('cpu', true, true), dev('cuda', false)])).toBe('cuda (not working; CPU is used)');
    expect(deviceText(DEFAULT_SETTINGS, null)).toBe('detecting…');
  });
});
