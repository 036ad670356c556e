// Dispatch a validated generation request to its backbone's pipeline.
import type { GenerateRequest } from '../../../shared/backbone-params.js';
import type { GenerationResult, JobEnvironment } from '../../../shared/engine-protocol.js';
import type { PipelineContext } from './pipeline-context.js';

export { CancelledError } from './pipeline-context.js';

export async function runGenerateJob(request: GenerateRequest, env: JobEnvironment, ctx: PipelineContext): Promise<GenerationResult> {
  switch (request.backbone) {
    case 'uno':
      return (await import('./uno.js')).runUnoPipeline(request, env, ctx);
    case 'omnigen2':
      return (await import('./omnigen2.js')).runOmniGen2Pipeline(request, env, ctx);
  }
}
