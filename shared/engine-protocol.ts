// Messages between the host (Electron main, web server or CLI) and the engine process, with
// runtime schemas: both sides validate what they receive.
import { z } from 'zod';
import { GenerateRequestSchema } from './backbone-params.js';
import { JobMemoryOptionsSchema } from './memory-options.js';

export const EP_PREFERENCES = ['auto', 'cpu', 'webgpu', 'dml', 'cuda', 'coreml'] as const;
export type EpPreference = (typeof EP_PREFERENCES)[number];

export const PHASES = ['queued', 'loading', 'baking', 'encoding', 'references', 'denoising', 'decoding', 'saving'] as const;
export type Phase = (typeof PHASES)[number];

export const PHASE_LABELS: Record<Phase, string> = {
  queued: 'Queued',
  loading: 'Loading models',
  baking: 'Baking LoRA',
  encoding: 'Encoding prompt',
  references: 'Encoding references',
  denoising: 'Denoising',
  decoding: 'Decoding',
  saving: 'Saving',
};

/** Where the engine finds models and puts results; resolved by the host from settings or CLI flags. */
export const JobEnvironmentSchema = z.object({
  modelsRoot: z.string().nullable(),
  hfCache: z.string().nullable().optional(),
  overrides: z.record(z.string(), z.string()).default({}),
  outputDir: z.string(),
  /** Exact output file (CLI `--out`); otherwise a fresh name in outputDir. */
  outputFile: z.string().optional(),
  cacheDir: z.string(),
  cacheLimitBytes: z.number().positive().default(64 * 2 ** 30),
  ep: z.enum(EP_PREFERENCES).default('auto'),
  appVersion: z.string().default('0.0.0'),
  /** Marks results of the built-in demo model (random weights). */
  demo: z.boolean().default(false),
  /** Memory budget and plan overrides (the engine plans the job and executes that plan). */
  memory: JobMemoryOptionsSchema.optional(),
});
export type JobEnvironment = z.infer<typeof JobEnvironmentSchema>;

export const EngineRequestSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('generate'), jobId: z.string().min(1), request: GenerateRequestSchema, env: JobEnvironmentSchema }),
  z.object({ type: z.literal('cancel'), jobId: z.string().min(1) }),
  z.object({ type: z.literal('probe') }),
  z.object({ type: z.literal('shutdown') }),
]);
export type EngineRequest = z.infer<typeof EngineRequestSchema>;
export type EngineRequestInput = z.input<typeof EngineRequestSchema>;

export const ResultSchema = z.object({
  file: z.string(),
  width: z.number(),
  height: z.number(),
  seed: z.number(),
  backbone: z.enum(['uno', 'omnigen2']),
  /** Everything written into the PNG's text metadata. */
  metadata: z.record(z.string(), z.string()),
  timingsMs: z.record(z.string(), z.number()),
  warnings: z.array(z.string()).default([]),
  /** ORT sessions created and released during this job, and the creation time (0 when every network was already resident). */
  sessions: z.object({ created: z.number(), released: z.number(), createMs: z.number() }).optional(),
});
export type GenerationResult = z.infer<typeof ResultSchema>;

export const EpProbeSchema = z.object({
  ep: z.string(),
  available: z.boolean(),
  works: z.boolean(),
  detail: z.string(),
  /** The provider the "auto" preference resolves to on this machine. */
  auto: z.boolean().optional(),
});

export const EngineEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), pid: z.number() }),
  z.object({ type: z.literal('phase'), jobId: z.string(), phase: z.enum(PHASES), detail: z.string().optional() }),
  z.object({
    type: z.literal('progress'), jobId: z.string(), phase: z.enum(PHASES),
    step: z.number(), total: z.number(), etaMs: z.number().nullable(),
  }),
  z.object({ type: z.literal('warning'), jobId: z.string().optional(), message: z.string() }),
  z.object({ type: z.literal('done'), jobId: z.string(), result: ResultSchema }),
  z.object({ type: z.literal('failed'), jobId: z.string(), message: z.string(), code: z.string().optional() }),
  z.object({ type: z.literal('cancelled'), jobId: z.string() }),
  z.object({ type: z.literal('probe-result'), providers: z.array(EpProbeSchema) }),
]);
export type EngineEvent = z.infer<typeof EngineEventSchema>;
