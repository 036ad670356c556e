// Reference image slots: drop files (anywhere on the area or on a slot), click to browse, paste
// (handled at the app level), thumbnails, remove, reorder by dragging or with the move buttons.
import { useRef, useState, type DragEvent } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import ButtonBase from '@mui/material/ButtonBase';
import CircularProgress from '@mui/material/CircularProgress';
import IconButton from '@mui/material/IconButton';
import Tooltip from '@mui/material/Tooltip';
import Typography from '@mui/material/Typography';
import AddPhotoAlternateOutlined from '@mui/icons-material/AddPhotoAlternateOutlined';
import ChevronLeft from '@mui/icons-material/ChevronLeft';
import ChevronRight from '@mui/icons-material/ChevronRight';
import Close from '@mui/icons-material/Close';
import Add from '@mui/icons-material/Add';
import { BACKBONE_LIMITS } from '../../../shared/backbone-params.js';
import type { BackboneId } from '../../../shared/model-manifests.js';
import { BACKBONE_LABELS, moveSlot, setSlot, visibleSlotCount, type SlotImage } from '../formState.js';
import { DRAG_RESULT, DRAG_SLOT, filesOf, hasType, isAcceptedDrag } from '../dnd.js';
import type { ReferenceImports, SlotsUpdater } from '../useReferences.js';

export interface ReferenceSlotsProps {
  backbone: BackboneId;
  slots: readonly (SlotImage | null)[];
  setSlots: SlotsUpdater;
  imports: ReferenceImports;
}

export function ReferenceSlots({ backbone, slots, setSlots, imports }: ReferenceSlotsProps) {
  const limits = BACKBONE_LIMITS[backbone];
  const count = visibleSlotCount(backbone, slots);
  const [areaOver, setAreaOver] = useState(false);
  const filled = slots.filter((s) => s !== null).length;
  const overflow = filled > limits.maxReferences;

  const handleDrop = (e: DragEvent, at?: number) => {
    e.preventDefault();
    e.stopPropagation();
    setAreaOver(false);
    const dt = e.dataTransfer;
    if (hasType(dt, DRAG_SLOT)) {
      const from = Number(dt.getData(DRAG_SLOT));
      if (at !== undefined && Number.isInteger(from)) setSlots((s) => moveSlot(padTo(s, count), from, at));
      return;
    }
    if (hasType(dt, DRAG_RESULT)) {
      const jobId = dt.getData(DRAG_RESULT);
      if (jobId) imports.importResult(jobId, at);
      return;
    }
    imports.importFiles(filesOf(dt), at);
  };

  return (
    <Box
      component="section"
      aria-label="Reference images"
      onDragOver={(e) => {
        if (!isAcceptedDrag(e.dataTransfer)) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = hasType(e.dataTransfer, DRAG_SLOT) ? 'move' : 'copy';
        setAreaOver(true);
      }}
      onDragLeave={(e) => {
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setAreaOver(false);
      }}
      onDrop={(e) => handleDrop(e)}
      sx={{
        p: 1, borderRadius: 2, border: '1px dashed', transition: 'background-color 120ms',
        borderColor: areaOver ? 'primary.main' : 'divider',
        bgcolor: areaOver ? 'action.hover' : 'transparent',
      }}
    >
      <Box sx={{ display: 'flex', alignItems: 'baseline', justifyContent: 'space-between', mb: 1 }}>
        <Typography variant="subtitle2" component="h2">Reference images</Typography>
        <Typography variant="caption" color="text.secondary">Drop, paste (Ctrl+V) or click a slot</Typography>
      </Box>
      <Box sx={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(96px, 1fr))', gap: 1 }}>
        {Array.from({ length: count }, (_, i) => (
          <ReferenceSlot
            key={i}
            index={i}
            count={count}
            image={slots[i] ?? null}
            busy={!!imports.busy[i]}
            error={imports.errors[i]}
            extra={i >= limits.referenceSlots}
            onDrop={(e) => handleDrop(e, i)}
            onFiles={(files) => imports.importFiles(files, i)}
            onRemove={() => {
              imports.clearError(i);
              setSlots((s) => setSlot(padTo(s, count), i, null));
            }}
            onRemoveSlot={() => {
              imports.clearError(i);
              setSlots((s) => padTo(s, count).filter((_, k) => k !== i));
            }}
            onMove={(to) => setSlots((s) => moveSlot(padTo(s, count), i, to))}
          />
        ))}
      </Box>
      <Box sx={{ display: 'flex', alignItems: 'center', gap: 1, mt: 1, flexWrap: 'wrap' }}>
        <Button
          size="small"
          startIcon={<Add />}
          disabled={count >= limits.maxReferences}
          onClick={() => setSlots((s) => [...padTo(s, count), null])}
        >
          Add reference slot
        </Button>
        <Typography variant="caption" color="text.secondary">
          {BACKBONE_LABELS[backbone]}: {limits.referenceSlots} slots, up to {limits.maxReferences}
        </Typography>
      </Box>
      {filled > limits.referenceSlots && (
        <Alert severity="warning" sx={{ mt: 1 }}>
          The official {BACKBONE_LABELS[backbone]} demo uses at most {limits.referenceSlots} references; more images cost memory and time and may lower fidelity.
        </Alert>
      )}
      {overflow && (
        <Alert severity="error" sx={{ mt: 1 }}>
          {BACKBONE_LABELS[backbone]} takes at most {limits.maxReferences} reference images: remove some before generating.
        </Alert>
      )}
      {imports.areaError && (
        <Alert severity="error" sx={{ mt: 1 }} onClose={imports.clearAreaError}>{imports.areaError}</Alert>
      )}
    </Box>
  );
}

