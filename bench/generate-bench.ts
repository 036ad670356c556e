// UNO generation benchmark: whole generations through runUnoPipeline on random-weight kits, each
// case in its own process (generate-case.ts) so its peak RSS is its own.
//   - tiny kit (64×64, 2 references, 4 steps) on CPU and on WebGPU;
//   - a mid-size kit (DiT hidden 512, 8 heads, 4 double + 8 single blocks; 256×256, 2 references, 4 steps) on CPU;
//   - LoRA bakes on the mid-size kit: first bake (cache miss), the same LoRA again in a new process
//     (hit), and switching between two cached bakes (UNO ↔ UMO LoRA) in one process.
// For every run: wall time per phase, time inside ORT (session.run + session creation) and the
// share of wall time outside it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { UNO_MANIFEST } from '../shared/model-manifests.js';
import { writeTinyUnoKit } from '../electron/engine/kit/tiny-uno-kit.js';
import type { FluxDitSizes } from '../electron/engine/kit/checkpoint-shapes.js';
import type { ExecutionProvider } from '../electron/engine/runtime/sessions.js';
import { SeededRandom } from '../electron/engine/kit/write-checkpoint.js';
import {
  GENERATE_RESULT_PREFIX, type GenerateCaseResult, type GenerateCaseSpec, type GenerateRunSpec,
} from './generate-case-protocol.js';
import { runCaseProcess } from './case-process.js';

/** The mid-size kit's DiT (the DiT bench's sizes; text sizes stay the tiny encoders'). */
export const MID_KIT_DIT: Partial<FluxDitSizes> = { hidden: 512, heads: 8, depth: 4, depthSingle: 8 };
/** About the real rank/hidden ratio (512 / 3072). */
export const MID_KIT_LORA_RANK = 96;

export interface GenerateBenchOptions {
  webgpu: boolean;
  /** Profile the JS thread of the generation cases (inspector CPU profiler). */
  profile: boolean;
  caseTimeoutMs?: number;
  log?: (line: string) => void;
}

export type GenerateCaseGroup = 'generation' | 'bake';

export interface GenerateCaseOutcome {
  id: string;
  label: string;
  group: GenerateCaseGroup;
  kit: 'tiny' | 'mid';
  result?: GenerateCaseResult;
  error?: string;
}

export interface GenerateBenchReport {
  kits: Record<'tiny' | 'mid', { dit: FluxDitSizes; loraRank: number; ditBytes: number; loraBytes: number; writeMs: number }>;
  references: Array<{ width: number; height: number; format: string }>;
  cases: GenerateCaseOutcome[];
}

interface CasePlan {
  id: string;
  label: string;
  group: GenerateCaseGroup;
  kit: 'tiny' | 'mid';
  ep: ExecutionProvider;
  runs: GenerateRunSpec[];
  profile: boolean;
}

const CASE_SCRIPT = fileURLToPath(new URL('./generate-case.js', import.meta.url));

function manifestPath(root: string, id: string): string {
  const c = UNO_MANIFEST.components.find((x) => x.id === id);
  if (!c) throw new Error(`UNO manifest has no component ${id}`);
  return path.join(root, ...c.repo.split('/'), c.path);
}

/** A photo-like reference (smooth gradients plus seeded noise) as a JPEG, as users typically give. */
async function writeReference(file: string, width: number, height: number, seed: number): Promise<void> {
  const rng = new SeededRandom(seed);
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 3;
      const n = rng.normal() * 12;
      px[at] = Math.max(0, Math.min(255, 128 + 100 * Math.sin(x / 37 + seed) + n));
      px[at + 1] = Math.max(0, Math.min(255, 128 + 100 * Math.cos(y / 53) + n));
      px[at + 2] = Math.max(0, Math.min(255, (x + y) % 256));
    }
  }
  await sharp(px, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toFile(file);
}

