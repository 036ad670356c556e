import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { Checkpoint } from '../../electron/engine/runtime/safetensors.js';
import { unoSchedule, unoScheduleSeqLen } from '../../electron/engine/sampling/uno-schedule.js';
import { eulerStep } from '../../electron/engine/sampling/euler.js';
import { roundToBf16 } from '../../electron/engine/sampling/bf16.js';
import { GOLDEN_DIR, selectedGroups } from '../helpers/golden.js';

const enabled = selectedGroups(['uno/sampling']).length > 0;

const dir = path.join(GOLDEN_DIR, 'uno/sampling');
const schedules = (enabled ? JSON.parse(fs.readFileSync(path.join(dir, 'get_schedule.json'), 'utf8')) : []) as Array<{
  num_steps: number; width: number; height: number; image_seq_len_arg: number; timesteps: number[];
}>;

describe.runIf(enabled)('UNO schedule vs golden get_schedule.json', () => {
  test.each(schedules.map((s) => [`${s.num_steps} steps ${s.width}x${s.height}`, s] as const))('%s', (_n, s) => {
    expect(unoScheduleSeqLen(s.width, s.height)).toBe(s.image_seq_len_arg);
    const ours = unoSchedule(s.num_steps, s.width, s.height);
    expect(ours.length).toBe(s.timesteps.length);
    let maxErr = 0;
    for (let i = 0; i < ours.length; i++) maxErr = Math.max(maxErr, Math.abs(ours[i] - s.timesteps[i]));
    expect(maxErr).toBeLessThanOrEqual(1e-6);
  });
});

describe.runIf(enabled)('UNO denoise loop arithmetic vs golden denoise_loop', () => {
  const loop = (enabled ? JSON.parse(fs.readFileSync(path.join(dir, 'denoise_loop.json'), 'utf8')) : {}) as {
    num_steps: number; width: number; height: number; guidance: number; timesteps: number[];
  };
  const ck = enabled ? Checkpoint.open(path.join(dir, 'denoise_loop.safetensors')) : (null as unknown as Checkpoint);

  test('timesteps are float32-exact; the fp32 golden feeds t and guidance unrounded', () => {
    const ts = unoSchedule(loop.num_steps, loop.width, loop.height);
    expect(Array.from(ts)).toEqual(loop.timesteps.map(Math.fround));
    for (let i = 0; i < loop.num_steps; i++) {
      // This golden is the float32 run of the reference loop; the real (bf16) pipeline rounds both.
      expect(ck.readFloat32(`step${i}.t_vec`)[0]).toBe(ts[i]);
      expect(ck.readFloat32(`step${i}.guidance_vec`)[0]).toBe(Math.fround(loop.guidance));
    }
  });

  test('bf16 rounding as the real pipeline applies it to t and guidance', () => {
    expect(roundToBf16(0.7594769597053528)).toBe(0.7578125);
    expect(roundToBf16(4)).toBe(4);
    expect(roundToBf16(3.3)).toBe(3.296875);
  });

  test('Euler with the golden predictions reproduces every step and the final latent', () => {
    const ts = unoSchedule(loop.num_steps, loop.width, loop.height);
    let img = ck.readFloat32('img');
    for (let i = 0; i < loop.num_steps; i++) {
      const expectedIn = ck.readFloat32(`step${i}.img_in`);
      let e = 0;
      for (let k = 0; k < img.length; k++) e = Math.max(e, Math.abs(img[k] - expectedIn[k]));
      expect(e, `step ${i} input`).toBeLessThanOrEqual(5e-4);
      img = eulerStep(img, ck.readFloat32(`step${i}.pred`), ts[i], ts[i + 1]);
    }
    const final = ck.readFloat32('final_latent_packed');
    let e = 0;
    for (let k = 0; k < img.length; k++) e = Math.max(e, Math.abs(img[k] - final[k]));
    expect(e).toBeLessThanOrEqual(5e-4);
  });
});
