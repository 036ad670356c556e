// Texts of the status line (pure: unit-tested without React).
import type { Settings } from '../../shared/settings.js';
import type { DeviceInfo, ModelStatus } from '../../shared/umo-api.js';

export function deviceText(settings: Settings, devices: DeviceInfo[] | null): string {
  if (!devices) return 'detecting…';
  const works = devices.filter((d) => d.works);
  if (settings.devicePreference !== 'auto') {
    const d = devices.find((x) => x.ep === settings.devicePreference);
    return d?.works ? d.ep : `${settings.devicePreference} (not working; CPU is used)`;
  }
  const chosen = devices.find((d) => d.auto) ?? works.find((d) => d.ep === 'cpu');
  return chosen ? `${chosen.ep} (auto)` : 'unknown';
}

/**
 * Why the chosen device is not used (an explicit choice whose probe failed or that is not available
 * here), or null. Jobs then run on the CPU: the app says so instead of silently running slower.
 */
export function devicePreferenceProblem(settings: Settings, devices: DeviceInfo[] | null): string | null {
  const pref = settings.devicePreference;
  if (!devices || devices.length === 0 || pref === 'auto' || pref === 'cpu') return null;
  const d = devices.find((x) => x.ep === pref);
  if (d?.works) return null;
  const why = !d ? 'not reported by the engine' : d.available ? `it failed: ${d.detail}` : `not available: ${d.detail}`;
  return `The chosen device ${pref} does not work here (${why}); generations use the CPU. Choose another device in Settings.`;
}

export function modelsText(status: ModelStatus | null, error: string | null): string {
  if (error) return `models: check failed (${error})`;
  if (!status) return 'models: checking…';
  const required = status.components.filter((c) => !c.optional);
  const found = required.filter((c) => c.status === 'found').length;
  const invalid = required.filter((c) => c.status === 'invalid').length;
  if (required.length === 0) return 'models: not supported yet';
  return `models: ${found}/${required.length} found${invalid ? `, ${invalid} invalid` : ''}${status.ready ? '' : ' — not ready'}`;
}
