// Generate / Cancel, with the form's validation problems right above them.
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Typography from '@mui/material/Typography';
import PlayArrow from '@mui/icons-material/PlayArrow';
import Stop from '@mui/icons-material/Stop';

export interface GenerateBarProps {
  running: boolean;
  cancelling: boolean;
  problems: readonly string[];
  onGenerate: () => void;
  onCancel: () => void;
}

const isMac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform);

export function GenerateBar({ running, cancelling, problems, onGenerate, onCancel }: GenerateBarProps) {
  return (
    <Box sx={{ display: 'grid', gap: 0.5 }}>
      {problems.length > 0 && (
        <Box role="alert" aria-label="Form problems">
          {problems.map((p) => <Typography key={p} variant="caption" component="div" color="error">{p}</Typography>)}
        </Box>
      )}
      <Box sx={{ display: 'grid', gridTemplateColumns: '1fr auto', gap: 1 }}>
        <Button
          variant="contained"
          size="large"
          startIcon={<PlayArrow />}
          disabled={running || problems.length > 0}
          onClick={onGenerate}
          title={`Generate (${isMac ? '⌘' : 'Ctrl'}+Enter)`}
        >
          Generate
        </Button>
        <Button variant="outlined" size="large" color="error" startIcon={<Stop />} disabled={!running || cancelling} onClick={onCancel} title="Cancel (Esc)">
          Cancel
        </Button>
      </Box>
    </Box>
  );
}
