// `npm run bench`: the engine benchmarks. Prints progress on stderr, then a readable table and
// one `BENCH_JSON {...}` line on stdout.
//   --cpu-runs N     timed CPU forwards per case after one warm-up (default 3)
//   --gpu-runs N     timed WebGPU forwards (default 1; lavapipe is slow)
//   --gpu-warmups N  untimed WebGPU forwards first (default 0: the timed run includes shader compilation)
//   --no-webgpu      skip the WebGPU case
//   --no-linear      skip the linear-layout micro-benchmark
//   --dtype D        DiT checkpoint dtype: F32 (default; what the fp32 LoRA bake gives), BF16 or F16
//   --only LIST      run only these benches, comma-separated: dit, linear, generate, memory, precision (default: all)
//                    (precision: fp32/fp16/int8/int4 on the mid-size DiT; --cpu-runs / --gpu-runs apply, 1 warm-up each)
//   --gen-profile    generation bench: sample the JS thread of the CPU generation cases and list
//                    the heaviest functions
import os from 'node:os';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import type { DType } from '../electron/engine/runtime/safetensors.js';
import { probeExecutionProviders } from '../electron/engine/runtime/sessions.js';
import { type DitBenchReport, runDitBench } from './dit-bench.js';
import { LINEAR_BENCH_DEFAULTS, type LinearBenchReport, runLinearBench } from './linear-bench.js';
import { formatTable } from './table.js';
import { type GenerateBenchReport, runGenerateBench } from './generate-bench.js';
import { bakeTable, generationPhaseTable, outsideByPhaseTable, profileSection } from './generate-report.js';
import { memoryTable, runMemoryBench } from './memory-bench.js';
import { precisionSection, runPrecisionBench } from './precision-bench.js';

const BENCHES = ['dit', 'linear', 'generate', 'memory', 'precision'] as const;
type BenchName = (typeof BENCHES)[number];

function benchList(v: string | undefined, noLinear: boolean): Set<BenchName> {
  const names = v === undefined ? [...BENCHES] : v.split(',').map((x) => x.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(BENCHES as readonly string[]).includes(n));
  if (unknown.length || names.length === 0) {
    throw new Error(`--only takes a comma-separated list of ${BENCHES.join(', ')}; got "${v ?? ''}"`);
  }
  const set = new Set(names as BenchName[]);
  if (noLinear) set.delete('linear');
  return set;
}

function intOption(name: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${v}"`);
  return n;
}