function plan(o: GenerateBenchOptions, roots: Record<'tiny' | 'mid', string>, refs: string[]): CasePlan[] {
  const lora = (kit: 'tiny' | 'mid', id: 'uno_lora' | 'umo_lora') => manifestPath(roots[kit], id);
  const gen = (kit: 'tiny' | 'mid', label: string, size: number): GenerateRunSpec => ({
    label, width: size, height: size, steps: 4, references: refs, lora: lora(kit, 'uno_lora'), seed: 42,
  });
  // Bake runs: the smallest generation that still loads the DiT (bake and DiT creation do not depend on it).
  const bakeRun = (label: string, id: 'uno_lora' | 'umo_lora' | null): GenerateRunSpec => ({
    label, width: 64, height: 64, steps: 1, references: [], lora: id ? lora('mid', id) : null, seed: 1,
  });
  const cases: CasePlan[] = [
    {
      id: 'tiny-cpu', label: 'tiny kit, CPU', group: 'generation', kit: 'tiny', ep: 'cpu', profile: o.profile,
      runs: [gen('tiny', 'tiny 64², 1st in process (bake miss)', 64), gen('tiny', 'tiny 64², 2nd in process', 64)],
    },
  ];
  if (o.webgpu) {
    cases.push({
      id: 'tiny-webgpu', label: 'tiny kit, WebGPU (lavapipe)', group: 'generation', kit: 'tiny', ep: 'webgpu', profile: false,
      runs: [gen('tiny', 'tiny 64², WebGPU, 1st in process', 64), gen('tiny', 'tiny 64², WebGPU, 2nd in process', 64)],
    });
  }
  cases.push(
    {
      id: 'bake-miss', label: 'mid kit: first UNO bake', group: 'bake', kit: 'mid', ep: 'cpu', profile: false,
      runs: [bakeRun('UNO LoRA, empty cache (miss)', 'uno_lora')],
    },
    {
      id: 'bake-hit', label: 'mid kit: same LoRA, new process', group: 'bake', kit: 'mid', ep: 'cpu', profile: false,
      runs: [bakeRun('UNO LoRA again, new process (hit)', 'uno_lora')],
    },
    {
      id: 'bake-switch', label: 'mid kit: switching UNO ↔ UMO in one process', group: 'bake', kit: 'mid', ep: 'cpu', profile: false,
      runs: [
        bakeRun('UMO LoRA, first time (miss)', 'umo_lora'),
        bakeRun('switch to UNO (cached)', 'uno_lora'),
        bakeRun('switch to UMO (cached)', 'umo_lora'),
        bakeRun('switch to UNO (cached)', 'uno_lora'),
        bakeRun('no LoRA (base BF16 DiT)', null),
      ],
    },
    {
      // After the bake cases, so the UNO bake of the mid kit is cached.
      id: 'mid-cpu', label: 'mid kit, CPU', group: 'generation', kit: 'mid', ep: 'cpu', profile: o.profile,
      runs: [gen('mid', 'mid 256², 1st in process (bake hit)', 256), gen('mid', 'mid 256², 2nd in process', 256)],
    },
  );
  return cases;
}

export async function runGenerateBench(o: GenerateBenchOptions): Promise<GenerateBenchReport> {
  const log = o.log ?? (() => undefined);
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'umo-bench-generate-')));
  try {
    const roots = { tiny: path.join(dir, 'tiny-kit'), mid: path.join(dir, 'mid-kit') };
    const kits = {} as GenerateBenchReport['kits'];
    for (const [name, opts] of [['tiny', {}], ['mid', { dit: MID_KIT_DIT, loraRank: MID_KIT_LORA_RANK }]] as const) {
      const w0 = performance.now();
      const { dit } = await writeTinyUnoKit(roots[name], opts);
      const writeMs = performance.now() - w0;
      const size = (id: string) => fs.statSync(manifestPath(roots[name], id)).size;
      kits[name] = { dit, loraRank: 'loraRank' in opts ? opts.loraRank : 4, ditBytes: size('dit'), loraBytes: size('uno_lora'), writeMs };
      log(`generate: wrote the ${name} kit (DiT ${(kits[name].ditBytes / 1e6).toFixed(1)} MB, LoRA ${(kits[name].loraBytes / 1e6).toFixed(1)} MB) in ${(writeMs / 1000).toFixed(1)} s`);
    }
    const references = [{ width: 1024, height: 768, format: 'jpeg' }, { width: 768, height: 1024, format: 'jpeg' }];
    const refs: string[] = [];
    for (const [i, r] of references.entries()) {
      const file = path.join(dir, `ref${i}.jpg`);
      await writeReference(file, r.width, r.height, i + 1);
      refs.push(file);
    }
    const cacheDir = path.join(dir, 'cache');
    const outputDir = path.join(dir, 'out');
    fs.mkdirSync(outputDir, { recursive: true });

    const cases: GenerateCaseOutcome[] = [];
    for (const p of plan(o, roots, refs)) {
      const spec: GenerateCaseSpec = {
        id: p.id, modelsRoot: roots[p.kit], cacheDir, outputDir, ep: p.ep, runs: p.runs, profile: p.profile,
      };
      log(`generate: ${p.label} (${p.runs.length} run${p.runs.length > 1 ? 's' : ''}) ...`);
      const outcome: GenerateCaseOutcome = { id: p.id, label: p.label, group: p.group, kit: p.kit };
      try {
        outcome.result = await runCaseProcess<GenerateCaseResult>(CASE_SCRIPT, spec, GENERATE_RESULT_PREFIX, p.id, o.caseTimeoutMs ?? 5 * 60_000);
        for (const r of outcome.result.runs) {
          log(`generate:   ${r.label}: ${(r.totalMs / 1000).toFixed(2)} s, outside ORT ${(100 * r.outsideShare).toFixed(1)} %`);
        }
      } catch (e) {
        outcome.error = (e as Error).message;
        log(`generate:   FAILED: ${outcome.error}`);
      }
      cases.push(outcome);
    }
    return { kits, references, cases };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
