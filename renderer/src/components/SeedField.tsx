// Seed: a number, a "Random seed" switch (sends −1) and "Reuse last seed".
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import FormControlLabel from '@mui/material/FormControlLabel';
import Switch from '@mui/material/Switch';
import { UNO_PARAMS } from '../../../shared/backbone-params.js';
import { NumberField } from './NumberField.js';

export interface SeedFieldProps {
  seed: number;
  random: boolean;
  lastSeed: number | null;
  onChange: (v: { seed?: number; random?: boolean }) => void;
}

export function SeedField({ seed, random, lastSeed, onChange }: SeedFieldProps) {
  const spec = { ...UNO_PARAMS.seed, min: 0 };
  return (
    <Box sx={{ display: 'grid', gridTemplateColumns: '1fr auto auto', alignItems: 'center', gap: 1 }}>
      <NumberField spec={spec} value={seed} slider={false} disabled={random} onChange={(v) => onChange({ seed: v })} helperText=" " />
      <FormControlLabel
        sx={{ mb: 2.5 }}
        control={<Switch checked={random} onChange={(e) => onChange({ random: e.target.checked })} />}
        label="Random seed"
      />
      <Button
        sx={{ mb: 2.5 }}
        size="small"
        variant="outlined"
        disabled={lastSeed === null}
        onClick={() => lastSeed !== null && onChange({ seed: lastSeed, random: false })}
        title={lastSeed === null ? 'No result yet' : `Use seed ${lastSeed}`}
      >
        Reuse last seed
      </Button>
    </Box>
  );
}
