// The backbone's generation parameters with the ranges of the shared specs: UNO (steps, guidance)
// or OmniGen2 (negative prompt, guidances, CFG range, scheduler, steps, images, input limits, align).
import Accordion from '@mui/material/Accordion';
import AccordionDetails from '@mui/material/AccordionDetails';
import AccordionSummary from '@mui/material/AccordionSummary';
import Box from '@mui/material/Box';
import Checkbox from '@mui/material/Checkbox';
import FormControl from '@mui/material/FormControl';
import FormControlLabel from '@mui/material/FormControlLabel';
import FormHelperText from '@mui/material/FormHelperText';
import InputLabel from '@mui/material/InputLabel';
import MenuItem from '@mui/material/MenuItem';
import Select from '@mui/material/Select';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import ExpandMore from '@mui/icons-material/ExpandMore';
import { OMNIGEN2_DEFAULT_NEGATIVE_PROMPT, OMNIGEN2_PARAMS, OMNIGEN2_SCHEDULERS, UNO_PARAMS } from '../../../shared/backbone-params.js';
import type { OmniGen2Fields, Scheduler, UnoFields } from '../formState.js';
import { NumberField } from './NumberField.js';

export function UnoParams({ value, onChange }: { value: UnoFields; onChange: (patch: Partial<UnoFields>) => void }) {
  return (
    <Box component="section" aria-label="UNO parameters" sx={{ display: 'grid', gap: 1.5 }}>
      <NumberField spec={UNO_PARAMS.steps} value={value.steps} onChange={(steps) => onChange({ steps })} />
      <NumberField spec={UNO_PARAMS.guidance} value={value.guidance} onChange={(guidance) => onChange({ guidance })} />
    </Box>
  );
}

export function OmniGen2Params({ value, onChange, referenceCount }: {
  value: OmniGen2Fields;
  onChange: (patch: Partial<OmniGen2Fields>) => void;
  referenceCount: number;
}) {
  const P = OMNIGEN2_PARAMS;
  return (
    <Box component="section" aria-label="OmniGen2 parameters" sx={{ display: 'grid', gap: 1.5 }}>
      <TextField
        label="Negative prompt"
        multiline
        minRows={2}
        maxRows={5}
        value={value.negativePrompt}
        onChange={(e) => onChange({ negativePrompt: e.target.value })}
        helperText={value.negativePrompt === OMNIGEN2_DEFAULT_NEGATIVE_PROMPT ? 'The official default' : ' '}
      />
      <NumberField spec={P.textGuidance} value={value.textGuidance} onChange={(textGuidance) => onChange({ textGuidance })} />
      <NumberField spec={P.imageGuidance} value={value.imageGuidance} onChange={(imageGuidance) => onChange({ imageGuidance })} />
      <Box sx={{ display: 'grid', gap: 1.5 }}>
        {/* Linked like the official demo: start never exceeds end. */}
        <NumberField
          spec={P.cfgRangeStart}
          value={value.cfgRangeStart}
          onChange={(v) => onChange({ cfgRangeStart: v, cfgRangeEnd: Math.max(v, value.cfgRangeEnd) })}
        />
        <NumberField
          spec={P.cfgRangeEnd}
          value={value.cfgRangeEnd}
          onChange={(v) => onChange({ cfgRangeEnd: v, cfgRangeStart: Math.min(v, value.cfgRangeStart) })}
        />
      </Box>
      <Box sx={{ display: 'grid', gap: 1.5 }}>
        <FormControl size="small">
          <InputLabel id="scheduler-label">Scheduler</InputLabel>
          <Select labelId="scheduler-label" label="Scheduler" value={value.scheduler} onChange={(e) => onChange({ scheduler: e.target.value as Scheduler })}>
            {OMNIGEN2_SCHEDULERS.map((s) => <MenuItem key={s} value={s}>{s}</MenuItem>)}
          </Select>
        </FormControl>
        {/* The official app offers 20–100 steps (the engine and the CLI accept fewer). */}
        <NumberField spec={P.steps} min={P.steps.uiMin} value={value.steps} onChange={(steps) => onChange({ steps })} />
      </Box>
      <NumberField spec={P.images} value={value.images} onChange={(images) => onChange({ images })} />
      <Accordion disableGutters variant="outlined">
        <AccordionSummary expandIcon={<ExpandMore />} aria-controls="omnigen2-advanced" id="omnigen2-advanced-header">
          <Typography variant="body2">Advanced options</Typography>
        </AccordionSummary>
        <AccordionDetails id="omnigen2-advanced" sx={{ display: 'grid', gap: 1.5 }}>
          <NumberField spec={P.maxInputSide} value={value.maxInputSide} onChange={(maxInputSide) => onChange({ maxInputSide })} />
          <NumberField spec={P.maxPixels} value={value.maxPixels} onChange={(maxPixels) => onChange({ maxPixels })} />
          <Box>
            <FormControlLabel
              control={<Checkbox checked={value.alignRes} onChange={(e) => onChange({ alignRes: e.target.checked })} />}
              label="Align resolution"
            />
            <FormHelperText sx={{ mt: -0.5 }}>
              Only with one reference image{referenceCount === 1 ? '' : ` (now ${referenceCount}: no effect)`}
            </FormHelperText>
          </Box>
        </AccordionDetails>
      </Accordion>
    </Box>
  );
}
