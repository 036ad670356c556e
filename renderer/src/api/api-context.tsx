// The UmoApi the components talk to, provided once at the root (window.umo or the web client).
import { createContext, useContext, type ReactNode } from 'react';
import type { UmoApi } from '../../../shared/umo-api.js';

const ApiContext = createContext<UmoApi | null>(null);

export function ApiProvider({ api, children }: { api: UmoApi; children: ReactNode }) {
  return <ApiContext.Provider value={api}>{children}</ApiContext.Provider>;
}

export function useUmo(): UmoApi {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useUmo() used outside <ApiProvider>');
  return api;
}
