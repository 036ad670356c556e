// Model setup: what the backbone needs and what the app found, re-scanned on request without a
// restart. Per component (from the manifest via getModelStatus): the repo and file, the expected
// size, found (and where: models folder, Hugging Face cache or an override) / missing (and where it
// looked) / unusable (and why: truncated, wrong format, wrong shapes), the download page, and an
// override — a native dialog on the desktop (chooseFolder), a validated path field in web mode.
// Also the models folder, the Hugging Face cache that is searched, disk space needed against free,
// and the built-in demo model.
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
import FolderOpen from '@mui/icons-material/FolderOpen';
import Refresh from '@mui/icons-material/Refresh';
import { MANIFESTS, type BackboneId, type ManifestComponent } from '../../../shared/model-manifests.js';
import type { Settings, SettingsPatch } from '../../../shared/settings.js';
import type { ComponentStatus, FolderChoice, ModelStatus } from '../../../shared/umo-api.js';
import { useUmo } from '../api/api-context.js';
import { errorMessage } from '../api/file-source.js';
import { DEMO_LABEL } from '../demoModel.js';
import { BACKBONE_LABELS, formatBytes } from '../formState.js';

const SOURCE_LABELS: Record<NonNullable<ComponentStatus['source']>, string> = {
  'models-root': 'models folder',
  'hf-cache': 'Hugging Face cache',
  override: 'chosen path (override)',
};

/** Why a typed path cannot be right before asking the app (empty, relative), or null. */
export function typedPathProblem(p: string): string | null {
  const t = p.trim();
  if (!t) return 'Enter a path.';
  if (!(t.startsWith('/') || /^[A-Za-z]:[\\/]/.test(t) || t.startsWith('\\\\'))) return 'Give the full path (starting with / or a drive letter).';
  return null;
}

export interface ModelSetupProps {
  open: boolean;
  backbone: BackboneId;
  status: ModelStatus | null;
  statusError: string | null;
  settings: Settings;
  onClose: () => void;
  onRescan: () => Promise<void>;
  onSaveSettings: (patch: SettingsPatch) => Promise<Settings>;
  demoActive?: boolean;
  demoBusy?: boolean;
  onTryDemo?: () => void;
  onUseOwnModels?: () => void;
}

