// One precision bench case (precision × EP), run in its own process so its peak RSS and its
// session are its own:
//   node dist/bench/precision-case.js '<PrecisionCaseSpec JSON>'
// Bakes (or reuses) the quantized weights with the engine's quantizedWeights(), builds the DiT on
// them, times session creation and the forwards, prints one line
// `BENCH_PRECISION_RESULT <PrecisionCaseResult JSON>` and writes the last output (float32) to
// `spec.outputFile` for the error against fp32.
import fs from 'node:fs';
import { Checkpoint } from '../electron/engine/runtime/safetensors.js';
import { BakeCache } from '../electron/engine/runtime/bake-cache.js';
import { quantizedWeights } from '../electron/engine/runtime/quantized-bake.js';
import { fluxDitMemoryModel } from '../electron/engine/runtime/network-memory-models.js';
import { resetSessionStats, sessionStats } from '../electron/engine/runtime/sessions.js';
import { FluxDit, buildFluxDit, readFluxDitConfig } from '../electron/engine/models/flux-dit.js';
import { type PrecisionCaseResult, PRECISION_RESULT_PREFIX, parsePrecisionCaseSpec } from './precision-case-protocol.js';
import { benchInputs, tokenCounts } from './bench-model.js';
import { peakRssMb, rssMb, timeForwards } from './measure.js';

/** Generous: the bench writes a handful of bakes of the mid-size DiT (tens of MB each). */
const CACHE_MAX_BYTES = 20e9;

async function main(): Promise<void> {
  const spec = parsePrecisionCaseSpec(process.argv[2]);
  const base = Checkpoint.open(spec.checkpoint);
  const cfg = readFluxDitConfig(base);
  const inputs = benchInputs(spec.tokens);
  const cache = BakeCache.open({ dir: spec.cacheDir, maxBytes: CACHE_MAX_BYTES });

  const k0 = performance.now();
  const q = await quantizedWeights({
    base, choice: { precision: spec.precision }, roleOf: fluxDitMemoryModel(base).roleOf, cache,
    device: spec.ep === 'cpu' ? 'cpu' : 'gpu',
  });
  const bakeMs = performance.now() - k0;
  try {
    const w = q.weights;
    const b0 = performance.now();
    const built = buildFluxDit(w, { config: cfg });
    const buildMs = performance.now() - b0;

    resetSessionStats();
    const dit = await FluxDit.create(w, { ep: spec.ep, config: cfg });
    const sessionCreateMs = sessionStats.createMs;
    const rssAfterCreateMb = rssMb();

    const { warmupMs, forwardMs, output: out, afterRuns } = await timeForwards(dit, inputs, spec.warmups, spec.runs);
    if (!out.every(Number.isFinite)) throw new Error(`${spec.id}: the forward returned non-finite values`);
    fs.writeFileSync(spec.outputFile, out);

    const result: PrecisionCaseResult = {
      id: spec.id,
      precision: spec.precision,
      ep: spec.ep,
      tokens: tokenCounts(spec.tokens).total,
      bakeMs,
      bakeHit: q.entry ? q.entry.hit : null,
      bakeFileBytes: q.entry ? fs.statSync(q.entry.path).size : 0,
      quantizedLinears: w.quantizedKeys().length,
      linearCompute: w.linearCompute,
      parameters: built.parameterCount,
      nodes: built.nodeCount,
      graphWeightBytes: built.externalBytes,
      buildMs,
      sessionCreateMs,
      warmupMs,
      forwardMs,
      meanForwardMs: forwardMs.reduce((a, b) => a + b, 0) / forwardMs.length,
      rssAfterCreateMb,
      rssAnonAfterRunsMb: afterRuns?.anon ?? null,
      rssFileAfterRunsMb: afterRuns?.file ?? null,
      peakRssMb: peakRssMb(),
    };
    process.stdout.write(`${PRECISION_RESULT_PREFIX}${JSON.stringify(result)}\n`);
  } finally {
    q.release();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
