// The engine process of the desktop app: Electron's utilityProcess running the same engine entry as
// web mode and the CLI (engine-main.js talks through process.parentPort there), adapted to EngineHost's
// EngineProcess transport.
import path from 'node:path';
import type { UtilityProcess } from 'electron';
import type { EngineProcess } from '../services/engine-host.js';

export const ENGINE_SERVICE_NAME = 'UMO Studio engine';

/** The compiled engine entry inside the app (`<app path>/dist/electron/engine/engine-main.js`). */
export function engineEntryInApp(appPath: string): string {
  return path.join(appPath, 'dist', 'electron', 'engine', 'engine-main.js');
}

export type UtilityFork = (modulePath: string, args: string[], options: { serviceName: string; stdio: 'inherit' | 'pipe' }) => UtilityProcess;

/** Wrap one utility process as an EngineProcess. */
export function utilityEngineProcess(child: Pick<UtilityProcess, 'postMessage' | 'on' | 'kill'>): EngineProcess {
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  return {
    send: (msg) => {
      if (!exited) child.postMessage(msg);
    },
    onMessage: (handler) => {
      child.on('message', (msg: unknown) => handler(msg));
    },
    onExit: (handler) => {
      // utilityProcess reports only an exit code; a crash or kill shows as a non-zero code.
      child.on('exit', (code: number) => handler(code, null));
    },
    kill: () => {
      if (!exited) child.kill();
    },
  };
}

/** A SpawnEngine for EngineHost: fork the engine entry as a utility process. */
export function utilityProcessSpawner(fork: UtilityFork, entry: string): () => EngineProcess {
  return () => utilityEngineProcess(fork(entry, [], { serviceName: ENGINE_SERVICE_NAME, stdio: 'inherit' }));
}
