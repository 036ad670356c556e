// UNO / OmniGen2 switch (the same setting as the app menu's Backbone submenu).
import ToggleButton from '@mui/material/ToggleButton';
import ToggleButtonGroup from '@mui/material/ToggleButtonGroup';
import type { BackboneId } from '../../../shared/model-manifests.js';
import { BACKBONE_LABELS } from '../formState.js';

export function BackboneToggle({ value, onChange }: { value: BackboneId; onChange: (b: BackboneId) => void }) {
  return (
    <ToggleButtonGroup
      size="small"
      exclusive
      value={value}
      aria-label="Backbone"
      onChange={(_, v: BackboneId | null) => v && onChange(v)}
    >
      {(['uno', 'omnigen2'] as const).map((b) => (
        <ToggleButton key={b} value={b} sx={{ px: 2, textTransform: 'none' }}>{BACKBONE_LABELS[b]}</ToggleButton>
      ))}
    </ToggleButtonGroup>
  );
}
