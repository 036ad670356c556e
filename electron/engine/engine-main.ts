// Entry of the engine process (utilityProcess.fork in Electron, child_process.fork in web mode and
// the CLI). Owns every ORT session; runs one job at a time; validates every message it receives.
import { EngineRequestSchema, type EngineEvent, type EngineRequest } from '../../shared/engine-protocol.js';
import { probeExecutionProviders, resolveExecutionProvider } from './runtime/sessions.js';
import { CancelledError, runGenerateJob } from './pipelines/run-job.js';

type Port = {
  send(ev: EngineEvent): void;
  onMessage(handler: (msg: unknown) => void): void;
};

function processPort(): Port {
  // Electron's utilityProcess exposes process.parentPort; child_process.fork gives process.send.
  const parentPort = (process as unknown as { parentPort?: { postMessage(m: unknown): void; on(e: 'message', h: (ev: { data: unknown }) => void): void } }).parentPort;
  if (parentPort) {
    return {
      send: (ev) => parentPort.postMessage(ev),
      onMessage: (h) => parentPort.on('message', (ev) => h(ev.data)),
    };
  }
  if (!process.send) throw new Error('engine-main must be started as a child process with an IPC channel');
  return {
    send: (ev) => process.send!(ev),
    onMessage: (h) => process.on('message', h),
  };
}

export function startEngine(port: Port): void {
  let current: { jobId: string; cancelled: boolean } | null = null;

  const handle = async (req: EngineRequest): Promise<void> => {
    switch (req.type) {
      case 'probe': {
        // Mark the provider "auto" resolves to, so every UI shows the engine's own choice.
        const [providers, auto] = await Promise.all([probeExecutionProviders(), resolveExecutionProvider('auto')]);
        port.send({ type: 'probe-result', providers: providers.map((p) => ({ ...p, auto: p.ep === auto.ep })) });
        return;
      }
      case 'cancel':
        if (current && current.jobId === req.jobId) current.cancelled = true;
        return;
      case 'shutdown':
        process.exit(0);
        return;
      case 'generate': {
        if (current) {
          port.send({ type: 'failed', jobId: req.jobId, message: `the engine is busy with job ${current.jobId}`, code: 'busy' });
          return;
        }
        const job = { jobId: req.jobId, cancelled: false };
        current = job;
        try {
          const result = await runGenerateJob(req.request, req.env, {
            emit: (ev) => port.send({ ...ev, jobId: req.jobId } as EngineEvent),
            isCancelled: () => job.cancelled,
          });
          port.send({ type: 'done', jobId: req.jobId, result });
        } catch (e) {
          if (e instanceof CancelledError) port.send({ type: 'cancelled', jobId: req.jobId });
          else port.send({ type: 'failed', jobId: req.jobId, message: (e as Error).message ?? String(e), code: (e as { code?: string }).code });
        } finally {
          current = null;
        }
        return;
      }
    }
  };

  port.onMessage((msg) => {
    const parsed = EngineRequestSchema.safeParse(msg);
    if (!parsed.success) {
      const jobId = (msg as { jobId?: unknown } | null)?.jobId;
      const text = `engine: invalid request: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
      if (typeof jobId === 'string') port.send({ type: 'failed', jobId, message: text, code: 'invalid-request' });
      else port.send({ type: 'warning', message: text });
      return;
    }
    void handle(parsed.data);
  });
  port.send({ type: 'ready', pid: process.pid });
}

startEngine(processPort());
