// One linear-layout benchmark case in its own process:
//   node dist/bench/linear-case.js '<LinearCaseSpec JSON>'
// A stack of torch-layout Linear weights [out, in] applied either as MatMul(x, Transpose(W))
// (what nn.linear emits today) or as Gemm(x, W, transB=1). Prints `BENCH_LINEAR_RESULT <JSON>`.
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../electron/engine/runtime/graph.js';
import { Checkpoint } from '../electron/engine/runtime/safetensors.js';
import { createSession } from '../electron/engine/runtime/sessions.js';
import { LINEAR_RESULT_PREFIX, type LinearCaseResult, parseLinearCaseSpec } from './linear-case-protocol.js';
import { median, peakRssMb, rssBreakdownMb, rssMb } from './measure.js';

async function main(): Promise<void> {
  const spec = parseLinearCaseSpec(process.argv[2]);
  const ck = Checkpoint.open(spec.checkpoint);
  const keys = ck.keys().filter((k) => k.endsWith('.weight')).sort();
  const [, width] = ck.shape(keys[0]);
  const b = new GraphBuilder(`linear_${spec.layout}`);
  let x = b.input('x', 'float32', ['tokens', width]);
  for (const key of keys) {
    const w = b.weight(ck.info(key));
    x = spec.layout === 'transpose-matmul'
      ? b.op('MatMul', [x, b.op('Transpose', [w], { perm: [1, 0] })])
      : b.op('Gemm', [x, w], { transB: 1 });
  }
  b.output(x, 'y', 'float32', ['tokens', width]);
  const built = b.build();

  const rssBeforeMb = rssMb();
  const session = await createSession(built, { ep: 'cpu', disablePrepacking: !spec.prepacking });
  const rssAfterCreateMb = rssMb();
  const input = new ort.Tensor('float32', new Float32Array(spec.tokens * width).fill(0.01), [spec.tokens, width]);
  const forwardMs: number[] = [];
  let afterRuns: ReturnType<typeof rssBreakdownMb> = null;
  try {
    for (let i = 0; i < 1 + spec.runs; i++) {
      const t0 = performance.now();
      await session.run({ x: input }, ['y']);
      if (i > 0) forwardMs.push(performance.now() - t0);
    }
    afterRuns = rssBreakdownMb();
  } finally {
    await session.release();
  }
  const result: LinearCaseResult = {
    id: spec.id,
    layout: spec.layout,
    prepacking: spec.prepacking,
    weightBytes: built.externalBytes,
    createMs: session.createMs,
    createSecPerGb: session.createMs / 1000 / (built.externalBytes / 1e9),
    createRssMb: rssAfterCreateMb - rssBeforeMb,
    medianForwardMs: median(forwardMs),
    rssAnonAfterRunsMb: afterRuns?.anon ?? null,
    rssFileAfterRunsMb: afterRuns?.file ?? null,
    peakRssMb: peakRssMb(),
  };
  process.stdout.write(`${LINEAR_RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
