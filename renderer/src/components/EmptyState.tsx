// Shown instead of a result when the backbone cannot run: what is missing, and the ways forward.
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Typography from '@mui/material/Typography';
import Inventory2Outlined from '@mui/icons-material/Inventory2Outlined';
import type { BackboneId } from '../../../shared/model-manifests.js';
import type { ModelStatus } from '../../../shared/umo-api.js';
import { BACKBONE_LABELS, formatBytes } from '../formState.js';

export interface EmptyStateProps {
  backbone: BackboneId;
  status: ModelStatus;
  onOpenSetup: () => void;
  onTryDemo?: () => void;
}

export function EmptyState({ backbone, status, onOpenSetup, onTryDemo }: EmptyStateProps) {
  const missing = status.components.filter((c) => !c.optional && c.status !== 'found');
  const unsupported = status.components.length === 0;
  return (
    <Box component="section" aria-label="Models needed" sx={{ display: 'grid', placeItems: 'center', textAlign: 'center', gap: 1.5, py: 6, px: 3 }}>
      <Inventory2Outlined sx={{ fontSize: 48, color: 'text.secondary' }} />
      <Typography variant="h6" component="h2">
        {unsupported ? `${BACKBONE_LABELS[backbone]} is not available yet` : `${BACKBONE_LABELS[backbone]} needs its model files`}
      </Typography>
      {unsupported ? (
        <Typography variant="body2" color="text.secondary" sx={{ maxWidth: 520 }}>
          This version cannot run {BACKBONE_LABELS[backbone]} yet. Switch the backbone to UNO to generate.
        </Typography>
      ) : (
        <>
          <Typography variant="body2" color="text.secondary" sx={{ maxWidth: 560 }}>
            {missing.length} required file{missing.length === 1 ? ' is' : 's are'} missing or unusable
            ({missing.map((c) => c.label).join(', ')}), about {formatBytes(status.missingBytes)} to download.
            Point the app at a folder that holds them, or at your Hugging Face cache.
          </Typography>
          <Box sx={{ display: 'flex', gap: 1, flexWrap: 'wrap', justifyContent: 'center' }}>
            <Button variant="contained" onClick={onOpenSetup}>Set up models</Button>
            {status.demoAvailable && onTryDemo && (
              <Button variant="outlined" onClick={onTryDemo}>Try the demo model</Button>
            )}
          </Box>
          {status.demoAvailable && (
            <Typography variant="caption" color="text.secondary" sx={{ maxWidth: 480 }}>
              The demo model has random weights: it shows that the app works on this machine, it does not make pictures of anything.
            </Typography>
          )}
        </>
      )}
    </Box>
  );
}
