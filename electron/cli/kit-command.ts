// `umo-studio kit --backbone uno --out DIR [--seed N]`: write the tiny model kit (seeded random
// weights in the real Hugging Face layouts) — for tests, the demo model and benchmarks.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeTinyUnoKit } from '../engine/kit/tiny-uno-kit.js';
import { writeTinyOmniGen2Kit } from '../engine/kit/tiny-omnigen2-kit.js';
import { UsageError } from './usage-error.js';

export const KIT_USAGE = 'umo-studio kit --backbone uno|omnigen2 --out DIR [--seed N]';

export async function runKitCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { backbone: { type: 'string', default: 'uno' }, out: { type: 'string' }, seed: { type: 'string' } },
  });
  if (values.backbone !== 'uno' && values.backbone !== 'omnigen2') throw new UsageError(`kit: unknown --backbone "${values.backbone}" (uno or omnigen2)`);
  if (!values.out) throw new UsageError(`kit: --out DIR is required\n${KIT_USAGE}`);
  const out = path.resolve(values.out);
  if (fs.existsSync(out) && fs.readdirSync(out).length > 0) throw new UsageError(`kit: ${out} exists and is not empty; choose an empty or new folder`);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isSafeInteger(seed)) throw new UsageError(`kit: --seed must be a whole number (got "${values.seed}")`);
  fs.mkdirSync(out, { recursive: true });
  if (values.backbone === 'omnigen2') {
    writeTinyOmniGen2Kit(out, { seed });
    process.stdout.write(`wrote the tiny OmniGen2 kit (random weights) to ${out}\ntry: umo-studio generate --backbone omnigen2 --models-root ${out} --prompt "test" --width 64 --height 64 --steps 3 --out test.png\n`);
    return 0;
  }
  await writeTinyUnoKit(out, { seed });
  process.stdout.write(`wrote the tiny UNO kit (random weights) to ${out}\ntry: umo-studio generate --models-root ${out} --prompt "test" --width 64 --height 64 --steps 4 --out test.png\n`);
  return 0;
}
