// Progress of the running job: phase label, "step i/N" while denoising, ETA. Always takes the same
// height (no layout jump when a job starts or ends).
import Box from '@mui/material/Box';
import LinearProgress from '@mui/material/LinearProgress';
import Typography from '@mui/material/Typography';
import { PHASE_LABELS } from '../../../shared/engine-protocol.js';
import { formatEta } from '../formState.js';
import type { JobProgress } from '../useJob.js';

export function progressText(job: JobProgress | null): string {
  if (!job) return 'Ready';
  if (job.cancelling) return 'Cancelling…';
  const parts = [PHASE_LABELS[job.phase]];
  if (job.total > 0) parts.push(job.phase === 'denoising' ? `step ${job.step}/${job.total}` : `${job.step}/${job.total}`);
  if (job.detail) parts.push(job.detail);
  const eta = formatEta(job.etaMs);
  if (eta) parts.push(`about ${eta} left`);
  return parts.join(' · ');
}

export function ProgressBar({ job }: { job: JobProgress | null }) {
  const determinate = !!job && job.total > 0;
  const value = determinate ? Math.min(100, (100 * job.step) / job.total) : 0;
  const text = progressText(job);
  return (
    <Box sx={{ height: 34 }}>
      <LinearProgress
        aria-label="Generation progress"
        aria-valuetext={text}
        variant={job && !determinate ? 'indeterminate' : 'determinate'}
        value={job ? value : 0}
        sx={{ height: 6, borderRadius: 3, visibility: job ? 'visible' : 'hidden' }}
      />
      <Typography variant="caption" component="div" color="text.secondary" role="status" aria-live="polite" noWrap sx={{ mt: 0.5 }}>
        {text}
      </Typography>
    </Box>
  );
}
