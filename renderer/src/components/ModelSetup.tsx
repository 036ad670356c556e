// Model setup: each component the backbone needs (from the manifest via getModelStatus), its
// expected size, found / missing / invalid with where or why, download links, models folder, re-scan.
import { useEffect, useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import Link from '@mui/material/Link';
import List from '@mui/material/List';
import ListItem from '@mui/material/ListItem';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import Refresh from '@mui/icons-material/Refresh';
import type { BackboneId } from '../../../shared/model-manifests.js';
import type { Settings, SettingsPatch } from '../../../shared/settings.js';
import type { ComponentStatus, ModelStatus } from '../../../shared/umo-api.js';
import { errorMessage } from '../api/file-source.js';
import { BACKBONE_LABELS, formatBytes } from '../formState.js';

const SOURCE_LABELS: Record<NonNullable<ComponentStatus['source']>, string> = {
  'models-root': 'models folder',
  'hf-cache': 'Hugging Face cache',
  override: 'override',
};

export interface ModelSetupProps {
  open: boolean;
  backbone: BackboneId;
  status: ModelStatus | null;
  statusError: string | null;
  settings: Settings;
  onClose: () => void;
  onRescan: () => Promise<void>;
  onSaveSettings: (patch: SettingsPatch) => Promise<Settings>;
}

export function ModelSetup({ open, backbone, status, statusError, settings, onClose, onRescan, onSaveSettings }: ModelSetupProps) {
  const [root, setRoot] = useState(settings.modelsRoot ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (open) setRoot(settings.modelsRoot ?? '');
  }, [open, settings.modelsRoot]);

  const rescan = async () => {
    setBusy(true);
    setError(null);
    try {
      if ((settings.modelsRoot ?? '') !== root.trim()) await onSaveSettings({ modelsRoot: root.trim() || null });
      await onRescan();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog open={open} onClose={onClose} maxWidth="md" fullWidth aria-labelledby="setup-title">
      <DialogTitle id="setup-title">Model setup — {BACKBONE_LABELS[backbone]}</DialogTitle>
      <DialogContent sx={{ display: 'grid', gap: 2 }}>
        <Box sx={{ display: 'grid', gridTemplateColumns: '1fr auto', gap: 1, alignItems: 'start', pt: 1 }}>
          <TextField label="Models folder" value={root} onChange={(e) => setRoot(e.target.value)}
            helperText="The folder holding the checkpoints; the Hugging Face cache is searched too." />
          <Button variant="contained" startIcon={<Refresh />} onClick={() => void rescan()} disabled={busy}>Re-scan</Button>
        </Box>
        {statusError && <Alert severity="error">Could not check the models: {statusError}</Alert>}
        {error && <Alert severity="error">{error}</Alert>}
        {status && <SetupSummary status={status} />}
        {status && status.components.length === 0 && (
          <Alert severity="info">{BACKBONE_LABELS[backbone]} is not supported by this version yet: there is nothing to set up.</Alert>
        )}
        {status && (
          <List aria-label="Model components" dense disablePadding>
            {status.components.map((c) => <ComponentRow key={c.id} c={c} />)}
          </List>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Close</Button>
      </DialogActions>
    </Dialog>
  );
}

function SetupSummary({ status }: { status: ModelStatus }) {
  const need = status.missingBytes;
  const free = status.freeDiskBytes;
  if (status.ready) return <Alert severity="success">Everything required is in place.</Alert>;
  return (
    <Alert severity={free !== null && need > free ? 'error' : 'warning'}>
      Missing downloads: about {formatBytes(need)}; free disk space: {formatBytes(free)}.
      {free !== null && need > free ? ' Not enough space for the missing files.' : ''}
    </Alert>
  );
}

function ComponentRow({ c }: { c: ComponentStatus }) {
  const color = c.status === 'found' ? 'success' : c.status === 'invalid' ? 'error' : c.optional ? 'default' : 'warning';
  return (
    <ListItem divider aria-label={`${c.label}: ${c.status}`} sx={{ display: 'grid', gridTemplateColumns: '1fr auto', gap: 1, alignItems: 'start' }}>
      <Box sx={{ minWidth: 0 }}>
        <Typography variant="body2" sx={{ fontWeight: 600 }}>
          {c.label}{c.optional ? ' (optional)' : ''}
        </Typography>
        <Typography variant="caption" component="div" color="text.secondary">
          {c.repo}{c.file ? ` / ${c.file}` : ''} · about {formatBytes(c.approxBytes)}
        </Typography>
        {c.status === 'found' && c.path && (
          <Typography variant="caption" component="div" sx={{ wordBreak: 'break-all' }}>
            Found in the {c.source ? SOURCE_LABELS[c.source] : 'file system'}: {c.path}{c.bytes !== undefined ? ` (${formatBytes(c.bytes)})` : ''}
          </Typography>
        )}
        {c.status === 'invalid' && (
          <Typography variant="caption" component="div" color="error" sx={{ wordBreak: 'break-word' }}>
            {c.path ? `${c.path}: ` : ''}{c.problem ?? 'unusable file'}
          </Typography>
        )}
        {c.status === 'missing' && c.searched.length > 0 && (
          <Typography variant="caption" component="div" color="text.secondary" sx={{ wordBreak: 'break-all' }} title={c.searched.join('\n')}>
            Looked in: {c.searched.slice(0, 3).join('; ')}{c.searched.length > 3 ? ` and ${c.searched.length - 3} more` : ''}
          </Typography>
        )}
        <Link href={c.downloadUrl} target="_blank" rel="noreferrer" variant="caption">Download page</Link>
      </Box>
      <Chip size="small" color={color} label={c.status === 'found' ? 'Found' : c.status === 'invalid' ? 'Invalid' : 'Missing'} />
    </ListItem>
  );
}
