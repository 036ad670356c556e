// End to end: the FLUX DiT over the LoRA-merged bake reproduces the reference UNO processors
// (unmerged LoRA at runtime) for weight 1 and for update_model_with_lora(0.7).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Checkpoint } from '../../../electron/engine/runtime/safetensors.js';
import { BakeCache } from '../../../electron/engine/runtime/bake-cache.js';
import { type HostTensor, readAllTensors } from '../../../electron/engine/runtime/tensor.js';
import { FluxDit, readFluxDitConfig } from '../../../electron/engine/models/flux-dit.js';
import { type LoraScale, bakeUnoLora } from '../../../electron/engine/lora/merge.js';
import { compareTensors } from '../../helpers/golden.js';
import { BASE_FILE, LORA_DIR, LORA_FILE, tempDir } from './lora-fixtures.js';

const dir = tempDir('uno-lora-golden-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const ATOL = 1e-4;
const RTOL = 1e-4;

const base = Checkpoint.open(BASE_FILE);
const config = readFluxDitConfig(base);
const golden = readAllTensors(Checkpoint.open(path.join(LORA_DIR, 'case_two_refs.safetensors')));
const g = (name: string): Float32Array => {
  const t = golden.get(name);
  if (!t) throw new Error(`golden case lacks "${name}"`);
  return t.data as Float32Array;
};

async function forwardWith(scale: LoraScale | null, cache: BakeCache): Promise<HostTensor> {
  const bake = scale ? await bakeUnoLora({ base, loraFile: LORA_FILE, scale, precision: 'fp32', cache }) : null;
  const dit = await FluxDit.create(bake ? bake.weights : base, { ep: 'cpu', config });
  try {
    const out = await dit.forward({
      img: g('img'), imgIds: g('img_ids'), txt: g('txt'), txtIds: g('txt_ids'), vec: g('vec'),
      timestep: g('timesteps')[0], guidance: g('guidance')[0],
      refs: [0, 1].map((i) => ({ img: g(`ref_img.${i}`), ids: g(`ref_img_ids.${i}`) })),
    });
    return { dtype: 'float32', shape: golden.get('output_lora_weight_1')!.shape, data: out };
  } finally {
    await dit.release();
    bake?.entry.release();
  }
}

describe('UNO LoRA merged bake through the FLUX DiT (golden uno/flux_lora case_two_refs)', () => {
  const cache = BakeCache.open({ dir, maxBytes: 1e9 });
  const cases: Array<[string, LoraScale]> = [
    ['output_lora_weight_1', { mode: 'scale', scale: 1 }],
    ['output_update_model_with_lora_0.7', { mode: 'update_model_with_lora', weight: 0.7 }],
  ];
  it('output_no_lora (the base DiT alone: the precision floor the merged runs are measured against)', async () => {
    const cmp = compareTensors(await forwardWith(null, cache), golden.get('output_no_lora')!, ATOL, RTOL);
    console.log(`output_no_lora: max |err| = ${cmp.maxErr.toExponential(2)}`);
    expect(cmp.ok).toBe(true);
  });
  for (const [name, scale] of cases) {
    it(`${name}`, async () => {
      const expected = golden.get(name)!;
      const got = await forwardWith(scale, cache);
      const cmp = compareTensors(got, expected, ATOL, RTOL);
      const vsNoLora = compareTensors(golden.get('output_no_lora')!, expected, ATOL, RTOL);
      console.log(`${name}: max |err| = ${cmp.maxErr.toExponential(2)} (no-LoRA output differs by ${vsNoLora.maxErr.toExponential(2)})`);
      expect(vsNoLora.ok).toBe(false); // the LoRA changes the output beyond the tolerance
      expect(cmp.ok).toBe(true);
    });
  }
});
