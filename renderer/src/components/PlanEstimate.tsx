// The memory estimate next to Generate: one line ("Fits in 16 GiB: peak 14.8 GiB · DiT int8 · one
// phase at a time"), and on demand the details: the budget and where it came from, each phase's
// weights / activations / peak, and what the planner gave up to fit.
import { useState } from 'react';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Collapse from '@mui/material/Collapse';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import CheckCircleOutlined from '@mui/icons-material/CheckCircleOutlined';
import WarningAmber from '@mui/icons-material/WarningAmber';
import type { PlanState } from '../planScheduler.js';
import { budgetText, formatBytes, networkLabel, phaseLabel, planHeadline, precisionLabel } from '../planText.js';

export function PlanEstimate({ state }: { state: PlanState }) {
  const [open, setOpen] = useState(false);
  const { answer, error, pending } = state;
  if (!answer) {
    const text = error ? error.split('\n')[0] : pending ? 'Estimating memory…' : null;
    if (!text) return null;
    return (
      <Box role="status" aria-label="Memory estimate">
        <Typography variant="caption" color="text.secondary" title={error ?? undefined}>{text}</Typography>
      </Box>
    );
  }
  const { plan } = answer;
  return (
    <Box role="status" aria-label="Memory estimate" sx={{ display: 'grid', gap: 0.5, opacity: pending ? 0.6 : 1 }}>
      <Box sx={{ display: 'flex', alignItems: 'center', gap: 0.75 }}>
        {plan.fits
          ? <CheckCircleOutlined fontSize="small" color="success" aria-hidden />
          : <WarningAmber fontSize="small" color="warning" aria-hidden />}
        <Typography variant="body2" sx={{ flex: 1, minWidth: 0 }} color={plan.fits ? 'text.primary' : 'warning.main'}>
          {planHeadline(answer)}
        </Typography>
        <Button size="small" onClick={() => setOpen((o) => !o)} aria-expanded={open} aria-controls="plan-details">
          {open ? 'Hide details' : 'Details'}
        </Button>
      </Box>
      {answer.deviceWarning && <Typography variant="caption" color="warning.main">{answer.deviceWarning}</Typography>}
      <Collapse in={open} unmountOnExit>
        <Box id="plan-details" aria-label="Memory plan details" sx={{ display: 'grid', gap: 1, pt: 0.5, maxHeight: 'min(38vh, 340px)', overflowY: 'auto' }}>
          <Typography variant="caption" color="text.secondary">
            {budgetText(answer)} — {answer.budget.detail}; {formatBytes(plan.reserveBytes)} of it kept in reserve.
          </Typography>
          {plan.reason && <Typography variant="caption" color="warning.main">{plan.reason}</Typography>}
          <Table size="small" aria-label="Memory per phase">
            <TableHead>
              <TableRow>
                <TableCell>Phase</TableCell><TableCell>Models</TableCell>
                <TableCell align="right">Weights</TableCell><TableCell align="right">Activations</TableCell><TableCell align="right">Peak</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {plan.phases.map((p) => (
                <TableRow key={p.name}>
                  <TableCell>{phaseLabel(p.name)}</TableCell>
                  <TableCell>{p.components.map((c) => `${networkLabel(c.id)} ${precisionLabel(c.precision, c.quantizeModulation)}`).join(', ')}</TableCell>
                  <TableCell align="right">{formatBytes(p.residentWeightBytes)}</TableCell>
                  <TableCell align="right">{formatBytes(p.activationBytes)}</TableCell>
                  <TableCell align="right">{formatBytes(p.peakBytes)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          {plan.gaveUp.length > 0 && (
            <Box>
              <Typography variant="caption" component="div" sx={{ fontWeight: 600 }}>Given up to fit</Typography>
              <Box component="ul" aria-label="Given up to fit" sx={{ m: 0, pl: 2.5 }}>
                {plan.gaveUp.map((g) => <Typography component="li" variant="caption" key={g}>{g}</Typography>)}
              </Box>
            </Box>
          )}
        </Box>
      </Collapse>
    </Box>
  );
}
