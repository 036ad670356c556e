// Results since the app started, newest first; click to show, drag onto a reference slot.
import type { DragEvent } from 'react';
import Box from '@mui/material/Box';
import ButtonBase from '@mui/material/ButtonBase';
import Typography from '@mui/material/Typography';
import type { HistoryItem } from '../../../shared/umo-api.js';
import { DRAG_RESULT } from '../dnd.js';
import { readResultParams } from '../formState.js';

export interface HistoryStripProps {
  items: readonly HistoryItem[];
  selectedKey: string | null;
  onSelect: (item: HistoryItem) => void;
}

export function historyKey(item: HistoryItem): string {
  return `${item.jobId}\u0000${item.url}`;
}

export function HistoryStrip({ items, selectedKey, onSelect }: HistoryStripProps) {
  const newestFirst = [...items].reverse();
  return (
    <Box component="section" aria-label="History" sx={{ minHeight: 92 }}>
      <Typography variant="subtitle2" component="h2" sx={{ mb: 0.5 }}>History</Typography>
      {items.length === 0 ? (
        <Typography variant="caption" color="text.secondary">Results of this session appear here.</Typography>
      ) : (
        <Box role="list" sx={{ display: 'flex', gap: 1, overflowX: 'auto', pb: 0.5 }}>
          {newestFirst.map((item, k) => {
            const key = historyKey(item);
            const n = items.length - k;
            const prompt = readResultParams(item.result).prompt ?? '';
            return (
              <Box role="listitem" key={key} sx={{ flex: '0 0 auto' }}>
                <ButtonBase
                  onClick={() => onSelect(item)}
                  aria-label={`Show result ${n}${prompt ? `: ${prompt.slice(0, 60)}` : ''}`}
                  aria-pressed={selectedKey === key}
                  sx={{
                    width: 64, height: 64, borderRadius: 1, overflow: 'hidden', border: '2px solid',
                    borderColor: selectedKey === key ? 'primary.main' : 'transparent',
                  }}
                >
                  <Box
                    component="img"
                    src={item.url}
                    alt=""
                    draggable
                    onDragStart={(e: DragEvent<HTMLImageElement>) => {
                      e.dataTransfer.setData(DRAG_RESULT, item.jobId);
                      e.dataTransfer.setData('text/uri-list', item.url);
                      e.dataTransfer.effectAllowed = 'copy';
                    }}
                    sx={{ width: '100%', height: '100%', objectFit: 'cover' }}
                  />
                </ButtonBase>
              </Box>
            );
          })}
        </Box>
      )}
    </Box>
  );
}
