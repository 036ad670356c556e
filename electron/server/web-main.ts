// `npm run web`: the app's services without Electron, serving the built renderer and the API on
// 127.0.0.1 (another interface only with --host and --token).
//
//   node dist/electron/server/web-main.js [--port N] [--host ADDR --token SECRET] [--data-dir DIR] [--allowed-host NAME]
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createAppServices } from '../services/app-services.js';
import { startWebServer } from './web-server.js';

const USAGE = `usage: npm run web -- [--port N] [--host ADDR --token SECRET] [--data-dir DIR] [--allowed-host NAME]
  --port N            port (default 7860, or the next free one)
  --host ADDR         interface to bind (default 127.0.0.1); anything else also needs --token
  --token SECRET      access token (16+ characters) every request must carry; open the printed URL
  --data-dir DIR      settings, references, outputs and caches (default $UMO_STUDIO_DATA_DIR or ~/.umo-studio)
  --allowed-host NAME an extra host name browsers may use to reach the server (e.g. behind a proxy)`;

export function defaultWebDataDir(): string {
  return process.env.UMO_STUDIO_DATA_DIR || path.join(os.homedir(), '.umo-studio');
}

async function main(): Promise<void> {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        token: { type: 'string' },
        'data-dir': { type: 'string' },
        'allowed-host': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      console.error(`--port must be a port number (0-65535), got "${String(values.port)}"\n${USAGE}`);
      process.exit(2);
    }
  }
  const dataDir = path.resolve((values['data-dir'] as string | undefined) ?? defaultWebDataDir());
  const services = await createAppServices({ dataDir, mode: 'web' });
  for (const w of services.startupWarnings) console.warn(`warning: ${w}`);
  let server;
  try {
    server = await startWebServer({
      services,
      host: values.host as string | undefined,
      port,
      token: values.token as string | undefined,
      allowedHosts: (values['allowed-host'] as string[] | undefined) ?? [],
    });
  } catch (e) {
    console.error(`UMO Studio web mode: ${(e as Error).message}`);
    await services.close();
    process.exit(1);
  }
  const token = values.token ? `?token=${encodeURIComponent(values.token as string)}` : '';
  console.log(`UMO Studio web mode: ${server.url}${token}`);
  console.log(`data folder: ${dataDir}`);
  const stop = async () => {
    await server.close();
    await services.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

void main();
