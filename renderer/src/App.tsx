// The studio: inputs on the left, progress/result/history on the right, status line at the bottom.
// State lives here (form, selected result, dialogs); components below are presentational or own a
// small piece of behaviour.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import Alert from '@mui/material/Alert';
import AppBar from '@mui/material/AppBar';
import Box from '@mui/material/Box';
import CircularProgress from '@mui/material/CircularProgress';
import CssBaseline from '@mui/material/CssBaseline';
import IconButton from '@mui/material/IconButton';
import TextField from '@mui/material/TextField';
import Toolbar from '@mui/material/Toolbar';
import Tooltip from '@mui/material/Tooltip';
import Typography from '@mui/material/Typography';
import useMediaQuery from '@mui/material/useMediaQuery';
import { ThemeProvider } from '@mui/material/styles';
import SettingsOutlined from '@mui/icons-material/SettingsOutlined';
import type { BackboneId } from '../../shared/model-manifests.js';
import type { HistoryItem, PlanAnswer, PlanQuery } from '../../shared/umo-api.js';
import { useUmo } from './api/api-context.js';
import { errorMessage } from './api/file-source.js';
import {
  applyResultParams, buildRequest, defaultForm, filledReferences, loraFromSettings, normalizeSlots, readResultParams,
  sizeLimits, validateRequest, type FormState, type OmniGen2Fields, type UnoFields,
} from './formState.js';
import { unoFieldsForDemo } from './demoModel.js';
import { makeTheme } from './theme.js';
import { useAppData, type AppData } from './useAppData.js';
import { useJob } from './useJob.js';
import { useReferences, type SlotsUpdater } from './useReferences.js';
import { useUmoEvents } from './useUmoEvents.js';
import { usePlan } from './usePlan.js';
import { devicePreferenceProblem } from './statusText.js';
import { BackboneToggle } from './components/BackboneToggle.js';
import { EmptyState } from './components/EmptyState.js';
import { GenerateBar } from './components/GenerateBar.js';
import { HistoryStrip, historyKey } from './components/HistoryStrip.js';
import { LoraPicker } from './components/LoraPicker.js';
import { MemoryGuardrail } from './components/MemoryGuardrail.js';
import { PlanEstimate } from './components/PlanEstimate.js';
import { ModelSetup } from './components/ModelSetup.js';
import { OmniGen2Params, UnoParams } from './components/ParamsPanel.js';
import { ProgressBar } from './components/ProgressBar.js';
import { ReferenceSlots } from './components/ReferenceSlots.js';
import { ResolutionPicker } from './components/ResolutionPicker.js';
import { ResultPanel } from './components/ResultPanel.js';
import { SeedField } from './components/SeedField.js';
import { SettingsDialog } from './components/SettingsDialog.js';
import { StatusLine } from './components/StatusLine.js';

export function App() {
  const data = useAppData();
  const prefersDark = useMediaQuery('(prefers-color-scheme: dark)');
  const themeSetting = data.settings?.theme ?? 'system';
  const mode = themeSetting === 'system' ? (prefersDark ? 'dark' : 'light') : themeSetting;
  const theme = useMemo(() => makeTheme(mode), [mode]);
  return (
    <ThemeProvider theme={theme}>
      <CssBaseline />
      {data.settings ? <Studio data={data} /> : <Connecting error={data.loadError} />}
    </ThemeProvider>
  );
}

/** Esc inside an open menu or list box closes that, not the job. */
function inPopup(target: EventTarget | null): boolean {
  return target instanceof Element && !!target.closest('[role="listbox"], [role="menu"], [role="dialog"]');
}

function Connecting({ error }: { error: string | null }) {
  return (
    <Box sx={{ height: '100vh', display: 'grid', placeItems: 'center', p: 4 }}>
      {error ? <Alert severity="error">{error}</Alert> : <CircularProgress aria-label="Loading" />}
    </Box>
  );
}

