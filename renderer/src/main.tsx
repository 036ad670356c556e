// Renderer entry: the desktop preload provides `window.umo` (IPC); in web mode the same API is
// spoken over HTTP + WebSocket to the server that served this page.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import type { UmoApi } from '../../shared/umo-api.js';
import { ApiProvider } from './api/api-context.js';
import { createWebApi } from './api/web-api.js';
import { App } from './App.js';

declare global {
  interface Window {
    umo?: UmoApi;
  }
}

const api: UmoApi = window.umo ?? createWebApi(location.origin);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ApiProvider api={api}>
      <App />
    </ApiProvider>
  </StrictMode>,
);
