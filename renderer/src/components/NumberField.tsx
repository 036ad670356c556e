// A Gradio-style numeric control: a slider and a number box bound to one value of a parameter spec.
// Accessible names: the number box is "<label>", the slider "<label> slider".
import { useEffect, useState } from 'react';
import Box from '@mui/material/Box';
import Slider from '@mui/material/Slider';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import type { NumberParamSpec } from '../../../shared/backbone-params.js';

export interface NumberFieldProps {
  spec: Pick<NumberParamSpec, 'label' | 'min' | 'max' | 'step' | 'help'>;
  value: number;
  onChange: (v: number) => void;
  /** Overrides the spec's range (e.g. sizes for real checkpoints vs the demo model). */
  min?: number;
  max?: number;
  label?: string;
  disabled?: boolean;
  helperText?: string;
  /** Called when a slider drag ends (for values that are persisted, like the LoRA scale). */
  onCommit?: (v: number) => void;
  slider?: boolean;
}

function decimals(step: number): number {
  const s = String(step);
  return s.includes('.') ? s.length - s.indexOf('.') - 1 : 0;
}

export function clampToStep(v: number, min: number, max: number, step: number): number {
  const snapped = min + Math.round((v - min) / step) * step;
  return Number(Math.min(max, Math.max(min, snapped)).toFixed(decimals(step)));
}

export function NumberField({ spec, value, onChange, min, max, label, disabled, helperText, onCommit, slider = true }: NumberFieldProps) {
  const lo = min ?? spec.min;
  const hi = max ?? spec.max;
  const name = label ?? spec.label;
  const [text, setText] = useState(String(value));
  // Follow outside changes of the value, but keep what is being typed when it already means that value ("1." for 1).
  useEffect(() => setText((t) => (t.trim() !== '' && Number(t) === value ? t : String(value))), [value]);

  const commitText = () => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n)) {
      setText(String(value));
      return;
    }
    const v = clampToStep(n, lo, hi, spec.step);
    setText(String(v));
    if (v !== value) onChange(v);
    onCommit?.(v);
  };

  return (
    <Box sx={{ display: 'grid', gridTemplateColumns: slider ? '1fr 112px' : '1fr', alignItems: 'end', columnGap: 2 }}>
      {slider && (
        <Box sx={{ minWidth: 0 }}>
          <Typography variant="caption" component="div" color="text.secondary">{name}</Typography>
          <Slider
            size="small"
            value={Math.min(hi, Math.max(lo, value))}
            min={lo}
            max={hi}
            step={spec.step}
            disabled={disabled}
            onChange={(_, v) => onChange(v as number)}
            onChangeCommitted={(_, v) => onCommit?.(v as number)}
            slotProps={{ input: { 'aria-label': `${name} slider` } }}
            valueLabelDisplay="auto"
          />
        </Box>
      )}
      <TextField
        type="number"
        // With a slider the caption above it is the visible label; the box keeps the same accessible name.
        label={slider ? undefined : name}
        value={text}
        disabled={disabled}
        onChange={(e) => {
          setText(e.target.value);
          // Live update while the typed value is in range (snapping to the step happens on blur).
          const n = Number(e.target.value);
          if (e.target.value.trim() !== '' && Number.isFinite(n) && n >= lo && n <= hi && n !== value) onChange(n);
        }}
        onBlur={commitText}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.ctrlKey && !e.metaKey) commitText();
        }}
        helperText={helperText ?? (slider ? undefined : spec.help)}
        slotProps={{ htmlInput: { min: lo, max: hi, step: spec.step, 'aria-label': name } }}
      />
    </Box>
  );
}
