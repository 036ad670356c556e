// A width or height box: free typing, snapped to the spec when it loses focus or on Enter.
import { useEffect, useState } from 'react';
import TextField from '@mui/material/TextField';
import type { SizeLimits } from '../formState.js';

export interface SizeInputProps {
  label: string;
  value: number;
  limits: SizeLimits;
  snap: (v: number) => number;
  onChange: (v: number) => void;
}

export function SizeInput({ label, value, limits, snap, onChange }: SizeInputProps) {
  const [text, setText] = useState(String(value));
  useEffect(() => setText(String(value)), [value]);
  const commit = () => {
    const n = Number(text);
    const v = text.trim() === '' || !Number.isFinite(n) ? value : snap(n);
    setText(String(v));
    if (v !== value) onChange(v);
  };
  return (
    <TextField
      label={label}
      type="number"
      value={text}
      onChange={(e) => setText(e.target.value)}
      onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === 'Enter') commit();
      }}
      slotProps={{ htmlInput: { min: limits.min, max: limits.max, step: limits.step } }}
    />
  );
}
