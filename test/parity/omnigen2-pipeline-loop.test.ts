// The OmniGen2 denoising loop (`omnigen2Denoise`, the one the pipeline runs) against the golden
// `OmniGen2Pipeline.processing` runs (omnigen2/scheduler/pipeline_loop_{euler,dpmsolver++}):
// real transformer passes routed as the reference routes them (cond: prompt + refs, ref: negative +
// refs, uncond: negative, no refs), float32 as the golden run, then the VAE decode of the result.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { Checkpoint } from '../../electron/engine/runtime/safetensors.js';
import { f32 } from '../../electron/engine/runtime/tensor.js';
import { OmniGen2Transformer } from '../../electron/engine/models/omnigen2-transformer.js';
import { VaeDecoder } from '../../electron/engine/models/autoencoder.js';
import { omnigen2Denoise } from '../../electron/engine/sampling/omnigen2-denoise.js';
import type { OmniGen2SchedulerKind } from '../../electron/engine/sampling/omnigen2-schedule.js';
import { GOLDEN_DIR, compareTensors, formatLine, selectedGroups } from '../helpers/golden.js';

const groups = selectedGroups(['omnigen2/scheduler']);
const dir = path.join(GOLDEN_DIR, 'omnigen2/scheduler');
const loopJson = path.join(dir, 'pipeline_loop.json');
const kinds: OmniGen2SchedulerKind[] = groups.length && fs.existsSync(loopJson) ? ['euler', 'dpmsolver++'] : [];

interface LoopJson {
  config: { steps: number; text_guidance: number; image_guidance: number; cfg_range: [number, number]; refs: Array<[number, number]>; latent_hw: [number, number] };
  steps: Record<string, Array<{ predict_calls: string[] }>>;
  transformer: string;
  vae: string;
}

describe.each(kinds)('golden omnigen2/scheduler/pipeline_loop_%s', (kind) => {
  test('3-step guided loop through the tiny transformer, then VAE decode (cpu)', async () => {
    const loop = JSON.parse(fs.readFileSync(loopJson, 'utf8')) as LoopJson;
    const c = loop.config;
    const ck = Checkpoint.open(path.join(dir, `pipeline_loop_${kind}.safetensors`));
    const [lh, lw] = c.latent_hw;
    const text = (p: string) => {
      const shape = ck.shape(`${p}_embeds`);
      return { hidden: ck.readFloat32(`${p}_embeds`), length: shape[1], mask: ck.readInt64(`${p}_attention_mask`) };
    };
    const refs = c.refs.map(([h, w], j) => ({ data: ck.readFloat32(`ref.0.${j}`), height: h, width: w }));
    const dit = await OmniGen2Transformer.create(Checkpoint.open(path.resolve(dir, loop.transformer)), { ep: 'cpu' });
    let result;
    const calls: string[][] = [];
    try {
      result = await omnigen2Denoise(dit, {
        latents: ck.readFloat32('latents_init'), height: lh, width: lw, scheduler: kind, steps: c.steps,
        guidance: { textGuidance: c.text_guidance, imageGuidance: c.image_guidance, cfgRange: c.cfg_range, referenceCount: refs.length },
        prompt: text('prompt'), negative: text('negative_prompt'), refs, bf16: false,
        onPass: (i, pass) => { (calls[i] ??= []).push(pass); },
      });
    } finally {
      await dit.release();
    }
    expect(calls).toEqual(loop.steps[kind].map((s) => s.predict_calls));
    expect(result.passesPerStep).toEqual(loop.steps[kind].map((s) => s.predict_calls.length));
    const last = `step${c.steps - 1}.latents_out`;
    const shape = ck.shape(last);
    const cl = compareTensors(f32(result.latents, shape), { dtype: 'float32', shape, data: ck.readFloat32(last) }, 5e-4, 5e-4);
    console.log(formatLine(`omnigen2/scheduler/pipeline_loop_${kind}/${last}`, 'cpu', cl));
    expect(cl.ok).toBe(true);

    const vae = await VaeDecoder.create(Checkpoint.open(path.resolve(dir, loop.vae)), { ep: 'cpu' });
    try {
      const { image, shape: imgShape } = await vae.decodeLatent(result.latents, shape);
      const cd = compareTensors(f32(image, imgShape), { dtype: 'float32', shape: ck.shape('decoded_image'), data: ck.readFloat32('decoded_image') }, 5e-4, 5e-4);
      console.log(formatLine(`omnigen2/scheduler/pipeline_loop_${kind}/decoded_image`, 'cpu', cd));
      expect(cd.ok).toBe(true);
    } finally {
      await vae.release();
    }
  });
});
