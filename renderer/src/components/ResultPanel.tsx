// The shown result: image, its parameters (from the result and its metadata) and actions
// (save / show in folder, copy, use as reference, reuse settings).
import { useState, type DragEvent } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import ContentCopy from '@mui/icons-material/ContentCopy';
import FolderOpen from '@mui/icons-material/FolderOpen';
import Download from '@mui/icons-material/Download';
import AddPhotoAlternateOutlined from '@mui/icons-material/AddPhotoAlternateOutlined';
import Replay from '@mui/icons-material/Replay';
import type { HistoryItem } from '../../../shared/umo-api.js';
import { useUmo } from '../api/api-context.js';
import { errorMessage } from '../api/file-source.js';
import { BACKBONE_LABELS, fileName, readResultParams } from '../formState.js';
import { DEMO_LABEL, isDemoResult } from '../demoModel.js';
import { DRAG_RESULT } from '../dnd.js';

export interface ResultPanelProps {
  item: HistoryItem;
  mode: 'desktop' | 'web';
  onUseAsReference: (jobId: string) => void;
  onReuseSettings: (item: HistoryItem) => void;
}

/** Rows of the parameter table: the well-known fields first, then any other metadata. */
export function resultRows(item: HistoryItem): Array<[string, string]> {
  const r = item.result;
  const p = readResultParams(r);
  const rows: Array<[string, string]> = [];
  const add = (k: string, v: string | number | undefined | null) => {
    if (v !== undefined && v !== null && v !== '') rows.push([k, String(v)]);
  };
  add('Prompt', p.prompt);
  add('Backbone', BACKBONE_LABELS[r.backbone]);
  add('Seed', r.seed);
  add('Size', `${r.width}×${r.height}`);
  add('Steps', p.steps);
  add('Guidance', p.guidance);
  add('Text guidance', p.textGuidance);
  add('Image guidance', p.imageGuidance);
  if (p.cfgRange) add('CFG range', `${p.cfgRange[0]}–${p.cfgRange[1]}`);
  add('Scheduler', p.scheduler);
  add('Negative prompt', p.negativePrompt);
  if (p.loraPath !== undefined) add('LoRA', p.loraPath ? fileName(p.loraPath) : 'none');
  if (p.loraPath) add('LoRA scale', p.loraScale);
  const timings = Object.entries(r.timingsMs);
  if (timings.length) add('Timings', timings.map(([k, ms]) => `${k} ${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`).join(', '));
  const known = new Set(['prompt', 'seed', 'width', 'height', 'steps', 'guidance', 'textGuidance', 'imageGuidance', 'cfgRange', 'scheduler', 'negativePrompt', 'backbone', 'request', 'parameters', 'loraPath', 'loraScale', 'lora']);
  for (const [k, v] of Object.entries(r.metadata)) if (!known.has(k) && v.length <= 300) add(k, v);
  add('File', r.file);
  return rows;
}

export function ResultPanel({ item, mode, onUseAsReference, onReuseSettings }: ResultPanelProps) {
  const api = useUmo();
  const [message, setMessage] = useState<{ severity: 'success' | 'error'; text: string } | null>(null);
  const canCopy = typeof ClipboardItem !== 'undefined' && !!navigator.clipboard?.write;
  const r = item.result;
  const rows = resultRows(item);
  const demo = isDemoResult(r.metadata);

  const copy = async () => {
    try {
      const blob = await (await fetch(item.url)).blob();
      const type = blob.type && blob.type.startsWith('image/') ? blob.type : 'image/png';
      await navigator.clipboard.write([new ClipboardItem({ [type]: blob })]);
      setMessage({ severity: 'success', text: 'Image copied to the clipboard.' });
    } catch (e) {
      setMessage({ severity: 'error', text: `Could not copy the image: ${errorMessage(e)}` });
    }
  };

  const reveal = async () => {
    try {
      await api.revealResult(item.jobId);
    } catch (e) {
      setMessage({ severity: 'error', text: errorMessage(e) });
    }
  };

  return (
    <Box component="section" aria-label="Result" sx={{ display: 'grid', gap: 1.5 }}>
      <Box sx={{ display: 'grid', placeItems: 'center', bgcolor: 'action.hover', borderRadius: 2, p: 1, height: 'min(58vh, 640px)', gridTemplateRows: 'minmax(0, 1fr)', gridTemplateColumns: 'minmax(0, 1fr)' }}>
        <Box
          component="img"
          src={item.url}
          alt={`Result: ${r.metadata.prompt ?? fileName(r.file)}`}
          draggable
          onDragStart={(e: DragEvent<HTMLImageElement>) => {
            e.dataTransfer.setData(DRAG_RESULT, item.jobId);
            e.dataTransfer.setData('text/uri-list', item.url);
            e.dataTransfer.effectAllowed = 'copy';
          }}
          sx={{ maxWidth: '100%', maxHeight: '100%', objectFit: 'contain', borderRadius: 1, boxShadow: 2 }}
        />
      </Box>
      {demo && <Alert severity="info" aria-label="Demo model note">{DEMO_LABEL}.</Alert>}
      <Box sx={{ display: 'flex', gap: 1, flexWrap: 'wrap' }}>
        {mode === 'desktop' ? (
          <Button size="small" variant="outlined" startIcon={<FolderOpen />} onClick={() => void reveal()}>Show in folder</Button>
        ) : (
          <Button size="small" variant="outlined" startIcon={<Download />} component="a" href={item.url} download={fileName(r.file)}>Download image</Button>
        )}
        <Button size="small" variant="outlined" startIcon={<ContentCopy />} disabled={!canCopy} onClick={() => void copy()}>Copy image</Button>
        <Button size="small" variant="outlined" startIcon={<AddPhotoAlternateOutlined />} onClick={() => onUseAsReference(item.jobId)}>Use as reference</Button>
        <Button size="small" variant="outlined" startIcon={<Replay />} onClick={() => onReuseSettings(item)}>Reuse settings</Button>
      </Box>
      {message && <Alert severity={message.severity} onClose={() => setMessage(null)}>{message.text}</Alert>}
      {r.warnings.length > 0 && <Alert severity="warning">{r.warnings.join(' ')}</Alert>}
      <Table size="small" aria-label="Result parameters">
        <TableBody>
          {rows.map(([k, v]) => (
            <TableRow key={k}>
              <TableCell component="th" scope="row" sx={{ width: 140, color: 'text.secondary', verticalAlign: 'top' }}>{k}</TableCell>
              <TableCell sx={{ wordBreak: 'break-word' }}>{v}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      <Typography variant="caption" color="text.secondary">Created {new Date(item.createdAt).toLocaleTimeString()}</Typography>
    </Box>
  );
}
