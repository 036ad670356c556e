// `umo-studio generate`: prompt + references -> PNG, through the same engine process the app uses.
// A progress bar on a terminal; `--json` prints every engine event as one JSON line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseGenerateRequest, RequestValidationError, type GenerateRequestInput } from '../../shared/backbone-params.js';
import { EP_PREFERENCES, PHASE_LABELS, type EngineEvent, type EpPreference, type JobEnvironment } from '../../shared/engine-protocol.js';
import { MANIFESTS, type BackboneId } from '../../shared/model-manifests.js';
import { describeProblems, locateComponent } from '../engine/runtime/model-locator.js';
import { EngineHost, JobCancelledError } from '../services/engine-host.js';
import { UsageError } from './usage-error.js';

export const GENERATE_USAGE = `umo-studio generate --backbone uno --models-root DIR --prompt TEXT --out FILE.png
    [--ref IMG]... [--width W --height H --steps N --guidance G --seed S]
    [--lora uno|umo|none|FILE --lora-scale X] [--ep auto|cpu|webgpu] [--cache-dir DIR] [--json]`;

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
  const aliases: Record<string, string> = { uno: 'uno_lora', umo: 'umo_lora' };
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

  const input: GenerateRequestInput = {
    backbone,
    prompt: values.prompt,
    references: refs,
    width: numberFlag('width', values.width),
    height: numberFlag('height', values.height),
    steps: numberFlag('steps', values.steps),
    seed: numberFlag('seed', values.seed),
    lora: { path: resolveLora(backbone, values.lora, modelsRoot), scale: numberFlag('lora-scale', values['lora-scale']) ?? 1 },
    ...(backbone === 'uno' ? { guidance: numberFlag('guidance', values.guidance) } : {}),
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
      for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
    }
    return 0;
  } catch (e) {
    progress.done();
    if (e instanceof JobCancelledError) {
      process.stderr.write('umo-studio: generation cancelled\n');
      return 130;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    await host.stop();
  }
}
