// `umo-studio` command line: dispatch to subcommands (each in its own module).
import { runEvalCommand } from './eval-command.js';
import { GENERATE_USAGE, runGenerateCommand } from './generate-command.js';
import { KIT_USAGE, runKitCommand } from './kit-command.js';
import { PLAN_USAGE, runPlanCommand } from './plan-command.js';
import { UsageError } from './usage-error.js';

const USAGE = `usage: umo-studio <command> [options]

commands:
  generate   prompt + reference images -> PNG
      ${GENERATE_USAGE.replace(/\n/g, '\n  ')}
  kit        write the tiny model kit (random weights, real layouts)
      ${KIT_USAGE}
  plan       memory plan for a budget (precisions, residency, peak), from checkpoint headers; exit 3 when it does not fit
      ${PLAN_USAGE.replace(/\n/g, '\n  ')}
  eval <network> --checkpoint PATH --inputs FILE --out FILE [--ep cpu|webgpu]
      run one network on named input tensors (safetensors) and write its outputs
      networks: flux-dit, t5, clip, vae-encode, vae-decode
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'eval':
      return runEvalCommand(rest);
    case 'generate':
      return runGenerateCommand(rest);
    case 'kit':
      return runKitCommand(rest);
    case 'plan':
      return runPlanCommand(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      process.stderr.write(`umo-studio: unknown command "${cmd}"\n\n${USAGE}`);
      return 2;
  }
}

/** Run and map errors to exit codes: 2 for usage errors, 1 for failures. */
export async function runCli(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (e) {
    process.stderr.write(`umo-studio: ${(e as Error).message ?? String(e)}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
