// Where the app keeps its data (settings, references, outputs, caches, the job journal), all under
// one data folder: Electron's userData on the desktop, `--data-dir` in web mode.
import path from 'node:path';

export interface AppPaths {
  readonly dataDir: string;
  readonly settingsFile: string;
  readonly referencesDir: string;
  /** Default output folder (settings.outputDir overrides it). */
  readonly defaultOutputDir: string;
  readonly cacheDir: string;
  /** LoRA checkpoints uploaded in web mode. */
  readonly lorasDir: string;
  /** The tiny demo model kit (a models root in Hugging Face layout). */
  readonly demoModelsDir: string;
  readonly jobJournal: string;
}

export function appPaths(dataDir: string): AppPaths {
  const d = path.resolve(dataDir);
  return {
    dataDir: d,
    settingsFile: path.join(d, 'settings.json'),
    referencesDir: path.join(d, 'references'),
    defaultOutputDir: path.join(d, 'outputs'),
    cacheDir: path.join(d, 'cache'),
    lorasDir: path.join(d, 'loras'),
    demoModelsDir: path.join(d, 'demo-models'),
    jobJournal: path.join(d, 'jobs.jsonl'),
  };
}

/** True when `child` (an absolute, resolved path) is `dir` itself or inside it. */
export function isInside(dir: string, child: string): boolean {
  const rel = path.relative(dir, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