function ortVersion(): string {
  try {
    const req = createRequire(import.meta.url);
    return (req('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const sec = (ms: number) => (ms / 1000).toFixed(2);
const mb = (v: number | null) => (v === null ? '-' : v.toFixed(0));

function ditTable(r: DitBenchReport): string {
  const rows = r.cases.map((c) => {
    const x = c.result;
    if (!x) return [c.label, `failed: ${c.error ?? '?'}`];
    const diff = c.vsBaseline ? c.vsBaseline.maxAbsDiff.toExponential(1) : 'baseline';
    return [
      c.label,
      sec(x.sessionCreateMs),
      (x.sessionCreateSecPerGb).toFixed(2),
      x.warmupMs.length ? sec(x.warmupMs[0]) : '-',
      `${sec(x.medianForwardMs)} (${x.forwardMs.length})`,
      x.peakRssMb.toFixed(0),
      mb(x.rssAnonAfterRunsMb),
      mb(x.rssFileAfterRunsMb),
      diff,
    ];
  });
  return formatTable(
    ['case', 'create s', 'create s/GB', 'warm-up s', 'median fwd s (n)', 'peak RSS MB', 'private MB', 'mapped MB', 'max |Δ| vs baseline'],
    rows,
  );
}

function linearTable(r: LinearBenchReport): string {
  const rows = r.cases.map((c) => {
    const x = c.result;
    if (!x) return [c.label, `failed: ${c.error ?? '?'}`];
    return [
      c.label, sec(x.createMs), x.createSecPerGb.toFixed(2), x.createRssMb.toFixed(0), x.medianForwardMs.toFixed(0),
      x.peakRssMb.toFixed(0), mb(x.rssAnonAfterRunsMb), mb(x.rssFileAfterRunsMb),
    ];
  });
  return formatTable(['layout', 'create s', 'create s/GB', 'RSS growth at create MB', 'median fwd ms', 'peak RSS MB', 'private MB', 'mapped MB'], rows);
}

function printGenerate(g: GenerateBenchReport): void {
  const kit = (k: 'tiny' | 'mid') => {
    const x = g.kits[k];
    return `${k}: DiT hidden ${x.dit.hidden}, ${x.dit.heads} heads, ${x.dit.depth}+${x.dit.depthSingle} blocks ` +
      `(BF16 ${(x.ditBytes / 1e6).toFixed(1)} MB), LoRA rank ${x.loraRank} (${(x.loraBytes / 1e6).toFixed(1)} MB)`;
  };
  console.log('');
  console.log(`UNO generation, runUnoPipeline in-process (one process per case), prompt + ${g.references.length} references ` +
    `(${g.references.map((r) => `${r.width}×${r.height} ${r.format}`).join(', ')}), 4 steps, UNO LoRA (baked in the base checkpoint's precision)`);
  console.log(`  kits: ${kit('tiny')}; ${kit('mid')}`);
  console.log(generationPhaseTable(g));
  console.log('(wall seconds per phase; "load DiT" = graph build + session creation; ORT run / create = summed time inside ' +
    'NetSession.run / createSession; outside % = share of the wall time spent outside both; of which release = ' +
    'NetSession.release (ORT freeing memory); host % = outside without release)');
  console.log('');
  console.log(outsideByPhaseTable(g));
  console.log('');
  console.log('LoRA bakes (mid kit, CPU, 64×64, 1 step, no references):');
  console.log(bakeTable(g));
  console.log('(bake s = the baking phase: LoRA hash + cache lookup, and on a miss the merge and the bake file write; ' +
    'merge runs = ORT MatMul time inside it)');
  const prof = profileSection(g);
  if (prof) {
    console.log('');
    console.log(prof);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'cpu-runs': { type: 'string' },
      'gpu-runs': { type: 'string' },
      'gpu-warmups': { type: 'string' },
      'no-webgpu': { type: 'boolean', default: false },
      'no-linear': { type: 'boolean', default: false },
      only: { type: 'string' },
      'gen-profile': { type: 'boolean', default: false },
      dtype: { type: 'string', default: 'F32' },
    },
  });
  const dtype = values.dtype.toUpperCase();
  if (dtype !== 'F32' && dtype !== 'BF16' && dtype !== 'F16') throw new Error(`--dtype must be F32, BF16 or F16, got "${values.dtype}"`);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const only = benchList(values.only, values['no-linear']);

  let webgpu = !values['no-webgpu'];
  let webgpuNote = webgpu ? 'probed' : 'skipped (--no-webgpu)';
  if (webgpu) {
    const probe = (await probeExecutionProviders()).find((p) => p.ep === 'webgpu');
    webgpu = probe?.works ?? false;
    webgpuNote = webgpu ? 'works' : `unavailable: ${probe?.detail ?? 'not probed'}`;
  }
  const env = {
    node: process.version,
    onnxruntime: ortVersion(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memGb: Math.round(os.totalmem() / 1e9),
    webgpu: webgpuNote,
  };
  log(`bench: node ${env.node}, onnxruntime-node ${env.onnxruntime}, ${env.cpus} × ${env.cpuModel}, ${env.memGb} GB; WebGPU ${webgpuNote}`);

  const t0 = performance.now();
  const dit = !only.has('dit') ? null : await runDitBench({
    dtype: dtype as DType,
    cpuRuns: intOption('cpu-runs', values['cpu-runs'], 3, 1),
    gpuRuns: intOption('gpu-runs', values['gpu-runs'], 1, 1),
    gpuWarmups: intOption('gpu-warmups', values['gpu-warmups'], 0, 0),
    webgpu,
    log,
  });
  const linear = !only.has('linear') ? null : await runLinearBench({ ...LINEAR_BENCH_DEFAULTS, log });
  const generate = !only.has('generate') ? null : await runGenerateBench({ webgpu, profile: values['gen-profile'], log });
  const memory = !only.has('memory') ? null : await runMemoryBench({ allSettings: false, log });
  const precision = !only.has('precision') ? null : await runPrecisionBench({
    cpuRuns: intOption('cpu-runs', values['cpu-runs'], 3, 1),
    gpuRuns: intOption('gpu-runs', values['gpu-runs'], 1, 1),
    gpuWarmups: 1,
    webgpu,
    log,
  });
  const totalMs = performance.now() - t0;

  if (dit) {
    const s = dit.sizes;
    const t = dit.tokens;
    console.log('');
    console.log(`FLUX DiT forward: hidden ${s.hidden}, ${s.heads} heads, ${s.depth} double + ${s.depthSingle} single blocks, ` +
      `${(dit.cases.find((c) => c.result)?.result?.parameters ?? 0) / 1e6 | 0} M parameters, ${dit.dtype} ${(dit.checkpointBytes / 1e6).toFixed(0)} MB; ` +
      `${t.total} tokens (${t.img} target + ${t.refs} reference + ${t.txt} text)`);
    console.log(ditTable(dit));
    console.log('(create = session creation after the graph build; peak RSS per case process; private / mapped = anonymous / ' +
      'file-backed resident MB after the last forward; Δ = max abs output difference vs the first case)');
  }
  if (linear) {
    console.log('');
    console.log(`Linear weight layout, CPU: ${linear.layers} × [${linear.width}, ${linear.width}] F32 ` +
      `(${(linear.weightBytes / 1e6).toFixed(0)} MB), ${linear.tokens} tokens`);
    console.log(linearTable(linear));
  }
  if (generate) printGenerate(generate);
  if (memory) {
    console.log('');
    console.log('Peak RSS, memory planner estimate vs measured: one real generation per process on CPU, plan pinned to one phase at a time, '
      + 'the engine\'s ORT session settings (node dist/bench/memory-bench.js --all-settings also runs arena / prepacking off)');
    console.log(memoryTable(memory));
    console.log('(per phase: estimate / measured peak MiB; measured = VmHWM reset at every pipeline phase event; error = (estimate − measured) / measured)');
  }
  if (precision) {
    console.log('');
    console.log(precisionSection(precision));
  }
  console.log(`(total ${sec(totalMs)} s)`);
  console.log(`BENCH_JSON ${JSON.stringify({ env, dit, linear, generate, memory, precision, totalMs })}`);
  if (dit?.cases.some((c) => c.error) || linear?.cases.some((c) => c.error) || generate?.cases.some((c) => c.error)
    || memory?.rows.some((r) => r.failure) || precision?.cases.some((c) => c.error)) process.exitCode = 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
