// The guardrail before loading a generation the memory plan says does not fit: the reason, and a
// choice between going back (to lower the size or the references, or raise the budget) and "Load anyway".
import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogContentText from '@mui/material/DialogContentText';
import DialogTitle from '@mui/material/DialogTitle';
import type { PlanAnswer } from '../../../shared/umo-api.js';
import { guardrailText } from '../planText.js';

export interface MemoryGuardrailProps {
  answer: PlanAnswer | null;
  onCancel: () => void;
  onLoadAnyway: () => void;
}

export function MemoryGuardrail({ answer, onCancel, onLoadAnyway }: MemoryGuardrailProps) {
  return (
    <Dialog open={answer !== null} onClose={onCancel} aria-labelledby="guardrail-title" aria-describedby="guardrail-text">
      <DialogTitle id="guardrail-title">Not enough memory</DialogTitle>
      <DialogContent>
        {answer && (
          <>
            <DialogContentText id="guardrail-text">{guardrailText(answer)}</DialogContentText>
            {answer.plan.reason && <DialogContentText sx={{ mt: 1.5, fontSize: 14 }}>Planner: {answer.plan.reason}.</DialogContentText>}
          </>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onCancel} autoFocus>Go back</Button>
        <Button color="warning" variant="contained" onClick={onLoadAnyway}>Load anyway</Button>
      </DialogActions>
    </Dialog>
  );
}
