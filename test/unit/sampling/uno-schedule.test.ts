// UNO schedule (float32-exact), torch's linspace, the Euler step and bf16 rounding of t / guidance,
// against the uno/sampling goldens (entries discovered from the JSON files).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { Checkpoint } from '../../../electron/engine/runtime/safetensors.js';
import { linspaceF32, unoSchedule, unoScheduleSeqLen } from '../../../electron/engine/sampling/uno-schedule.js';
import { eulerStep, eulerStepBf16 } from '../../../electron/engine/sampling/euler.js';
import { bf16Guidance, bf16Timestep, roundArrayToBf16, roundToBf16 } from '../../../electron/engine/sampling/bf16.js';
import { GOLDEN_DIR } from '../../helpers/golden.js';

const dir = path.join(GOLDEN_DIR, 'uno/sampling');
const present = fs.existsSync(path.join(dir, 'get_schedule.json'));
const schedules = (present ? JSON.parse(fs.readFileSync(path.join(dir, 'get_schedule.json'), 'utf8')) : []) as Array<{
  num_steps: number; width: number; height: number; width_rounded: number; height_rounded: number;
  image_seq_len_arg: number; timesteps: number[];
}>;

function maxAbs(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.runIf(present)('UNO schedule vs golden get_schedule.json (float32-exact)', () => {
  test.each(schedules.map((s) => [`${s.num_steps} steps ${s.width}x${s.height}`, s] as const))('%s', (_n, s) => {
    expect(unoScheduleSeqLen(s.width, s.height)).toBe(s.image_seq_len_arg);
    expect(unoScheduleSeqLen(s.width_rounded, s.height_rounded)).toBe(s.image_seq_len_arg);
    expect(Array.from(unoSchedule(s.num_steps, s.width, s.height))).toEqual(s.timesteps);
  });
});

describe('torch.linspace emulation', () => {
  test('endpoints, symmetry rule and monotonicity for many sizes', () => {
    for (let n = 2; n <= 70; n++) {
      const t = linspaceF32(1, 0, n);
      expect(t[0]).toBe(1);
      expect(t[n - 1]).toBe(0);
      for (let i = 1; i < n; i++) expect(t[i]).toBeLessThan(t[i - 1]);
      // The scalar tail (index >= 16·floor(n/16)) follows the two-sided rule exactly.
      const step = Math.fround(-1 / (n - 1));
      for (let i = 16 * Math.floor(n / 16); i < n; i++) {
        const want = i < Math.floor(n / 2) ? Math.fround(1 + Math.fround(step * i)) : Math.fround(0 - Math.fround(step * (n - 1 - i)));
        expect(t[i]).toBe(want);
      }
    }
    expect(Array.from(linspaceF32(3, 5, 1))).toEqual([3]);
    expect(linspaceF32(0, 1, 0).length).toBe(0);
  });

  test('bad arguments are refused', () => {
    expect(() => unoSchedule(0, 512, 512)).toThrow(/steps must be a positive whole number/);
    expect(() => unoSchedule(2.5, 512, 512)).toThrow(/steps must be a positive whole number/);
    expect(() => unoSchedule(4, 8, 512)).toThrow(/width must be at least 16/);
  });
});

const loopPresent = fs.existsSync(path.join(dir, 'denoise_loop.json'));

describe.runIf(loopPresent)('UNO denoise-loop arithmetic vs golden denoise_loop', () => {
  const loop = loopPresent
    ? (JSON.parse(fs.readFileSync(path.join(dir, 'denoise_loop.json'), 'utf8')) as { num_steps: number; width: number; height: number; guidance: number; timesteps: number[] })
    : { num_steps: 0, width: 0, height: 0, guidance: 0, timesteps: [] };
  const ck = () => Checkpoint.open(path.join(dir, 'denoise_loop.safetensors'));

  test('timesteps equal the json list and the float64 tensor exactly', () => {
    const ts = Array.from(unoSchedule(loop.num_steps, loop.width, loop.height));
    expect(ts).toEqual(loop.timesteps);
    expect(ts).toEqual(Array.from(ck().readFloat32('timesteps_list')));
  });

  test('the float32 golden feeds t and guidance unrounded; bf16 rounding of them goes via float32', () => {
    const c = ck();
    const ts = unoSchedule(loop.num_steps, loop.width, loop.height);
    for (let i = 0; i < loop.num_steps; i++) {
      const t = c.readFloat32(`step${i}.t_vec`)[0];
      expect(t).toBe(ts[i]);
      expect(c.readFloat32(`step${i}.guidance_vec`)[0]).toBe(Math.fround(loop.guidance));
      // What the real bf16 pipeline's torch.full(..., dtype=bfloat16) holds.
      expect(bf16Timestep(ts[i])).toBe(roundArrayToBf16(Float32Array.of(t))[0]);
    }
    expect(bf16Guidance(loop.guidance)).toBe(roundToBf16(Math.fround(loop.guidance)));
    expect(bf16Timestep(0.7594769597053528)).toBe(0.7578125);
    expect(bf16Guidance(3.5)).toBe(3.5);
    // Ties go to even, and rounding goes through float32 first (as c10::BFloat16(float) does).
    expect(roundToBf16(1 + 2 ** -8)).toBe(1);
    expect(roundToBf16(1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6);
    expect(roundToBf16(1 + 2 ** -8 + 2 ** -40)).toBe(1);
  });

  test('Euler with the golden predictions reproduces every step input and the final latent exactly', () => {
    const c = ck();
    const ts = unoSchedule(loop.num_steps, loop.width, loop.height);
    let img = c.readFloat32('img');
    for (let i = 0; i < loop.num_steps; i++) {
      expect(maxAbs(img, c.readFloat32(`step${i}.img_in`)), `step ${i} input`).toBe(0);
      img = eulerStep(img, c.readFloat32(`step${i}.pred`), ts[i], ts[i + 1]);
    }
    expect(maxAbs(img, c.readFloat32('final_latent_packed'))).toBe(0);
  });

  test('the bf16 step rounds product and sum to bf16 and stays within bf16 precision of the float32 step', () => {
    const c = ck();
    const ts = unoSchedule(loop.num_steps, loop.width, loop.height);
    const x = roundArrayToBf16(c.readFloat32('img'));
    const v = roundArrayToBf16(c.readFloat32('step0.pred'));
    const b = eulerStepBf16(x, v, ts[0], ts[1]);
    expect(Array.from(roundArrayToBf16(b))).toEqual(Array.from(b));
    const ref = eulerStep(x, v, ts[0], ts[1]);
    // Two bf16 roundings (8-bit significand): each error is at most half an ulp of its result.
    const dt = Math.fround(ts[1] - ts[0]);
    let differ = 0;
    for (let i = 0; i < b.length; i++) {
      if (b[i] !== ref[i]) differ++;
      expect(Math.abs(b[i] - ref[i])).toBeLessThanOrEqual(2 ** -8 * (Math.abs(dt * v[i]) + Math.abs(ref[i])));
    }
    expect(differ).toBeGreaterThan(0);
    expect(() => eulerStep(x, v.subarray(1), 1, 0)).toThrow(/latent has/);
  });
});
