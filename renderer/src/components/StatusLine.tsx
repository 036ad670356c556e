// Bottom status line: engine device, models found/missing for the current backbone, demo marker.
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import Typography from '@mui/material/Typography';
import type { BackboneId } from '../../../shared/model-manifests.js';
import type { Settings } from '../../../shared/settings.js';
import type { AppInfo, DeviceInfo, ModelStatus } from '../../../shared/umo-api.js';
import { DEMO_LABEL } from '../demoModel.js';
import { BACKBONE_LABELS } from '../formState.js';

export function deviceText(settings: Settings, devices: DeviceInfo[] | null): string {
  if (!devices) return 'detecting…';
  const works = devices.filter((d) => d.works);
  if (settings.devicePreference !== 'auto') {
    const d = devices.find((x) => x.ep === settings.devicePreference);
    return d?.works ? d.ep : `${settings.devicePreference} (not working; CPU is used)`;
  }
  const chosen = devices.find((d) => d.auto) ?? works.find((d) => d.ep === 'cpu');
  return chosen ? `${chosen.ep} (auto)` : 'unknown';
}

export function modelsText(status: ModelStatus | null, error: string | null): string {
  if (error) return `models: check failed (${error})`;
  if (!status) return 'models: checking…';
  const required = status.components.filter((c) => !c.optional);
  const found = required.filter((c) => c.status === 'found').length;
  const invalid = required.filter((c) => c.status === 'invalid').length;
  if (required.length === 0) return 'models: not supported yet';
  return `models: ${found}/${required.length} found${invalid ? `, ${invalid} invalid` : ''}${status.ready ? '' : ' — not ready'}`;
}

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
