// App-wide data from the API: settings (kept in sync with `settings-changed` events, e.g. from the
// menu), app info, the result history (`history-added`), the model status of the current backbone
// and the devices. Errors while loading are reported, never thrown into the tree.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { BackboneId } from '../../shared/model-manifests.js';
import type { Settings, SettingsPatch } from '../../shared/settings.js';
import type { AppInfo, DeviceInfo, HistoryItem, ModelStatus } from '../../shared/umo-api.js';
import { useUmo } from './api/api-context.js';
import { errorMessage } from './api/file-source.js';
import { useUmoEvents } from './useUmoEvents.js';

export interface AppData {
  settings: Settings | null;
  appInfo: AppInfo | null;
  history: HistoryItem[];
  modelStatus: ModelStatus | null;
  modelStatusError: string | null;
  devices: DeviceInfo[] | null;
  loadError: string | null;
  updateSettings(patch: SettingsPatch): Promise<Settings>;
  applySettings(s: Settings): void;
  refreshModelStatus(): Promise<void>;
  refreshDevices(): Promise<void>;
  /** The newest history item added since the last call (to show it), consumed by the caller. */
  lastAdded: HistoryItem | null;
}

export function useAppData(): AppData {
  const api = useUmo();
  const [settings, setSettings] = useState<Settings | null>(null);
  const [appInfo, setAppInfo] = useState<AppInfo | null>(null);
  const [history, setHistory] = useState<HistoryItem[]>([]);
  const [lastAdded, setLastAdded] = useState<HistoryItem | null>(null);
  const [modelStatus, setModelStatus] = useState<ModelStatus | null>(null);
  const [modelStatusError, setModelStatusError] = useState<string | null>(null);
  const [devices, setDevices] = useState<DeviceInfo[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    Promise.all([api.getSettings(), api.getAppInfo(), api.listHistory()])
      .then(([s, info, h]) => {
        if (!alive) return;
        setSettings(s);
        setAppInfo(info);
        setHistory((cur) => mergeHistory(h, cur));
      })
      .catch((e: unknown) => alive && setLoadError(`Could not reach the app: ${errorMessage(e)}`));
    return () => {
      alive = false;
    };
  }, [api]);

  const backbone: BackboneId | null = settings?.backbone ?? null;
  const refreshModelStatus = useCallback(async () => {
    if (!backbone) return;
    try {
      const st = await api.getModelStatus(backbone);
      setModelStatus(st);
      setModelStatusError(null);
    } catch (e) {
      setModelStatusError(errorMessage(e));
    }
  }, [api, backbone]);

  // Re-scan when the backbone or the model locations change.
  const modelsKey = settings ? JSON.stringify([settings.backbone, settings.modelsRoot, settings.modelOverrides, settings.useDemoModel]) : '';
  useEffect(() => {
    void refreshModelStatus();
  }, [refreshModelStatus, modelsKey]);

  const refreshDevices = useCallback(async () => {
    try {
      setDevices(await api.listDevices());
    } catch {
      setDevices([]);
    }
  }, [api]);
  useEffect(() => {
    void refreshDevices();
  }, [refreshDevices]);

  // Counts settings-changed events: the server sends one before it answers an update, so when one
  // arrives while an update is in flight, the state from events is at least as new as the answer
  // (e.g. LoRAs found by the model scan that the backbone switch started).
  const settingsEvents = useRef(0);
  useUmoEvents((ev) => {
    if (ev.type === 'settings-changed') {
      settingsEvents.current++;
      setSettings(ev.settings);
    }
    else if (ev.type === 'history-added') {
      setHistory((cur) => mergeHistory(cur, [ev.item]));
      setLastAdded(ev.item);
    }
  });

  const updateSettings = useCallback(async (patch: SettingsPatch) => {
    const seen = settingsEvents.current;
    const s = await api.updateSettings(patch);
    if (settingsEvents.current === seen) setSettings(s);
    return s;
  }, [api]);

  return { settings, appInfo, history, modelStatus, modelStatusError, devices, loadError, updateSettings, applySettings: setSettings, refreshModelStatus, refreshDevices, lastAdded };
}

/** History without duplicate jobs, oldest first. */
export function mergeHistory(a: readonly HistoryItem[], b: readonly HistoryItem[]): HistoryItem[] {
  const byId = new Map<string, HistoryItem>();
  for (const item of [...a, ...b]) byId.set(item.jobId + '\u0000' + item.url, item);
  return [...byId.values()].sort((x, y) => x.createdAt - y.createdAt);
}
