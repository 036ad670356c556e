// Dispatch a validated generation request to its backbone's pipeline.
import type { GenerateRequest } from '../../../shared/backbone-params.js';
import type { GenerationResult, JobEnvironment } from '../../../shared/engine-protocol.js';
import type { PipelineContext } from './pipeline-context.js';
import { sessionStats } from '../runtime/sessions.js';

export { CancelledError } from './pipeline-context.js';

export async function runGenerateJob(request: GenerateRequest, env: JobEnvironment, ctx: PipelineContext): Promise<GenerationResult> {
  const before = { ...sessionStats };
  const result = request.backbone === 'uno'
    ? await (await import('./uno.js')).runUnoPipeline(request, env, ctx)
    : await (await import('./omnigen2.js')).runOmniGen2Pipeline(request, env, ctx);
  return { ...result, sessions: { created: sessionStats.creates - before.creates, released: sessionStats.releases - before.releases, createMs: Math.round(sessionStats.createMs - before.createMs) } };
}
