// `umo-studio eval <network> --checkpoint PATH --inputs FILE --out FILE [--ep cpu|webgpu]`:
// reads named input tensors, runs one network built from the checkpoint, writes named outputs.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EVAL_NETWORKS, isEvalNetwork } from '../engine/eval/networks.js';
import { Checkpoint, writeSafetensorsFile } from '../engine/runtime/safetensors.js';
import { isExecutionProvider } from '../engine/runtime/sessions.js';
import { readAllTensors, toSafetensors } from '../engine/runtime/tensor.js';
import { UsageError } from './usage-error.js';

export async function runEvalCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      checkpoint: { type: 'string' },
      inputs: { type: 'string' },
      out: { type: 'string' },
      ep: { type: 'string', default: 'cpu' },
    },
  });
  const network = positionals[0];
  const names = Object.keys(EVAL_NETWORKS).join(', ');
  if (!network) throw new UsageError(`eval: name a network (${names})`);
  if (!isEvalNetwork(network)) throw new UsageError(`eval: unknown network "${network}" (expected one of ${names})`);
  if (!values.checkpoint) throw new UsageError('eval: --checkpoint PATH is required (a .safetensors file or a model folder)');
  if (!values.inputs) throw new UsageError('eval: --inputs FILE is required (a .safetensors file of named input tensors)');
  if (!values.out) throw new UsageError('eval: --out FILE is required (where the outputs are written, .safetensors)');
  const ep = values.ep ?? 'cpu';
  if (!isExecutionProvider(ep)) throw new UsageError(`eval: unknown --ep "${ep}" (expected cpu, webgpu, dml, cuda or coreml)`);
  if (!fs.existsSync(values.checkpoint)) throw new UsageError(`eval: checkpoint ${values.checkpoint} does not exist`);
  const outDir = path.dirname(path.resolve(values.out));
  if (!fs.existsSync(outDir)) throw new UsageError(`eval: output folder ${outDir} does not exist`);

  const inputs = readAllTensors(Checkpoint.open(values.inputs));
  const t0 = performance.now();
  const outputs = await EVAL_NETWORKS[network].run(values.checkpoint, inputs, { ep });
  const ms = performance.now() - t0;
  writeSafetensorsFile(values.out, toSafetensors(outputs), { network, checkpoint: path.resolve(values.checkpoint), ep });
  for (const [k, t] of outputs) process.stdout.write(`${k} [${t.shape.join(', ')}]\n`);
  process.stdout.write(`eval ${network} on ${ep}: ${outputs.size} outputs in ${ms.toFixed(0)} ms -> ${values.out}\n`);
  return 0;
}
