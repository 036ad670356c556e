// Bottom status line: engine device, models found/missing for the current backbone, demo marker.
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import Typography from '@mui/material/Typography';
import type { BackboneId } from '../../../shared/model-manifests.js';
import type { Settings } from '../../../shared/settings.js';
import type { AppInfo, DeviceInfo, ModelStatus } from '../../../shared/umo-api.js';
import { DEMO_LABEL } from '../demoModel.js';
import { deviceText, modelsText } from '../statusText.js';
import { BACKBONE_LABELS } from '../formState.js';


export interface StatusLineProps {
  backbone: BackboneId;
  settings: Settings;
  devices: DeviceInfo[] | null;
  status: ModelStatus | null;
  statusError: string | null;
  appInfo: AppInfo | null;
  demoActive: boolean;
  onOpenSetup: () => void;
  /** Switch the demo model off. */
  onUseOwnModels?: () => void;
}

export function StatusLine({ backbone, settings, devices, status, statusError, appInfo, demoActive, onOpenSetup, onUseOwnModels }: StatusLineProps) {
  return (
    <Box component="footer" role="contentinfo" aria-label="Status" sx={{
      display: 'flex', alignItems: 'center', gap: 2, px: 2, height: 36, borderTop: 1, borderColor: 'divider',
      bgcolor: 'background.paper', whiteSpace: 'nowrap', overflow: 'hidden',
    }}>
      <Typography variant="caption" sx={{ flexShrink: 0 }}>Device: {deviceText(settings, devices)}</Typography>
      {demoActive ? (
        // Generation uses the demo kit: its label replaces the count of the user's own model files.
        <Chip size="small" color="warning" label={DEMO_LABEL} title={DEMO_LABEL} sx={{ minWidth: 0, flexShrink: 1 }} />
      ) : (
        <Typography variant="caption" sx={{ overflow: 'hidden', textOverflow: 'ellipsis', minWidth: 0 }}>
          {BACKBONE_LABELS[backbone]} {modelsText(status, statusError)}
        </Typography>
      )}
      {demoActive && onUseOwnModels && <Button size="small" onClick={onUseOwnModels} sx={{ flexShrink: 0 }}>Use my own models</Button>}
      <Button size="small" onClick={onOpenSetup} sx={{ flexShrink: 0 }}>Set up models</Button>
      <Box sx={{ flex: 1 }} />
      {appInfo && (
        <Typography variant="caption" color="text.secondary" sx={{ overflow: 'hidden', textOverflow: 'ellipsis', minWidth: 0, flexShrink: 2 }}>
          UMO Studio {appInfo.version} · {appInfo.mode}
        </Typography>
      )}
    </Box>
  );
}
