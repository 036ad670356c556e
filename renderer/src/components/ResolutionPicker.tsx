// Output size: aspect-ratio presets at the backbone's default area, or a custom W×H snapped to the
// spec (multiples of 16 within the allowed range).
import Box from '@mui/material/Box';
import FormControl from '@mui/material/FormControl';
import InputLabel from '@mui/material/InputLabel';
import MenuItem from '@mui/material/MenuItem';
import Select from '@mui/material/Select';
import Typography from '@mui/material/Typography';
import type { BackboneId } from '../../../shared/model-manifests.js';
import { matchingPreset, sizePresets, sizeSpecs, snapDimension, type SizeLimits } from '../formState.js';
import { SizeInput } from './SizeInput.js';

export interface ResolutionPickerProps {
  backbone: BackboneId;
  width: number;
  height: number;
  limits: SizeLimits;
  demoActive: boolean;
  onChange: (size: { width: number; height: number }) => void;
}

export function ResolutionPicker({ backbone, width, height, limits, demoActive, onChange }: ResolutionPickerProps) {
  const presets = sizePresets(backbone, limits);
  const current = matchingPreset(presets, width, height);
  const help = sizeSpecs(backbone).width.help;
  return (
    <Box component="section" aria-label="Resolution" sx={{ display: 'grid', gap: 1 }}>
      <Box sx={{ display: 'grid', gridTemplateColumns: 'minmax(140px, 1.3fr) 1fr auto 1fr', gap: 1, alignItems: 'center' }}>
        <FormControl size="small">
          <InputLabel id="aspect-ratio-label">Aspect ratio</InputLabel>
          <Select
            labelId="aspect-ratio-label"
            label="Aspect ratio"
            value={current?.ratio ?? 'custom'}
            onChange={(e) => {
              const p = presets.find((x) => x.ratio === e.target.value);
              if (p) onChange({ width: p.width, height: p.height });
            }}
          >
            {presets.map((p) => (
              <MenuItem key={p.ratio} value={p.ratio}>{p.ratio} — {p.width}×{p.height}</MenuItem>
            ))}
            <MenuItem value="custom" disabled>Custom</MenuItem>
          </Select>
        </FormControl>
        <SizeInput label="Width" value={width} limits={limits} snap={(v) => snapDimension(v, backbone, limits)} onChange={(w) => onChange({ width: w, height })} />
        <Typography aria-hidden color="text.secondary">×</Typography>
        <SizeInput label="Height" value={height} limits={limits} snap={(v) => snapDimension(v, backbone, limits)} onChange={(h) => onChange({ width, height: h })} />
      </Box>
      <Typography variant="caption" color="text.secondary">
        {limits.min}–{limits.max} px in steps of {limits.step}
        {demoActive ? ' (small sizes allowed for the demo model)' : ''}
        {help ? `. ${help}.` : '.'}
      </Typography>
    </Box>
  );
}
