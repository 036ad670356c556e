// Parity of UNO's sampling with the golden `uno/sampling` vectors: the 3-step denoise loop with the
// tiny DiT (float32 reference run; the golden's own DiT is found next to it). Discovered from files.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { Checkpoint } from '../../electron/engine/runtime/safetensors.js';
import { FluxDit } from '../../electron/engine/models/flux-dit.js';
import { unoSchedule } from '../../electron/engine/sampling/uno-schedule.js';
import { unoDenoise } from '../../electron/engine/sampling/uno-denoise.js';
import { f32 } from '../../electron/engine/runtime/tensor.js';
import { GOLDEN_DIR, compareTensors, formatLine, selectedGroups } from '../helpers/golden.js';

const groups = selectedGroups(['uno/sampling']);
const dir = path.join(GOLDEN_DIR, 'uno/sampling');
const loops = groups.length ? fs.readdirSync(dir).filter((f) => /^denoise_loop.*\.json$/.test(f)) : [];

describe.each(loops)('golden uno/sampling/%s', (jsonFile) => {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, jsonFile), 'utf8')) as {
    num_steps: number; width: number; height: number; guidance: number; model: string;
  };
  const ck = Checkpoint.open(path.join(dir, jsonFile.replace(/\.json$/, '.safetensors')));
  const modelFile = path.resolve(dir, meta.model.split(' ')[0]);

  test.each(['cpu'] as const)('3-step loop on %s', async (ep) => {
    const dit = await FluxDit.create(Checkpoint.open(modelFile), { ep });
    try {
      const refKeys = ck.keys().filter((k) => k.startsWith('ref_img.')).sort();
      const final = await unoDenoise(dit, {
        img: ck.readFloat32('img'), imgIds: ck.readFloat32('img_ids'),
        txt: ck.readFloat32('txt'), txtIds: ck.readFloat32('txt_ids'), vec: ck.readFloat32('vec'),
        refs: refKeys.map((k) => ({ img: ck.readFloat32(k), ids: ck.readFloat32(k.replace('ref_img.', 'ref_img_ids.')) })),
        timesteps: unoSchedule(meta.num_steps, meta.width, meta.height),
        guidance: meta.guidance,
        roundInputsToBf16: false,
      });
      const c = compareTensors(f32(final, ck.shape('final_latent_packed')), { dtype: 'float32', shape: ck.shape('final_latent_packed'), data: ck.readFloat32('final_latent_packed') }, 5e-4, 5e-4);
      console.log(formatLine(`uno/sampling/${jsonFile.replace(/\.json$/, '')}/final_latent_packed`, ep, c));
      expect(c.ok).toBe(true);
    } finally {
      await dit.release();
    }
  });
});
