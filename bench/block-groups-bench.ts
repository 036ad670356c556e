// What streaming the denoiser in block groups costs per forward: whole network vs G resident group
// sessions vs G streamed groups (a session created, run and released per group, every forward), on
// the tiny kits' FLUX DiT and OmniGen2 transformer and the mid-size bench DiT, CPU EP.
//   npx tsc -p tsconfig.build.json --outDir /tmp/umo-dist && node /tmp/umo-dist/bench/block-groups-bench.js [runs]
// Prints one row per (network, mode): median forward ms over `runs` (after one warm-up forward),
// the ratio to the whole network and the share of that time spent creating/releasing sessions.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Checkpoint } from '../electron/engine/runtime/safetensors.js';
import { resetSessionStats, sessionStats } from '../electron/engine/runtime/sessions.js';
import { FluxDit, type FluxDitInputs } from '../electron/engine/models/flux-dit.js';
import { type OmniGen2ForwardInputs, OmniGen2Transformer } from '../electron/engine/models/omnigen2-transformer.js';
import { writeTinyUnoKit } from '../electron/engine/kit/tiny-uno-kit.js';
import { writeTinyOmniGen2Kit } from '../electron/engine/kit/tiny-omnigen2-kit.js';
import { SeededRandom } from '../electron/engine/kit/write-checkpoint.js';
import { BENCH_TOKENS, benchInputs, writeBenchCheckpoint } from './bench-model.js';
import { median } from './measure.js';

interface Model<I> {
  forward(inp: I): Promise<Float32Array>;
  release(): Promise<void>;
  readonly groups: readonly unknown[];
}

interface Row {
  net: string;
  mode: string;
  ms: number;
  sessionMs: number;
}

async function time<I>(net: string, mode: string, make: () => Promise<Model<I>>, inp: I, runs: number): Promise<Row> {
  const m = await make();
  try {
    await m.forward(inp); // warm-up: page cache, first-run allocations
    const ms: number[] = [];
    const sess: number[] = [];
    for (let i = 0; i < runs; i++) {
      resetSessionStats();
      const t0 = performance.now();
      await m.forward(inp);
      ms.push(performance.now() - t0);
      sess.push(sessionStats.createMs + sessionStats.releaseMs);
    }
    return { net, mode: `${mode} (${m.groups.length} graph${m.groups.length > 1 ? 's' : ''})`, ms: median(ms), sessionMs: median(sess) };
  } finally {
    await m.release();
  }
}

async function bench<I>(net: string, create: (o: { streamGroups?: number; keepGroupsResident?: boolean }) => Promise<Model<I>>, blocks: number, inp: I, runs: number): Promise<Row[]> {
  const rows = [await time(net, 'whole', () => create({}), inp, runs)];
  for (const g of [...new Set([2, 3, blocks])]) {
    rows.push(await time(net, `resident G=${g}`, () => create({ streamGroups: g, keepGroupsResident: true }), inp, runs));
    rows.push(await time(net, `streamed G=${g}`, () => create({ streamGroups: g }), inp, runs));
  }
  return rows;
}

function omniGen2Inputs(textDim: number): OmniGen2ForwardInputs {
  const rng = new SeededRandom(3);
  const normals = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  return {
    latents: normals(16 * 8 * 8), height: 8, width: 8, timesteps: [0.4],
    text: normals(16 * textDim), textLen: 16, textMask: new Array<number>(16).fill(1),
    refs: [[{ data: normals(16 * 8 * 8), height: 8, width: 8 }]],
  };
}

function tinyFluxInputs(cfg: FluxDit['config']): FluxDitInputs {
  const rng = new SeededRandom(4);
  const normals = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const ids = (n: number, off: number) => Float64Array.from({ length: n * 3 }, (_, i) => (i % 3 === 0 ? 0 : off + Math.floor(i / 3)));
  return {
    img: normals(16 * cfg.inChannels), imgIds: ids(16, 0), txt: normals(16 * cfg.contextInDim), txtIds: new Float64Array(16 * 3),
    vec: normals(cfg.vecInDim), timestep: 0.6, guidance: 4, refs: [{ img: normals(16 * cfg.inChannels), ids: ids(16, 16) }],
  };
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'umo-block-groups-bench-'));
  try {
    await writeTinyUnoKit(path.join(tmp, 'uno'));
    const ditFile = fs.readdirSync(path.join(tmp, 'uno'), { recursive: true, encoding: 'utf8' }).find((f) => /flux.*\.safetensors$/.test(f) && !/lora/i.test(f));
    if (!ditFile) throw new Error('tiny UNO kit: no FLUX DiT file found');
    const ditCk = Checkpoint.open(path.join(tmp, 'uno', ditFile));
    writeTinyOmniGen2Kit(path.join(tmp, 'og2'));
    const og2Ck = Checkpoint.open(path.join(tmp, 'og2', 'OmniGen2', 'OmniGen2', 'transformer'));
    const mid = writeBenchCheckpoint(tmp, 'BF16');
    const midCk = Checkpoint.open(mid.file);

    const rows: Row[] = [];
    const tinyDit = await FluxDit.create(ditCk, { ep: 'cpu' });
    const tinyCfg = tinyDit.config;
    await tinyDit.release();
    rows.push(...await bench('FLUX DiT, tiny kit (2+2 blocks, 48 tokens)', (o) => FluxDit.create(ditCk, { ep: 'cpu', ...o }),
      tinyCfg.depth + tinyCfg.depthSingle, tinyFluxInputs(tinyCfg), runs));
    const og = await OmniGen2Transformer.create(og2Ck, { ep: 'cpu' });
    const ogCfg = og.config;
    await og.release();
    rows.push(...await bench('OmniGen2 transformer, tiny kit (3 refiners + 2 layers)', (o) => OmniGen2Transformer.create(og2Ck, { ep: 'cpu', ...o }),
      ogCfg.contextRefiners + ogCfg.noiseRefiners + ogCfg.refRefiners + ogCfg.layers, omniGen2Inputs(ogCfg.textDim), runs));
    rows.push(...await bench(`FLUX DiT, bench mid-size (hidden 512, 4+8 blocks, ${BENCH_TOKENS.imgSide ** 2 + 512 + BENCH_TOKENS.txt} tokens)`,
      (o) => FluxDit.create(midCk, { ep: 'cpu', ...o }), 12, benchInputs(BENCH_TOKENS), runs));

    let base = 0;
    for (const r of rows) {
      if (r.mode.startsWith('whole')) {
        base = r.ms;
        console.log(`\n${r.net}`);
      }
      console.log(`  ${r.mode.padEnd(26)} ${r.ms.toFixed(1).padStart(8)} ms  ×${(r.ms / base).toFixed(2).padStart(5)}  session create+release ${r.sessionMs.toFixed(1)} ms`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