function padTo<T>(slots: readonly (T | null)[], n: number): (T | null)[] {
  const out = slots.slice();
  while (out.length < n) out.push(null);
  return out;
}

interface ReferenceSlotProps {
  index: number;
  count: number;
  image: SlotImage | null;
  busy: boolean;
  error?: string;
  extra: boolean;
  onDrop: (e: DragEvent) => void;
  onFiles: (files: File[]) => void;
  onRemove: () => void;
  onRemoveSlot: () => void;
  onMove: (to: number) => void;
}

function ReferenceSlot({ index, count, image, busy, error, extra, onDrop, onFiles, onRemove, onRemoveSlot, onMove }: ReferenceSlotProps) {
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const n = index + 1;
  return (
    <Box role="group" aria-label={`Reference ${n}`} sx={{ minWidth: 0 }}>
      <Box
        onDragOver={(e) => {
          if (!isAcceptedDrag(e.dataTransfer)) return;
          e.preventDefault();
          e.stopPropagation();
          e.dataTransfer.dropEffect = hasType(e.dataTransfer, DRAG_SLOT) ? 'move' : 'copy';
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          setOver(false);
          onDrop(e);
        }}
        sx={{
          position: 'relative', aspectRatio: '1 / 1', borderRadius: 1.5, overflow: 'hidden',
          border: '2px solid', borderColor: error ? 'error.main' : over ? 'primary.main' : 'divider',
          bgcolor: 'action.hover',
        }}
      >
        {image ? (
          <Box
            component="img"
            src={image.url}
            alt={`Reference ${n}: ${image.name}`}
            draggable
            onDragStart={(e: DragEvent<HTMLImageElement>) => {
              e.dataTransfer.setData(DRAG_SLOT, String(index));
              e.dataTransfer.effectAllowed = 'move';
            }}
            sx={{ width: '100%', height: '100%', objectFit: 'cover', display: 'block', cursor: 'grab' }}
          />
        ) : (
          <ButtonBase
            onClick={() => input.current?.click()}
            aria-label={`Add reference image ${n}`}
            sx={{ width: '100%', height: '100%', flexDirection: 'column', gap: 0.5, color: 'text.secondary' }}
          >
            <AddPhotoAlternateOutlined />
            <Typography variant="caption">Image {n}</Typography>
          </ButtonBase>
        )}
        {busy && (
          <Box sx={{ position: 'absolute', inset: 0, display: 'grid', placeItems: 'center', bgcolor: 'rgba(0,0,0,0.35)' }}>
            <CircularProgress size={24} aria-label={`Importing reference ${n}`} />
          </Box>
        )}
        <input
          ref={input}
          type="file"
          accept="image/*"
          multiple
          hidden
          aria-label={`Reference image ${n} file`}
          onChange={(e) => {
            const files = Array.from(e.target.files ?? []);
            e.target.value = '';
            onFiles(files);
          }}
        />
      </Box>
      <Box sx={{ display: 'flex', alignItems: 'center', justifyContent: 'space-between', minHeight: 30 }}>
        <Tooltip title="Move left">
          <span>
            <IconButton size="small" aria-label={`Move reference ${n} left`} disabled={!image || index === 0} onClick={() => onMove(index - 1)}>
              <ChevronLeft fontSize="small" />
            </IconButton>
          </span>
        </Tooltip>
        {image ? (
          <Tooltip title="Remove">
            <IconButton size="small" aria-label={`Remove reference ${n}`} onClick={onRemove}>
              <Close fontSize="small" />
            </IconButton>
          </Tooltip>
        ) : extra ? (
          <Tooltip title="Remove this slot">
            <IconButton size="small" aria-label={`Remove slot ${n}`} onClick={onRemoveSlot}>
              <Close fontSize="small" />
            </IconButton>
          </Tooltip>
        ) : <span />}
        <Tooltip title="Move right">
          <span>
            <IconButton size="small" aria-label={`Move reference ${n} right`} disabled={!image || index >= count - 1} onClick={() => onMove(index + 1)}>
              <ChevronRight fontSize="small" />
            </IconButton>
          </span>
        </Tooltip>
      </Box>
      {image && (
        <Typography variant="caption" component="div" noWrap title={`${image.name} (${image.width}×${image.height})`} color="text.secondary">
          {image.name} · {image.width}×{image.height}
        </Typography>
      )}
      {error && (
        <Typography variant="caption" component="div" color="error" role="alert">{error}</Typography>
      )}
    </Box>
  );
}