function Studio({ data }: { data: AppData }) {
  const api = useUmo();
  const settings = data.settings!;
  const backbone = settings.backbone;
  const appMode = data.appInfo?.mode ?? 'web';
  const [form, setForm] = useState<FormState>(defaultForm);
  const [selectedKey, setSelectedKey] = useState<string | null>(null);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [setupOpen, setSetupOpen] = useState(false);
  const [appError, setAppError] = useState<string | null>(null);
  const job = useJob();

  const demoActive = !!data.modelStatus?.demoAvailable && settings.useDemoModel;
  const fields = backbone === 'uno' ? form.uno : form.omnigen2;
  const limits = sizeLimits(backbone, demoActive);
  const setSlots: SlotsUpdater = useCallback((update) => setForm((f) => ({ ...f, slots: update(f.slots) })), []);
  const imports = useReferences(backbone, form.slots, setSlots);

  useEffect(() => setForm((f) => ({ ...f, slots: normalizeSlots(backbone, f.slots) })), [backbone]);
  // The demo model starts small (64×64, few steps: seconds on a CPU); leaving it restores the defaults.
  useEffect(() => setForm((f) => ({ ...f, uno: unoFieldsForDemo(f.uno, demoActive) })), [demoActive]);

  const [demoBusy, setDemoBusy] = useState(false);
  const tryDemo = useCallback(async () => {
    setDemoBusy(true);
    setAppError(null);
    try {
      await api.installDemoModel();
      data.applySettings(await api.getSettings());
      await data.refreshModelStatus();
    } catch (e) {
      setAppError(`Could not install the demo model: ${errorMessage(e)}`);
    } finally {
      setDemoBusy(false);
    }
  }, [api, data]);
  const useOwnModels = useCallback(() => {
    data.updateSettings({ useDemoModel: false }).catch((e: unknown) => setAppError(errorMessage(e)));
  }, [data]);

  // Show each new result as it arrives.
  useEffect(() => {
    if (data.lastAdded) setSelectedKey(historyKey(data.lastAdded));
  }, [data.lastAdded]);
  const selected = data.history.find((h) => historyKey(h) === selectedKey) ?? null;

  const lora = loraFromSettings(settings, backbone);
  const request = buildRequest(form, backbone, lora);
  const problems = validateRequest(request, limits);
  const lastSeed = job.lastSeed ?? data.history.at(-1)?.result.seed ?? null;

  // The memory estimate of this request (when the models are there to read).
  const status0 = data.modelStatus;
  const modelsReadable = demoActive || (!!status0 && status0.backbone === backbone && status0.ready);
  const referenceCount = filledReferences(form.slots).length;
  const planQuery: PlanQuery | null = modelsReadable ? { backbone, width: fields.width, height: fields.height, references: referenceCount } : null;
  const plan = usePlan(planQuery, settings);
  const [guardrail, setGuardrail] = useState<PlanAnswer | null>(null);

  // Keyboard shortcuts, paste and menu commands read the latest state through refs.
  const latest = useRef({ request, problems, job, plan, dialogsOpen: false });
  latest.current = { request, problems, job, plan, dialogsOpen: settingsOpen || setupOpen || guardrail !== null };
  /** Start the job; a plan that does not fit asks first (unless the user chose "Load anyway"). */
  const generate = useCallback((loadAnyway = false) => {
    const { request: r, problems: p, job: j, plan: pl } = latest.current;
    if (j.job || p.length > 0) return;
    if (!loadAnyway && pl.answer && !pl.answer.plan.fits && !pl.pending) {
      setGuardrail(pl.answer);
      return;
    }
    void j.start(r, loadAnyway ? { loadAnyway: true } : undefined);
  }, []);
  const cancel = useCallback(() => latest.current.job.cancel(), []);
  // The engine refused a job whose plan does not fit (the estimate had not arrived yet): once it
  // has, ask with the guardrail; if the estimate says it fits after all, show the engine's reason.
  useEffect(() => {
    if (!job.memoryRefusal || plan.pending) return;
    if (plan.answer && !plan.answer.plan.fits) setGuardrail(plan.answer);
    else setAppError(job.memoryRefusal);
    job.clearMemoryRefusal();
  }, [job, plan.pending, plan.answer]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (latest.current.dialogsOpen) return;
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        // Let a field that commits on Enter update the form first.
        setTimeout(() => generate(), 0);
      } else if (e.key === 'Escape' && !e.defaultPrevented && latest.current.job.job && !inPopup(e.target)) {
        cancel();
      }
    };
    const onPaste = (e: ClipboardEvent) => {
      if (latest.current.dialogsOpen) return;
      const files = Array.from(e.clipboardData?.files ?? []).filter((f) => f.type.startsWith('image/'));
      if (files.length === 0) return;
      e.preventDefault();
      imports.importFiles(files);
    };
    window.addEventListener('keydown', onKey);
    window.addEventListener('paste', onPaste);
    return () => {
      window.removeEventListener('keydown', onKey);
      window.removeEventListener('paste', onPaste);
    };
  }, [generate, cancel, imports]);

  useUmoEvents((ev) => {
    if (ev.type !== 'menu-command') return;
    if (ev.command === 'generate') generate();
    else if (ev.command === 'cancel') cancel();
    else if (ev.command === 'open-settings') setSettingsOpen(true);
    else if (ev.command === 'open-setup') setSetupOpen(true);
  });

  const setBackbone = (b: BackboneId) => {
    data.updateSettings({ backbone: b }).catch((e: unknown) => setAppError(errorMessage(e)));
  };
  const patchUno = (patch: Partial<UnoFields>) => setForm((f) => ({ ...f, uno: { ...f.uno, ...patch } }));
  const patchOmni = (patch: Partial<OmniGen2Fields>) => setForm((f) => ({ ...f, omnigen2: { ...f.omnigen2, ...patch } }));
  const setSize = (s: { width: number; height: number }) => (backbone === 'uno' ? patchUno(s) : patchOmni(s));

  const reuseSettings = async (item: HistoryItem) => {
    const p = readResultParams(item.result);
    setForm((f) => applyResultParams(f, p));
    try {
      if (p.backbone !== backbone) await data.updateSettings({ backbone: p.backbone });
      if (p.loraPath !== undefined && p.loraPath !== settings.activeLora[p.backbone]) {
        data.applySettings(await api.setActiveLora(p.backbone, p.loraPath));
      }
      if (p.loraScale !== undefined && p.loraScale !== settings.loraScale) await data.updateSettings({ loraScale: p.loraScale });
    } catch (e) {
      setAppError(`Settings reused, but the LoRA could not be restored: ${errorMessage(e)}`);
    }
  };

  const status = data.modelStatus;
  const deviceProblem = devicePreferenceProblem(settings, data.devices);
  const showEmpty = !selected && status !== null && status.backbone === backbone && !status.ready && !demoActive;

  return (
    <Box sx={{ height: '100vh', display: 'grid', gridTemplateRows: 'auto minmax(0, 1fr) auto', minWidth: 960 }}>
      <AppBar position="static" color="default" elevation={0} sx={{ borderBottom: 1, borderColor: 'divider' }}>
        <Toolbar variant="dense" sx={{ gap: 2 }}>
          <Typography variant="h6" component="h1" sx={{ fontSize: 17, fontWeight: 700 }}>UMO Studio</Typography>
          <BackboneToggle value={backbone} onChange={setBackbone} />
          <Box sx={{ flex: 1 }} />
          <Tooltip title="Settings">
            <IconButton aria-label="Settings" onClick={() => setSettingsOpen(true)}><SettingsOutlined /></IconButton>
          </Tooltip>
        </Toolbar>
      </AppBar>

      <Box sx={{ display: 'grid', gridTemplateColumns: 'minmax(380px, 460px) minmax(0, 1fr)', minHeight: 0 }}>
        <Box component="section" aria-label="Inputs" sx={{ display: 'grid', gridTemplateRows: 'minmax(0, 1fr) auto', minHeight: 0, borderRight: 1, borderColor: 'divider' }}>
          <Box sx={{ overflowY: 'auto', p: 2, display: 'flex', flexDirection: 'column', gap: 2, '& > *': { flexShrink: 0 } }}>
            <TextField
              label="Prompt"
              multiline
              minRows={3}
              maxRows={8}
              value={form.prompt}
              onChange={(e) => setForm((f) => ({ ...f, prompt: e.target.value }))}
              placeholder={backbone === 'omnigen2' ? 'Refer to references as "the first image", "the second image"…' : 'Describe the image; the references give the subjects'}
              size="medium"
            />
            <ReferenceSlots backbone={backbone} slots={form.slots} setSlots={setSlots} imports={imports} />
            <ResolutionPicker backbone={backbone} width={fields.width} height={fields.height} limits={limits} demoActive={demoActive} onChange={setSize} />
            {backbone === 'uno'
              ? <UnoParams value={form.uno} onChange={patchUno} />
              : <OmniGen2Params value={form.omnigen2} onChange={patchOmni} referenceCount={filledReferences(form.slots).length} />}
            <SeedField seed={form.seed} random={form.randomSeed} lastSeed={lastSeed}
              onChange={(v) => setForm((f) => ({ ...f, seed: v.seed ?? f.seed, randomSeed: v.random ?? f.randomSeed }))} />
            <LoraPicker backbone={backbone} settings={settings} mode={appMode} updateSettings={data.updateSettings} applySettings={data.applySettings} />
          </Box>
          <Box sx={{ p: 2, borderTop: 1, borderColor: 'divider', bgcolor: 'background.paper', display: 'grid', gap: 1 }}>
            <PlanEstimate state={plan} />
            <GenerateBar running={!!job.job} cancelling={!!job.job?.cancelling} problems={problems} onGenerate={() => generate()} onCancel={cancel} />
          </Box>
        </Box>

        <Box component="section" aria-label="Output" sx={{ overflowY: 'auto', p: 2, display: 'flex', flexDirection: 'column', gap: 1.5, '& > *': { flexShrink: 0 } }}>
          <ProgressBar job={job.job} />
          {job.error && <Alert severity="error" onClose={job.dismissError} sx={{ whiteSpace: 'pre-wrap' }}>{job.error}</Alert>}
          {appError && <Alert severity="error" onClose={() => setAppError(null)}>{appError}</Alert>}
          {job.notice && <Alert severity="info" onClose={job.dismissNotice}>{job.notice}</Alert>}
          {deviceProblem && <Alert severity="warning" aria-label="Device warning">{deviceProblem}</Alert>}
          {job.warnings.length > 0 && (
            <Alert severity="warning" aria-label="Job warnings">
              {job.warnings.map((w) => <div key={w}>{w}</div>)}
            </Alert>
          )}
          {data.modelStatusError && !setupOpen && <Alert severity="warning">Could not check the models: {data.modelStatusError}</Alert>}
          {selected ? (
            <ResultPanel item={selected} mode={appMode} onUseAsReference={(id) => imports.importResult(id)} onReuseSettings={(item) => void reuseSettings(item)} />
          ) : showEmpty && status ? (
            <EmptyState backbone={backbone} status={status} onOpenSetup={() => setSetupOpen(true)} onTryDemo={() => void tryDemo()} demoBusy={demoBusy} />
          ) : (
            <Box sx={{ display: 'grid', placeItems: 'center', height: 'min(58vh, 640px)', borderRadius: 2, border: '1px dashed', borderColor: 'divider' }}>
              <Typography color="text.secondary">{job.job ? 'Generating…' : 'Your image will appear here'}</Typography>
            </Box>
          )}
          <HistoryStrip items={data.history} selectedKey={selectedKey} onSelect={(item) => setSelectedKey(historyKey(item))} />
        </Box>
      </Box>

      <StatusLine backbone={backbone} settings={settings} devices={data.devices} status={status} statusError={data.modelStatusError}
        appInfo={data.appInfo} demoActive={demoActive} onOpenSetup={() => setSetupOpen(true)} onUseOwnModels={useOwnModels} />

      <MemoryGuardrail answer={guardrail} onCancel={() => setGuardrail(null)}
        onLoadAnyway={() => { setGuardrail(null); generate(true); }} />
      <SettingsDialog open={settingsOpen} settings={settings} devices={data.devices} onClose={() => setSettingsOpen(false)} onSave={data.updateSettings} />
      <ModelSetup open={setupOpen} backbone={backbone} status={status} statusError={data.modelStatusError} settings={settings}
        onClose={() => setSetupOpen(false)} onRescan={data.refreshModelStatus} onSaveSettings={data.updateSettings}
        demoActive={demoActive} demoBusy={demoBusy} onTryDemo={() => void tryDemo()} onUseOwnModels={useOwnModels} />
    </Box>
  );
}
