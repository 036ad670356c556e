// Parity of UNO's LoRA bakes (golden `uno/flux_lora`) and reference preprocessing
// (`uno/preprocess_ref`). Case files, scales, base checkpoint and sizes come from the files:
// `output_lora_weight_<w>` = the processors' weight semantics, `output_update_model_with_lora_<w>`
// = update_model_with_lora (weight² on bf16-rounded factors), `output_no_lora` = base only.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, test } from 'vitest';
import { Checkpoint } from '../../electron/engine/runtime/safetensors.js';
import { BakeCache } from '../../electron/engine/runtime/bake-cache.js';
import { readAllTensors, f32 } from '../../electron/engine/runtime/tensor.js';
import { FluxDit } from '../../electron/engine/models/flux-dit.js';
import { bakeUnoLora, type LoraScale } from '../../electron/engine/lora/merge.js';
import { loadImageRgb } from '../../electron/engine/image/load-image.js';
import { preprocessUnoReference } from '../../electron/engine/image/uno-reference.js';
import { GOLDEN_DIR, caseFiles, checkpointCandidates, compareTensors, formatLine, selectedGroups } from '../helpers/golden.js';

const groups = selectedGroups(['uno/flux_lora', 'uno/preprocess_ref']);

function scaleFromOutputName(name: string): LoraScale | null | undefined {
  if (name === 'output_no_lora') return null;
  let m = /^output_lora_weight_([\d.]+)$/.exec(name);
  if (m) return { mode: 'scale', scale: Number(m[1]) };
  m = /^output_update_model_with_lora_([\d.]+)$/.exec(name);
  if (m) return { mode: 'update_model_with_lora', weight: Number(m[1]) };
  return undefined;
}

describe.runIf(groups.includes('uno/flux_lora'))('golden uno/flux_lora', () => {
  const dir = path.join(GOLDEN_DIR, 'uno/flux_lora');
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { base_checkpoint: string };
  const base = Checkpoint.open(path.resolve(dir, config.base_checkpoint));
  const loras = checkpointCandidates(dir);
  const combos = caseFiles(dir).flatMap((c) => {
    const ck = Checkpoint.open(path.join(dir, c));
    return ck.keys().filter((k) => scaleFromOutputName(k) !== undefined).map((o) => [c, o] as const);
  });

  test.each(combos)('%s %s on cpu', async (caseFile, output) => {
    expect(loras.length, 'one LoRA file in the group').toBe(1);
    const t = readAllTensors(Checkpoint.open(path.join(dir, caseFile)));
    const g = (n: string) => t.get(n)!.data as Float32Array;
    const scale = scaleFromOutputName(output)!;
    const cache = BakeCache.open({ dir: fs.mkdtempSync(path.join(os.tmpdir(), 'umo-parity-bake-')), maxBytes: 1e9 });
    const bake = scale ? await bakeUnoLora({ base, loraFile: loras[0], scale, precision: 'fp32', cache }) : null;
    const dit = await FluxDit.create(bake ? bake.weights : base, { ep: 'cpu' });
    try {
      const refIdx = [...t.keys()].filter((k) => k.startsWith('ref_img.')).map((k) => k.slice(8)).sort();
      const out = await dit.forward({
        img: g('img'), imgIds: g('img_ids'), txt: g('txt'), txtIds: g('txt_ids'), vec: g('vec'),
        timestep: g('timesteps')[0], guidance: t.has('guidance') ? g('guidance')[0] : undefined,
        refs: refIdx.map((i) => ({ img: g(`ref_img.${i}`), ids: g(`ref_img_ids.${i}`) })),
      });
      const c = compareTensors(f32(out, t.get(output)!.shape), t.get(output)!, 1e-4, 1e-4);
      console.log(formatLine(`uno/flux_lora/${caseFile.replace('.safetensors', '')}/${output}`, 'cpu', c));
      expect(c.ok).toBe(true);
    } finally {
      await dit.release();
      bake?.entry.release();
    }
  });
});

describe.runIf(groups.includes('uno/preprocess_ref'))('golden uno/preprocess_ref', () => {
  const dir = path.join(GOLDEN_DIR, 'uno/preprocess_ref');
  const expected = fs.readdirSync(dir).filter((f) => /_long(\d+)\.png$/.test(f)).sort();

  test.each(expected)('%s', async (file) => {
    const long = Number(/_long(\d+)\.png$/.exec(file)![1]);
    const input = await loadImageRgb(path.join(dir, 'input.png'), { alpha: 'drop' });
    const ours = preprocessUnoReference(input, long);
    const { data, info } = await sharp(path.join(dir, file)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([ours.width, ours.height]).toEqual([info.width, info.height]);
    let max = 0;
    let sum = 0;
    for (let i = 0; i < data.length; i++) {
      const e = Math.abs(ours.data[i] - data[i]);
      max = Math.max(max, e);
      sum += e;
    }
    const mean = sum / data.length;
    console.log(`golden uno/preprocess_ref/${file} cpu max_err=${max} mean_err=${mean.toFixed(4)} tol=2 ${max <= 2 ? 'ok' : 'FAIL'}`);
    expect(max).toBeLessThanOrEqual(2);
  });
});
