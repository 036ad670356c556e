// One DiT benchmark case, run in its own process so its peak RSS is its own:
//   node dist/bench/dit-case.js '<DitCaseSpec JSON>'
// Prints one line `BENCH_CASE_RESULT <DitCaseResult JSON>` on stdout and writes the output of the
// last forward to `spec.outputFile` (float32, for the cross-case check).
import fs from 'node:fs';
import { Checkpoint } from '../electron/engine/runtime/safetensors.js';
import { FluxDit, buildFluxDit, readFluxDitConfig } from '../electron/engine/models/flux-dit.js';
import { type DitCaseResult, RESULT_PREFIX, parseDitCaseSpec } from './dit-case-protocol.js';
import { benchInputs, tokenCounts } from './bench-model.js';
import { median, peakRssMb, rssMb, timeForwards } from './measure.js';

async function main(): Promise<void> {
  const spec = parseDitCaseSpec(process.argv[2]);
  const rssBaseMb = rssMb();
  const ck = Checkpoint.open(spec.checkpoint);
  const cfg = readFluxDitConfig(ck);
  const inputs = benchInputs(spec.tokens);

  // Graph build alone (in memory, no weight data read), to separate it from session creation.
  const b0 = performance.now();
  const built = buildFluxDit(ck, { config: cfg, attention: spec.attention });
  const buildMs = performance.now() - b0;

  const c0 = performance.now();
  const dit = await FluxDit.create(ck, { ep: spec.ep, config: cfg, attention: spec.attention, disablePrepacking: !spec.prepacking });
  const createMs = performance.now() - c0;
  const rssAfterCreateMb = rssMb();

  const { warmupMs, forwardMs, output: out, afterRuns } = await timeForwards(dit, inputs, spec.warmups, spec.runs);
  if (!out.every(Number.isFinite)) throw new Error(`${spec.id}: the forward returned non-finite values`);
  fs.writeFileSync(spec.outputFile, out);

  const gb = built.externalBytes / 1e9;
  // FluxDit.create builds the same graph again before creating the session.
  const sessionCreateMs = Math.max(0, createMs - buildMs);
  const result: DitCaseResult = {
    id: spec.id,
    ep: spec.ep,
    attention: spec.attention,
    prepacking: spec.prepacking,
    tokens: tokenCounts(spec.tokens).total,
    parameters: built.parameterCount,
    weightBytes: built.externalBytes,
    nodes: built.nodeCount,
    buildMs,
    createMs,
    sessionCreateMs,
    sessionCreateSecPerGb: sessionCreateMs / 1000 / gb,
    warmupMs,
    forwardMs,
    medianForwardMs: median(forwardMs),
    rssBaseMb,
    rssAfterCreateMb,
    rssAnonAfterRunsMb: afterRuns?.anon ?? null,
    rssFileAfterRunsMb: afterRuns?.file ?? null,
    peakRssMb: peakRssMb(),
  };
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
