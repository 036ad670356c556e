// LoRA choice for the current backbone: the same state as the settings and the app menu
// (`setActiveLora`, `loraScale`), so changes from the menu show up here and the other way round.
import { useRef, useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import FormControl from '@mui/material/FormControl';
import InputLabel from '@mui/material/InputLabel';
import MenuItem from '@mui/material/MenuItem';
import Select from '@mui/material/Select';
import Divider from '@mui/material/Divider';
import { UNO_PARAMS } from '../../../shared/backbone-params.js';
import type { BackboneId } from '../../../shared/model-manifests.js';
import type { Settings, SettingsPatch } from '../../../shared/settings.js';
import { useUmo } from '../api/api-context.js';
import { errorMessage, fileToInput } from '../api/file-source.js';
import { fileName } from '../formState.js';
import { NumberField } from './NumberField.js';

const NONE = '__none__';
const ADD = '__add__';

export interface LoraPickerProps {
  backbone: BackboneId;
  settings: Settings;
  mode: 'desktop' | 'web';
  updateSettings: (patch: SettingsPatch) => Promise<Settings>;
  /** Adopt settings returned by the API (the `settings-changed` event may also bring them). */
  applySettings: (s: Settings) => void;
}

export function LoraPicker({ backbone, settings, mode, updateSettings, applySettings }: LoraPickerProps) {
  const api = useUmo();
  const fileInput = useRef<HTMLInputElement>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [scale, setScale] = useState<number | null>(null);
  const loras = settings.recentLoras.filter((l) => l.backbone === backbone);
  const active = settings.activeLora[backbone];
  const activeKnown = active === null || loras.some((l) => l.path === active);

  const choose = async (path: string | null) => {
    setError(null);
    try {
      applySettings(await api.setActiveLora(backbone, path));
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  const addLora = async (input: { path?: string; name?: string; bytes?: Uint8Array }) => {
    setBusy(true);
    setError(null);
    try {
      const entry = await api.addLora({ backbone, ...input });
      if (entry) applySettings(await api.setActiveLora(backbone, entry.path));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Box component="section" aria-label="LoRA" sx={{ display: 'grid', gap: 1 }}>
      <FormControl size="small" disabled={busy}>
        <InputLabel id="lora-label">LoRA</InputLabel>
        <Select
          labelId="lora-label"
          label="LoRA"
          value={active ?? NONE}
          onChange={(e) => {
            const v = e.target.value;
            if (v === ADD) {
              if (mode === 'desktop') void addLora({});
              else fileInput.current?.click();
              return;
            }
            void choose(v === NONE ? null : v);
          }}
        >
          <MenuItem value={NONE}>No LoRA</MenuItem>
          {loras.map((l) => (
            <MenuItem key={l.path} value={l.path} title={l.path}>{l.label}</MenuItem>
          ))}
          {!activeKnown && active && <MenuItem value={active}>{fileName(active)}</MenuItem>}
          <Divider />
          <MenuItem value={ADD}>Add LoRA file…</MenuItem>
        </Select>
      </FormControl>
      <input
        ref={fileInput}
        type="file"
        accept=".safetensors"
        hidden
        aria-label="LoRA file"
        onChange={(e) => {
          const file = e.target.files?.[0];
          e.target.value = '';
          if (!file) return;
          void (async () => {
            const input = await fileToInput(file);
            await addLora('path' in input ? { path: input.path } : { name: input.name, bytes: input.bytes });
          })();
        }}
      />
      <NumberField
        spec={UNO_PARAMS.loraScale}
        value={scale ?? settings.loraScale}
        disabled={active === null}
        onChange={setScale}
        onCommit={(v) => {
          void updateSettings({ loraScale: v })
            .catch((e: unknown) => setError(errorMessage(e)))
            .finally(() => setScale(null));
        }}
      />
      {error && <Alert severity="error" onClose={() => setError(null)}>{error}</Alert>}
    </Box>
  );
}