export function ModelSetup({
  open, backbone, status, statusError, settings, onClose, onRescan, onSaveSettings, demoActive = false, demoBusy = false, onTryDemo, onUseOwnModels,
}: ModelSetupProps) {
  const api = useUmo();
  const canChoose = typeof api.chooseFolder === 'function';
  const [root, setRoot] = useState(settings.modelsRoot ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [scanned, setScanned] = useState<string | null>(null);
  useEffect(() => {
    if (open) setRoot(settings.modelsRoot ?? '');
  }, [open, settings.modelsRoot]);

  /** Apply a change (or nothing), then re-scan. */
  const run = async (change?: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      if (change) await change();
      await onRescan();
      setScanned(new Date().toLocaleTimeString());
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  const rootTyped = root.trim();
  const rootChanged = rootTyped !== (settings.modelsRoot ?? '');
  const rootTypedProblem = rootTyped && rootChanged ? typedPathProblem(rootTyped) : null;
  const saveRoot = (value: string) => run(() => onSaveSettings({ modelsRoot: value.trim() || null }));

  const choose = async (choice: FolderChoice): Promise<string | null> => {
    try {
      return (await api.chooseFolder?.(choice)) ?? null;
    } catch (e) {
      setError(errorMessage(e));
      return null;
    }
  };

  const setOverride = (componentId: string, value: string | null) => {
    const key = `${backbone}.${componentId}`;
    const next = { ...settings.modelOverrides };
    if (value) next[key] = value;
    else delete next[key];
    return run(() => onSaveSettings({ modelOverrides: next }));
  };

  const manifest = MANIFESTS[backbone];
  const rootProblem = status?.modelsRoot && status.modelsRoot.path === settings.modelsRoot ? status.modelsRoot.problem : null;

  return (
    <Dialog open={open} onClose={onClose} maxWidth="md" fullWidth aria-labelledby="setup-title">
      <DialogTitle id="setup-title">Model setup — {BACKBONE_LABELS[backbone]}</DialogTitle>
      <DialogContent sx={{ display: 'grid', gap: 2 }}>
        {demoActive ? (
          <Alert severity="warning" action={onUseOwnModels && <Button color="inherit" size="small" onClick={onUseOwnModels}>Use my own models</Button>}>
            {DEMO_LABEL}. The list below is about your own checkpoints.
          </Alert>
        ) : status && !status.ready && onTryDemo ? (
          <Alert severity="info" action={<Button color="inherit" size="small" onClick={onTryDemo} disabled={demoBusy}>{demoBusy ? 'Installing…' : 'Try the demo model'}</Button>}>
            No checkpoints yet? The demo model (random weights, about 20 MB) shows that the app works here.
          </Alert>
        ) : null}

        <Box component="section" aria-label="Where the app looks" sx={{ display: 'grid', gap: 1, pt: 1 }}>
          <Box sx={{ display: 'flex', gap: 1, alignItems: 'flex-start', flexWrap: 'wrap' }}>
            <TextField
              label="Models folder"
              value={root}
              onChange={(e) => setRoot(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && !rootTypedProblem) void saveRoot(root);
              }}
              error={!!rootTypedProblem || (!rootChanged && !!rootProblem)}
              helperText={rootTypedProblem ?? (!rootChanged && rootProblem ? rootProblem
                : 'Holds the checkpoints in Hugging Face layout: <folder>/<org>/<repo>/<file>, e.g. black-forest-labs/FLUX.1-dev/flux1-dev.safetensors.')}
              placeholder={canChoose ? 'Choose a folder, or type its path' : '/path/to/models'}
              sx={{ flex: '1 1 360px' }}
            />
            {canChoose && (
              <Button variant="outlined" startIcon={<FolderOpen />} disabled={busy} sx={{ mt: 1 }}
                onClick={() => void choose({ kind: 'models-root' }).then((p) => { if (p) { setRoot(p); void saveRoot(p); } })}>
                Choose folder…
              </Button>
            )}
            <Button variant="contained" disabled={busy || !rootChanged || !!rootTypedProblem} onClick={() => void saveRoot(root)} sx={{ mt: 1 }}>
              Save and re-scan
            </Button>
          </Box>
          <Box sx={{ display: 'flex', gap: 1, alignItems: 'center', flexWrap: 'wrap' }}>
            <Typography variant="body2" sx={{ flex: '1 1 360px', wordBreak: 'break-all' }} aria-label="Hugging Face cache">
              {status?.hfCache === null ? 'The Hugging Face cache is not searched.'
                : status?.hfCache ? <>Hugging Face cache: <code>{status.hfCache.path}</code>{status.hfCache.exists ? '' : ' (does not exist yet)'}</>
                  : 'Hugging Face cache: the usual location'}
            </Typography>
            <Button variant="outlined" startIcon={<Refresh />} onClick={() => void run()} disabled={busy}>Scan Hugging Face cache</Button>
          </Box>
          {scanned && <Typography variant="caption" color="text.secondary" role="status">Scanned at {scanned}.</Typography>}
        </Box>

        {statusError && <Alert severity="error">Could not check the models: {statusError}</Alert>}
        {error && <Alert severity="error">{error}</Alert>}
        {status && status.components.length > 0 && <SetupSummary status={status} />}
        {status && status.components.length === 0 && (
          <Alert severity="info">{BACKBONE_LABELS[backbone]} is not supported by this version yet: there is nothing to set up.</Alert>
        )}
        {status && status.components.length > 0 && (
          <List aria-label="Model components" dense disablePadding>
            {status.components.map((c) => (
              <ComponentRow key={c.id} c={c} spec={manifest?.components.find((m) => m.id === c.id)} busy={busy}
                override={settings.modelOverrides[`${backbone}.${c.id}`] ?? null}
                onChoose={canChoose ? () => void choose({ kind: 'component', backbone, component: c.id }).then((p) => { if (p) void setOverride(c.id, p); }) : undefined}
                onSetOverride={(v) => setOverride(c.id, v)} />
            ))}
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
  const required = status.components.filter((c) => !c.optional);
  const total = required.reduce((n, c) => n + c.approxBytes, 0);
  const need = status.missingBytes;
  const free = status.freeDiskBytes;
  const short = free !== null && need > free;
  return (
    <Alert severity={status.ready ? 'success' : short ? 'error' : 'warning'} aria-label="Disk space">
      {status.ready ? 'Everything required is in place. ' : ''}
      Required files: about {formatBytes(total)} in all; still to download: {formatBytes(need)}; free disk space: {formatBytes(free)}.
      {short ? ' Not enough space for the missing files.' : ''}
    </Alert>
  );
}

interface ComponentRowProps {
  c: ComponentStatus;
  spec: ManifestComponent | undefined;
  override: string | null;
  busy: boolean;
  /** Desktop: open a native dialog. */
  onChoose?: () => void;
  onSetOverride: (value: string | null) => Promise<void>;
}

function ComponentRow({ c, spec, override, busy, onChoose, onSetOverride }: ComponentRowProps) {
  const [editing, setEditing] = useState(false);
  const [typed, setTyped] = useState(override ?? '');
  const kind = spec?.kind ?? 'file';
  const typedProblem = editing ? typedPathProblem(typed) : null;
  const color = c.status === 'found' ? 'success' : c.status === 'invalid' ? 'error' : c.optional ? 'default' : 'warning';
  const statusLabel = c.status === 'found' ? 'Found' : c.status === 'invalid' ? 'Unusable' : 'Missing';
  return (
    <ListItem divider aria-label={`${c.label}: ${c.status}`} sx={{ display: 'grid', gridTemplateColumns: '1fr auto', gap: 1, alignItems: 'start' }}>
      <Box sx={{ minWidth: 0, display: 'grid', gap: 0.25 }}>
        <Typography variant="body2" sx={{ fontWeight: 600 }}>
          {c.label}{c.optional ? ' (optional)' : ''}
        </Typography>
        <Typography variant="caption" component="div" color="text.secondary">
          {c.repo}{c.file ? ` / ${c.file}` : ` (${kind === 'folder' ? 'the repository folder' : 'file'})`} · expected about {formatBytes(c.approxBytes)}
          {spec?.note ? ` · ${spec.note}` : ''}
        </Typography>
        {c.status === 'found' && c.path && (
          <Typography variant="caption" component="div" sx={{ wordBreak: 'break-all' }}>
            Found in the {c.source ? SOURCE_LABELS[c.source] : 'file system'}: {c.path}{c.bytes !== undefined ? ` (${formatBytes(c.bytes)})` : ''}
          </Typography>
        )}
        {c.status === 'invalid' && (
          <Typography variant="caption" component="div" color="error" sx={{ wordBreak: 'break-word' }} data-testid={`problem-${c.id}`}>
            {c.source ? `In the ${SOURCE_LABELS[c.source]}: ` : ''}{c.problem ?? 'unusable file'}
          </Typography>
        )}
        {c.status === 'missing' && c.problem && (
          <Typography variant="caption" component="div" color="error" sx={{ wordBreak: 'break-word' }} data-testid={`problem-${c.id}`}>
            {c.problem}
          </Typography>
        )}
        {c.status === 'missing' && c.searched.length > 0 && (
          <Typography variant="caption" component="div" color="text.secondary" sx={{ wordBreak: 'break-all' }} title={c.searched.join('\n')}>
            Looked in: {c.searched.join('; ')}
          </Typography>
        )}
        <Box sx={{ display: 'flex', gap: 1, alignItems: 'center', flexWrap: 'wrap' }}>
          <Link href={c.downloadUrl} target="_blank" rel="noreferrer" variant="caption">Download page</Link>
          {onChoose && (
            <Button size="small" onClick={onChoose} disabled={busy} aria-label={`Choose ${kind} for ${c.label}`}>
              Choose {kind}…
            </Button>
          )}
          {!onChoose && !editing && (
            <Button size="small" onClick={() => { setTyped(override ?? ''); setEditing(true); }} disabled={busy} aria-label={`Set path for ${c.label}`}>
              Set path…
            </Button>
          )}
          {override && (
            <Button size="small" color="inherit" onClick={() => void onSetOverride(null)} disabled={busy} aria-label={`Clear the chosen path for ${c.label}`}>
              Clear chosen path
            </Button>
          )}
        </Box>
        {editing && (
          <Box sx={{ display: 'flex', gap: 1, alignItems: 'flex-start', mt: 0.5 }}>
            <TextField size="small" label={`${c.label} ${kind} path`} value={typed} onChange={(e) => setTyped(e.target.value)}
              error={!!typedProblem && typed.trim() !== ''} helperText={typed.trim() ? typedProblem ?? ' ' : `The ${kind === 'folder' ? 'folder' : 'file'} to use instead of searching`}
              sx={{ flex: 1 }} />
            <Button size="small" variant="contained" disabled={busy || !!typedProblem}
              onClick={() => void onSetOverride(typed.trim()).then(() => setEditing(false))}>Use this path</Button>
            <Button size="small" onClick={() => setEditing(false)}>Cancel</Button>
          </Box>
        )}
      </Box>
      <Chip size="small" color={color} label={statusLabel} />
    </ListItem>
  );
}
