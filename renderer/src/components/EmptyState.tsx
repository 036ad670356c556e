// Shown instead of a result when the backbone cannot run: what is missing, and the ways forward
// (set up the real checkpoints, or try the built-in demo model, installed on first use).
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import CircularProgress from '@mui/material/CircularProgress';
import Typography from '@mui/material/Typography';
import Inventory2Outlined from '@mui/icons-material/Inventory2Outlined';
import type { BackboneId } from '../../../shared/model-manifests.js';
import type { ModelStatus } from '../../../shared/umo-api.js';
import { BACKBONE_LABELS, formatBytes } from '../formState.js';

export interface EmptyStateProps {
  backbone: BackboneId;
  status: ModelStatus;
  onOpenSetup: () => void;
  /** Install (if needed) and switch to the demo model. */
  onTryDemo?: () => void;
  /** True while the demo model is being installed. */
  demoBusy?: boolean;
}

export function EmptyState({ backbone, status, onOpenSetup, onTryDemo, demoBusy = false }: EmptyStateProps) {
  const missing = status.components.filter((c) => !c.optional && c.status !== 'found');
  const unsupported = status.components.length === 0;
  const demoButton = onTryDemo && (
    <Button variant="outlined" onClick={onTryDemo} disabled={demoBusy}
      startIcon={demoBusy ? <CircularProgress size={16} aria-label="Installing the demo model" /> : undefined}>
      {demoBusy ? 'Installing the demo model…' : 'Try the demo model'}
    </Button>
  );
  const demoNote = onTryDemo && (
    <Typography variant="caption" color="text.secondary" sx={{ maxWidth: 480 }}>
      The demo model ({status.demoAvailable ? 'installed' : 'about 20 MB, written on first use'}) has random weights: it shows that
      the app works on this machine, it does not make pictures of anything.
    </Typography>
  );
  return (
    <Box component="section" aria-label="Models needed" sx={{ display: 'grid', placeItems: 'center', textAlign: 'center', gap: 1.5, py: 6, px: 3 }}>
      <Inventory2Outlined sx={{ fontSize: 48, color: 'text.secondary' }} />
      <Typography variant="h6" component="h2">
        {unsupported ? `${BACKBONE_LABELS[backbone]} is not available yet` : `${BACKBONE_LABELS[backbone]} needs its model files`}
      </Typography>
      {unsupported ? (
        <>
          <Typography variant="body2" color="text.secondary" sx={{ maxWidth: 520 }}>
            This version cannot run {BACKBONE_LABELS[backbone]} yet. Switch the backbone to UNO to generate.
          </Typography>
          {demoButton}
          {demoNote}
        </>
      ) : (
        <>
          <Typography variant="body2" color="text.secondary" sx={{ maxWidth: 560 }}>
            {missing.length} required file{missing.length === 1 ? ' is' : 's are'} missing or unusable
            ({missing.map((c) => c.label).join(', ')}), about {formatBytes(status.missingBytes)} to download.
            Point the app at a folder that holds them, or at your Hugging Face cache.
          </Typography>
          <Box sx={{ display: 'flex', gap: 1, flexWrap: 'wrap', justifyContent: 'center' }}>
            <Button variant="contained" onClick={onOpenSetup}>Set up models</Button>
            {demoButton}
          </Box>
          {demoNote}
        </>
      )}
    </Box>
  );
}
