// `umo-studio generate`: prompt + references -> PNG, through the same engine process the app uses.
// A progress bar on a terminal; `--json` prints every engine event as one JSON line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { OMNIGEN2_SCHEDULERS, parseGenerateRequest, RequestValidationError, type GenerateRequestInput } from '../../shared/backbone-params.js';
import { EP_PREFERENCES, PHASE_LABELS, type EngineEvent, type EpPreference, type JobEnvironment } from '../../shared/engine-protocol.js';
import { MANIFESTS, type BackboneId } from '../../shared/model-manifests.js';
import { describeProblems, locateComponent } from '../engine/runtime/model-locator.js';
import { EngineHost, JobCancelledError, JobFailedError } from '../services/engine-host.js';
import { RESIDENCY_MODES, parsePrecisionSetting, type JobMemoryOptions } from '../../shared/memory-options.js';
import { parseByteSize } from '../engine/runtime/memory-planner.js';
import { UsageError } from './usage-error.js';

export const GENERATE_USAGE = `umo-studio generate --backbone uno|omnigen2 --models-root DIR --prompt TEXT --out FILE.png
    [--ref IMG]... [--width W --height H --steps N --seed S]
    [--lora uno|umo|none|FILE --lora-scale X] [--ep auto|cpu|webgpu] [--cache-dir DIR] [--json]
    [--budget 16GiB] [--precision COMPONENT=fp32|fp16|int8|int4[+mod]]... [--residency all-resident|one-phase-at-a-time|dit-streamed]
    [--stream-groups N] [--load-anyway]
  UNO:      [--guidance G]
  OmniGen2: [--negative-prompt TEXT --text-guidance G --image-guidance G --cfg-range START,END
             --scheduler euler|dpmsolver++ --max-pixels N --max-side N --align-res|--no-align-res --images N]
            (--images N > 1 writes FILE.png, FILE-2.png, …)`;

/** Flags that only one backbone understands (a clear error instead of a silently ignored flag). */
const UNO_ONLY_FLAGS = ['guidance'] as const;
const OMNIGEN2_ONLY_FLAGS = [
  'negative-prompt', 'text-guidance', 'image-guidance', 'cfg-range', 'scheduler', 'max-pixels', 'max-side', 'align-res', 'no-align-res', 'images',
] as const;

/** Where the CLI keeps bakes and other caches (XDG on Linux, the usual places elsewhere). */
export function defaultCacheDir(): string {
  if (process.env.UMO_CACHE_DIR) return process.env.UMO_CACHE_DIR;
  if (process.platform === 'win32' && process.env.LOCALAPPDATA) return path.join(process.env.LOCALAPPDATA, 'umo-studio', 'cache');
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Caches', 'umo-studio');
  return path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'umo-studio');
}

function numberFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`generate: --${name} must be a number (got "${v}")`);
  return n;
}

/** `--lora` value -> a LoRA file path or null; aliases name the manifest's LoRA components. */
function resolveLora(backbone: BackboneId, value: string | undefined, modelsRoot: string | null): string | null {
  const manifest = MANIFESTS[backbone];
  const aliases: Record<string, string> = backbone === 'uno' ? { uno: 'uno_lora', umo: 'umo_lora' } : { umo: 'umo_lora' };
  if (backbone === 'omnigen2' && value?.toLowerCase() === 'uno') {
    throw new UsageError('generate: --lora uno is the UNO LoRA for FLUX; with --backbone omnigen2 use --lora umo, none or a PEFT .safetensors file');
  }
  const v = value ?? (backbone === 'uno' ? 'uno' : 'none');
  if (v === 'none') return null;
  const compId = aliases[v.toLowerCase()];
  if (compId && manifest) {
    const comp = manifest.components.find((c) => c.id === compId);
    if (comp) {
      const located = locateComponent(comp, { modelsRoot });
      if (located.status === 'found' && located.path) return located.path;
      if (value === undefined && located.status === 'missing') return null; // default LoRA simply absent: plain base model
      throw new UsageError(`generate: --lora ${v}: ${describeProblems([located])}`);
    }
  }
  if (!fs.existsSync(v)) throw new UsageError(`generate: --lora ${v}: no such file (use uno, umo, none or a .safetensors path)`);
  return path.resolve(v);
}

