// End to end: the OmniGen2 transformer over the PEFT-LoRA-merged bake reproduces the reference
// (peft add_adapter → load_state_dict → fuse_lora → unload_lora) on golden omnigen2/lora
// case_b1_two_refs, for alpha = r (UMO) and alpha = 2r; cases discovered from the output names.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Checkpoint } from '../../../electron/engine/runtime/safetensors.js';
import { BakeCache } from '../../../electron/engine/runtime/bake-cache.js';
import { type HostTensor, f32, readAllTensors } from '../../../electron/engine/runtime/tensor.js';
import { OmniGen2Transformer } from '../../../electron/engine/models/omnigen2-transformer.js';
import { bakePeftLora } from '../../../electron/engine/lora/peft-lora.js';
import { GOLDEN_DIR, compareTensors } from '../../helpers/golden.js';
import { tempDir } from './lora-fixtures.js';
import { omniGen2ForwardInputsOf } from '../../../electron/engine/eval/omnigen2-transformer.js';

const LORA_DIR = path.join(GOLDEN_DIR, 'omnigen2/lora');
const LORA_FILE = path.join(LORA_DIR, 'umo_style_lora_tiny_bf16.safetensors');
const config = JSON.parse(fs.readFileSync(path.join(LORA_DIR, 'config.json'), 'utf8')) as {
  LoraConfig: { r: number; lora_alpha: number };
  alt_lora_alpha: number;
};
const base = Checkpoint.open(path.join(GOLDEN_DIR, 'omnigen2/transformer/tiny'));
const ATOL = 1e-4;
const RTOL = 1e-4;

const dir = tempDir('peft-lora-golden-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const cache = BakeCache.open({ dir, maxBytes: 1e9 });

/** alpha of each expected output, from its name: `output_alpha_eq_r_*` and `output_alpha_alt_*`. */
function alphaOf(name: string): number | null {
  if (name.startsWith('output_alpha_eq_r_')) return config.LoraConfig.lora_alpha;
  if (name.startsWith('output_alpha_alt_')) return config.alt_lora_alpha;
  return null;
}

const caseFiles = fs.readdirSync(LORA_DIR).filter((f) => f.startsWith('case') && f.endsWith('.safetensors')).sort();

describe('PEFT LoRA merged bake through the OmniGen2 transformer (golden omnigen2/lora)', () => {
  it('has cases', () => expect(caseFiles.length).toBeGreaterThan(0));
  for (const file of caseFiles) {
    const golden = readAllTensors(Checkpoint.open(path.join(LORA_DIR, file)));
    const inputs = omniGen2ForwardInputsOf(golden);
    const noLora = golden.get('output_no_lora')!;
    const outputs = [...golden.keys()].filter((k) => k.startsWith('output_')).sort();

    async function forward(alpha: number | null): Promise<HostTensor> {
      const bake = alpha === null ? null : await bakePeftLora({ base, loraFile: LORA_FILE, alpha, precision: 'fp32', cache });
      const m = await OmniGen2Transformer.create(bake ? bake.weights : base, { ep: 'cpu' });
      try {
        return f32(await m.forward(inputs), noLora.shape);
      } finally {
        await m.release();
        bake?.entry.release();
      }
    }

    for (const name of outputs) {
      it(`${file} ${name}`, async () => {
        const alpha = alphaOf(name);
        if (name !== 'output_no_lora' && alpha === null) throw new Error(`unknown golden output "${name}"`);
        const expected = golden.get(name)!;
        const cmp = compareTensors(await forward(alpha), expected, ATOL, RTOL);
        const vsNoLora = compareTensors(noLora, expected, ATOL, RTOL);
        console.log(`${file} ${name}: max |err| ${cmp.maxErr.toExponential(2)}${alpha === null ? '' : ` (no-LoRA output differs by ${vsNoLora.maxErr.toExponential(2)})`}`);
        if (alpha !== null) expect(vsNoLora.ok).toBe(false); // the LoRA changes the output beyond the tolerance
        expect(cmp.ok, `max error ${cmp.maxErr}`).toBe(true);
      });
    }
  }
});
