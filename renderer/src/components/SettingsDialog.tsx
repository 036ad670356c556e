// Settings: models root, output folder, device preference (with the probed devices), memory
// budget, LoRA scale and theme. Edits are kept in the dialog until "Save".
import { useEffect, useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import FormControl from '@mui/material/FormControl';
import FormControlLabel from '@mui/material/FormControlLabel';
import FormLabel from '@mui/material/FormLabel';
import InputLabel from '@mui/material/InputLabel';
import MenuItem from '@mui/material/MenuItem';
import Radio from '@mui/material/Radio';
import RadioGroup from '@mui/material/RadioGroup';
import Select from '@mui/material/Select';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { UNO_PARAMS } from '../../../shared/backbone-params.js';
import { EP_PREFERENCES, type EpPreference } from '../../../shared/engine-protocol.js';
import { SettingsSchema, THEMES, type Settings, type SettingsPatch } from '../../../shared/settings.js';
import type { DeviceInfo } from '../../../shared/umo-api.js';
import { errorMessage } from '../api/file-source.js';
import { NumberField } from './NumberField.js';

const DEVICE_LABELS: Record<EpPreference, string> = {
  auto: 'Automatic', cpu: 'CPU', webgpu: 'WebGPU', dml: 'DirectML', cuda: 'CUDA', coreml: 'Core ML',
};

export interface SettingsDialogProps {
  open: boolean;
  settings: Settings;
  devices: DeviceInfo[] | null;
  onClose: () => void;
  onSave: (patch: SettingsPatch) => Promise<Settings>;
}

interface Draft {
  modelsRoot: string;
  outputDir: string;
  devicePreference: EpPreference;
  memoryBudget: string;
  loraScale: number;
  theme: Settings['theme'];
}

function draftOf(s: Settings): Draft {
  return {
    modelsRoot: s.modelsRoot ?? '', outputDir: s.outputDir ?? '', devicePreference: s.devicePreference,
    memoryBudget: s.memoryBudgetGiB === null ? '' : String(s.memoryBudgetGiB), loraScale: s.loraScale, theme: s.theme,
  };
}

/** The settings patch of a draft, or the problems that stop it from being saved. */
export function patchFromDraft(d: Draft): { patch?: SettingsPatch; problems: string[] } {
  const budget = d.memoryBudget.trim() === '' ? null : Number(d.memoryBudget);
  const patch: SettingsPatch = {
    modelsRoot: d.modelsRoot.trim() || null,
    outputDir: d.outputDir.trim() || null,
    devicePreference: d.devicePreference,
    memoryBudgetGiB: budget,
    loraScale: d.loraScale,
    theme: d.theme,
  };
  const r = SettingsSchema.partial().safeParse(patch);
  if (r.success) return { patch, problems: [] };
  return { problems: r.error.issues.map((i) => `${i.path.join('.') === 'memoryBudgetGiB' ? 'Memory budget' : i.path.join('.')}: ${i.message}`) };
}

export function SettingsDialog({ open, settings, devices, onClose, onSave }: SettingsDialogProps) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(settings));
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  useEffect(() => {
    if (open) {
      setDraft(draftOf(settings));
      setError(null);
    }
    // Reset only when the dialog opens (not while the user edits).
  }, [open]);
  const set = (patch: Partial<Draft>) => setDraft((d) => ({ ...d, ...patch }));
  const { problems } = patchFromDraft(draft);

  const save = async () => {
    const { patch, problems: p } = patchFromDraft(draft);
    if (!patch) {
      setError(p.join('; '));
      return;
    }
    setSaving(true);
    try {
      await onSave(patch);
      onClose();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setSaving(false);
    }
  };

  return (
    <Dialog open={open} onClose={onClose} maxWidth="sm" fullWidth aria-labelledby="settings-title">
      <DialogTitle id="settings-title">Settings</DialogTitle>
      <DialogContent sx={{ display: 'grid', gap: 2, pt: '8px !important' }}>
        <TextField label="Models folder" value={draft.modelsRoot} onChange={(e) => set({ modelsRoot: e.target.value })}
          helperText="Folder holding the checkpoints (Hugging Face repo layout or single files). Empty: only the Hugging Face cache." />
        <TextField label="Output folder" value={draft.outputDir} onChange={(e) => set({ outputDir: e.target.value })}
          helperText="Where generated images are saved. Empty: the app's default." />
        <Box sx={{ display: 'grid', gridTemplateColumns: '1fr 1fr', gap: 2 }}>
          <FormControl size="small">
            <InputLabel id="device-label">Device</InputLabel>
            <Select labelId="device-label" label="Device" value={draft.devicePreference} onChange={(e) => set({ devicePreference: e.target.value as EpPreference })}>
              {EP_PREFERENCES.map((ep) => {
                const info = devices?.find((d) => d.ep === ep);
                const suffix = ep === 'auto' ? '' : !devices ? '' : !info ? ' (not available)' : info.works ? ' (works)' : ` (${info.available ? 'fails' : 'not available'})`;
                return <MenuItem key={ep} value={ep}>{DEVICE_LABELS[ep]}{suffix}</MenuItem>;
              })}
            </Select>
          </FormControl>
          <TextField label="Memory budget (GiB)" type="number" value={draft.memoryBudget} onChange={(e) => set({ memoryBudget: e.target.value })}
            helperText="Empty: read from the device (GPU: nvidia-smi; CPU: RAM), minus a safety margin" slotProps={{ htmlInput: { min: 0.125, max: 512, step: 'any' } }} />
        </Box>
        {devices && devices.length > 0 && (
          <Box aria-label="Detected devices" component="ul" sx={{ m: 0, pl: 2.5 }}>
            {devices.map((d) => (
              <Typography component="li" variant="caption" key={d.ep} color={d.works ? 'text.primary' : 'text.secondary'}>
                {d.ep}: {d.works ? 'works' : d.available ? 'available but failed' : 'not available'}{d.detail ? ` — ${d.detail}` : ''}{d.auto ? ' (chosen by Automatic)' : ''}
              </Typography>
            ))}
          </Box>
        )}
        <NumberField spec={UNO_PARAMS.loraScale} value={draft.loraScale} onChange={(loraScale) => set({ loraScale })} />
        <FormControl>
          <FormLabel id="theme-label">Theme</FormLabel>
          <RadioGroup row aria-labelledby="theme-label" value={draft.theme} onChange={(e) => set({ theme: e.target.value as Settings['theme'] })}>
            {THEMES.map((t) => <FormControlLabel key={t} value={t} control={<Radio />} label={t === 'system' ? 'System' : t === 'light' ? 'Light' : 'Dark'} />)}
          </RadioGroup>
        </FormControl>
        {(error || problems.length > 0) && <Alert severity="error">{error ?? problems.join('; ')}</Alert>}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Cancel</Button>
        <Button variant="contained" onClick={() => void save()} disabled={saving || problems.length > 0}>Save</Button>
      </DialogActions>
    </Dialog>
  );
}