/** The OmniGen2 request fields given on the command line (absent ones take the schema defaults). */
function omniGen2Flags(values: Record<string, string | boolean | string[] | undefined>): Record<string, unknown> {
  const str = (k: string) => values[k] as string | undefined;
  if (values['align-res'] && values['no-align-res']) throw new UsageError('generate: give --align-res or --no-align-res, not both');
  const out: Record<string, unknown> = {
    negativePrompt: str('negative-prompt'),
    textGuidance: numberFlag('text-guidance', str('text-guidance')),
    imageGuidance: numberFlag('image-guidance', str('image-guidance')),
    maxPixels: numberFlag('max-pixels', str('max-pixels')),
    maxInputSide: numberFlag('max-side', str('max-side')),
    images: numberFlag('images', str('images')),
    alignRes: values['no-align-res'] ? false : values['align-res'] ? true : undefined,
  };
  const scheduler = str('scheduler');
  if (scheduler !== undefined) {
    if (!(OMNIGEN2_SCHEDULERS as readonly string[]).includes(scheduler)) {
      throw new UsageError(`generate: unknown --scheduler "${scheduler}" (${OMNIGEN2_SCHEDULERS.join(' or ')})`);
    }
    out.scheduler = scheduler;
  }
  const range = str('cfg-range');
  if (range !== undefined) {
    const parts = range.split(',').map((p) => p.trim());
    const nums = parts.map(Number);
    if (parts.length !== 2 || parts.some((p) => p === '') || !nums.every(Number.isFinite)) {
      throw new UsageError(`generate: --cfg-range must be two numbers START,END between 0 and 1 (got "${range}")`);
    }
    if (nums[0] > nums[1]) throw new UsageError(`generate: --cfg-range start ${nums[0]} is after its end ${nums[1]} (give START,END with START <= END)`);
    out.cfgRange = nums;
  }
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

/** --budget, --precision, --residency, --stream-groups, --load-anyway -> the job's memory options. */
function memoryFlags(values: Record<string, string | boolean | string[] | undefined>): JobMemoryOptions | undefined {
  const out: JobMemoryOptions = {};
  if (typeof values.budget === 'string') {
    try {
      out.budgetBytes = parseByteSize(values.budget);
    } catch (e) {
      throw new UsageError(`generate: --budget ${(e as Error).message}`);
    }
  }
  const precisions = (values.precision as string[] | undefined) ?? [];
  if (precisions.length) {
    try {
      out.precisions = Object.fromEntries(precisions.map(parsePrecisionSetting));
    } catch (e) {
      throw new UsageError(`generate: --precision ${(e as Error).message}`);
    }
  }
  if (typeof values.residency === 'string') {
    if (!(RESIDENCY_MODES as readonly string[]).includes(values.residency)) {
      throw new UsageError(`generate: unknown --residency "${values.residency}" (${RESIDENCY_MODES.join(', ')})`);
    }
    out.residency = values.residency as JobMemoryOptions['residency'];
  }
  if (typeof values['stream-groups'] === 'string') {
    const n = Number(values['stream-groups']);
    if (!Number.isInteger(n) || n < 2 || n > 64) throw new UsageError(`generate: --stream-groups must be a whole number from 2 to 64 (got "${values['stream-groups']}")`);
    out.streamGroups = n;
    out.residency ??= 'dit-streamed';
    if (out.residency !== 'dit-streamed') throw new UsageError(`generate: --stream-groups needs --residency dit-streamed (got ${out.residency})`);
  }
  if (values['load-anyway'] === true) out.loadAnyway = true;
  return Object.keys(out).length ? out : undefined;
}

class ProgressBar {
  private lastLen = 0;
  constructor(private readonly tty: boolean) {}

  show(text: string): void {
    if (!this.tty) return;
    const line = text.slice(0, (process.stderr.columns ?? 100) - 1);
    process.stderr.write(`\r${line}${' '.repeat(Math.max(0, this.lastLen - line.length))}`);
    this.lastLen = line.length;
  }

  done(): void {
    if (this.tty && this.lastLen) process.stderr.write('\n');
    this.lastLen = 0;
  }
}

function bar(step: number, total: number, width = 24): string {
  const n = total > 0 ? Math.round((step / total) * width) : 0;
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

export async function runGenerateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      backbone: { type: 'string', default: 'uno' },
      'models-root': { type: 'string' },
      prompt: { type: 'string' },
      ref: { type: 'string', multiple: true },
      width: { type: 'string' },
      height: { type: 'string' },
      steps: { type: 'string' },
      guidance: { type: 'string' },
      seed: { type: 'string' },
      lora: { type: 'string' },
      'lora-scale': { type: 'string' },
      ep: { type: 'string', default: 'auto' },
      out: { type: 'string' },
      'cache-dir': { type: 'string' },
      json: { type: 'boolean', default: false },
      'negative-prompt': { type: 'string' },
      'text-guidance': { type: 'string' },
      'image-guidance': { type: 'string' },
      'cfg-range': { type: 'string' },
      scheduler: { type: 'string' },
      'max-pixels': { type: 'string' },
      'max-side': { type: 'string' },
      'align-res': { type: 'boolean' },
      'no-align-res': { type: 'boolean' },
      images: { type: 'string' },
      budget: { type: 'string' },
      precision: { type: 'string', multiple: true },
      residency: { type: 'string' },
      'stream-groups': { type: 'string' },
      'load-anyway': { type: 'boolean', default: false },
    },
  });
  const backbone = values.backbone as BackboneId;
  if (backbone !== 'uno' && backbone !== 'omnigen2') throw new UsageError(`generate: unknown --backbone "${values.backbone}" (uno or omnigen2)`);
  if (values.prompt === undefined) throw new UsageError(`generate: --prompt TEXT is required\n${GENERATE_USAGE}`);
  if (!values.out) throw new UsageError(`generate: --out FILE.png is required\n${GENERATE_USAGE}`);
  if (!values.out.toLowerCase().endsWith('.png')) throw new UsageError(`generate: --out must name a .png file (got ${values.out})`);
  const outFile = path.resolve(values.out);
  if (!fs.existsSync(path.dirname(outFile))) throw new UsageError(`generate: the folder of --out (${path.dirname(outFile)}) does not exist`);
  const ep = values.ep as EpPreference;
  if (!EP_PREFERENCES.includes(ep)) throw new UsageError(`generate: unknown --ep "${values.ep}" (${EP_PREFERENCES.join(', ')})`);
  const modelsRoot = values['models-root'] ? path.resolve(values['models-root']) : null;
  if (modelsRoot && !fs.existsSync(modelsRoot)) throw new UsageError(`generate: --models-root ${modelsRoot} does not exist`);
  const refs = (values.ref ?? []).map((r) => {
    if (!fs.existsSync(r)) throw new UsageError(`generate: reference image ${r} does not exist`);
    return path.resolve(r);
  });

  const given = values as Record<string, unknown>;
  const foreign = (backbone === 'uno' ? OMNIGEN2_ONLY_FLAGS : UNO_ONLY_FLAGS).filter((f) => given[f] !== undefined);
  if (foreign.length) {
    throw new UsageError(`generate: ${foreign.map((f) => `--${f}`).join(', ')} ${foreign.length > 1 ? 'are' : 'is'} not used by --backbone ${backbone}\n${GENERATE_USAGE}`);
  }
  const input: GenerateRequestInput = {
    backbone,
    prompt: values.prompt,
    references: refs,
    width: numberFlag('width', values.width),
    height: numberFlag('height', values.height),
    steps: numberFlag('steps', values.steps),
    seed: numberFlag('seed', values.seed),
    lora: { path: resolveLora(backbone, values.lora, modelsRoot), scale: numberFlag('lora-scale', values['lora-scale']) ?? 1 },
    ...(backbone === 'uno' ? { guidance: numberFlag('guidance', values.guidance) } : omniGen2Flags(values)),
  } as GenerateRequestInput;
  let request;
  try {
    request = parseGenerateRequest(input);
  } catch (e) {
    if (e instanceof RequestValidationError) throw new UsageError(e.message);
    throw e;
  }

  const env: JobEnvironment = {
    modelsRoot,
    overrides: {},
    outputDir: path.dirname(outFile),
    outputFile: outFile,
    cacheDir: path.resolve(values['cache-dir'] ?? defaultCacheDir()),
    cacheLimitBytes: 64 * 2 ** 30,
    ep,
    appVersion: process.env.npm_package_version ?? '0.1.0',
    demo: false,
    memory: memoryFlags(values),
  };

  const host = new EngineHost();
  const progress = new ProgressBar(!values.json && Boolean(process.stderr.isTTY));
  host.on('event', (ev: EngineEvent) => {
    if (values.json) {
      process.stdout.write(`${JSON.stringify(ev)}\n`);
      return;
    }
    if (ev.type === 'phase' && ev.phase !== 'queued') progress.show(`${PHASE_LABELS[ev.phase]}${ev.detail ? ` — ${ev.detail}` : ''}…`);
    else if (ev.type === 'progress') {
      const eta = ev.etaMs !== null ? ` ETA ${(ev.etaMs / 1000).toFixed(1)} s` : '';
      progress.show(`${PHASE_LABELS[ev.phase]} ${bar(ev.step, ev.total)} ${ev.step}/${ev.total}${eta}`);
    } else if (ev.type === 'warning') {
      progress.done();
      process.stderr.write(`warning: ${ev.message}\n`);
    }
  });
  const onSigint = () => { const id = host.runningJobId; if (id) host.cancel(id); };
  process.on('SIGINT', onSigint);
  try {
    const job = host.generate(request, env);
    const result = await job.result;
    progress.done();
    if (!values.json) {
      process.stdout.write(`${result.file} (${result.width}×${result.height}, seed ${result.seed})\n`);
      const more = result.metadata.files ? (JSON.parse(result.metadata.files) as string[]).slice(1) : [];
      for (const f of more) process.stdout.write(`${path.join(path.dirname(result.file), f)}\n`);
      for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
    }
    return 0;
  } catch (e) {
    progress.done();
    if (e instanceof JobCancelledError) {
      process.stderr.write('umo-studio: generation cancelled\n');
      return 130;
    }
    if (e instanceof JobFailedError && e.code === 'does-not-fit') {
      // Same exit code as `umo-studio plan` for a plan that does not fit.
      process.stderr.write(`umo-studio: ${e.message}\n`);
      return 3;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    await host.stop();
  }
}
