// Importing reference images into slots: files (drop, browse, paste) and previous results. Every
// image goes through the app (`importReference` / `referenceFromResult`), which validates and stores
// it; a failure shows the app's message on its slot and leaves the other slots alone.
import { useCallback, useRef, useState } from 'react';
import { BACKBONE_LIMITS } from '../../shared/backbone-params.js';
import type { BackboneId } from '../../shared/model-manifests.js';
import { useUmo } from './api/api-context.js';
import { errorMessage, fileToInput } from './api/file-source.js';
import { BACKBONE_LABELS, placementSlots, setSlot, type SlotImage } from './formState.js';

export type SlotsUpdater = (update: (slots: (SlotImage | null)[]) => (SlotImage | null)[]) => void;

export interface ReferenceImports {
  /** Per-slot error messages. */
  errors: Record<number, string>;
  /** Slots with an import under way. */
  busy: Record<number, boolean>;
  /** A problem not tied to one slot (too many images). */
  areaError: string | null;
  importFiles(files: readonly File[], at?: number): void;
  importResult(jobId: string, at?: number): void;
  clearError(index: number): void;
  clearAreaError(): void;
}

export function useReferences(backbone: BackboneId, slots: readonly (SlotImage | null)[], setSlots: SlotsUpdater): ReferenceImports {
  const api = useUmo();
  const [errors, setErrors] = useState<Record<number, string>>({});
  const [busy, setBusy] = useState<Record<number, boolean>>({});
  const [areaError, setAreaError] = useState<string | null>(null);
  const slotsRef = useRef(slots);
  slotsRef.current = slots;
  const busyRef = useRef<Record<number, boolean>>({});

  const run = useCallback((index: number, load: () => Promise<SlotImage>) => {
    busyRef.current = { ...busyRef.current, [index]: true };
    setBusy(busyRef.current);
    setErrors((e) => {
      const { [index]: _drop, ...rest } = e;
      return rest;
    });
    load()
      .then((img) => setSlots((s) => setSlot(s, index, img)))
      .catch((e: unknown) => setErrors((cur) => ({ ...cur, [index]: errorMessage(e) })))
      .finally(() => {
        const { [index]: _done, ...rest } = busyRef.current;
        busyRef.current = rest;
        setBusy(rest);
      });
  }, [setSlots]);

  /** Free target slots for n images (busy slots are skipped unless they are the drop target). */
  const targets = useCallback((n: number, at?: number): number[] => {
    const max = BACKBONE_LIMITS[backbone].maxReferences;
    const view = slotsRef.current.map((s, i) => (busyRef.current[i] && i !== at ? ({} as SlotImage) : s));
    const out = placementSlots(view, n, max, at);
    if (out.length < n) {
      setAreaError(`${BACKBONE_LABELS[backbone]} takes at most ${max} reference images; ${n - out.length} image${n - out.length === 1 ? ' was' : 's were'} not added.`);
    } else {
      setAreaError(null);
    }
    return out;
  }, [backbone]);

  const importFiles = useCallback((files: readonly File[], at?: number) => {
    if (files.length === 0) return;
    const where = targets(files.length, at);
    where.forEach((index, k) => {
      const file = files[k];
      run(index, async () => api.importReference(await fileToInput(file)));
    });
  }, [api, run, targets]);

  const importResult = useCallback((jobId: string, at?: number) => {
    const [index] = targets(1, at);
    if (index === undefined) return;
    run(index, () => api.referenceFromResult(jobId));
  }, [api, run, targets]);

  return {
    errors, busy, areaError, importFiles, importResult,
    clearError: (i) => setErrors((e) => {
      const { [i]: _drop, ...rest } = e;
      return rest;
    }),
    clearAreaError: () => setAreaError(null),
  };
}
