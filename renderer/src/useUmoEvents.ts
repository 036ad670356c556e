// Subscribe to the app's event stream for the lifetime of a component; the latest handler is
// always called (no re-subscription when the handler's closure changes).
import { useEffect, useRef } from 'react';
import type { UmoEvent } from '../../shared/umo-api.js';
import { useUmo } from './api/api-context.js';

export function useUmoEvents(handler: (ev: UmoEvent) => void): void {
  const api = useUmo();
  const ref = useRef(handler);
  useEffect(() => {
    ref.current = handler;
  });
  useEffect(() => api.onEvent((ev) => ref.current(ev)), [api]);
}
