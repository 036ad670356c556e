import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { Checkpoint } from '../../electron/engine/runtime/safetensors.js';
import { TorchGenerator } from '../../electron/engine/sampling/torch-generator.js';
import { torchRandn, unoNoiseShape } from '../../electron/engine/sampling/torch-randn.js';
import { GOLDEN_DIR, selectedGroups } from '../helpers/golden.js';

const enabled = selectedGroups(['uno/sampling']).length > 0;

const dir = path.join(GOLDEN_DIR, 'uno/sampling');
type Entry = { shape: number[]; first: number[]; last: number[] };
const entries = (enabled ? JSON.parse(fs.readFileSync(path.join(dir, 'get_noise.json'), 'utf8')) : []) as Array<{
  seed: number; width: number; height: number; bfloat16: Entry; float32: Entry;
}>;

function mismatches(ours: Float32Array, e: Entry): number {
  const n = e.first.length;
  let bad = 0;
  for (let i = 0; i < n; i++) if (ours[i] !== Math.fround(e.first[i])) bad++;
  for (let i = 0; i < n; i++) if (ours[ours.length - n + i] !== Math.fround(e.last[i])) bad++;
  return bad;
}

describe.runIf(enabled)('torch CPU randn vs golden get_noise.json (bit-exact)', () => {
  for (const dtype of ['bfloat16', 'float32'] as const) {
    test.each(entries.map((e) => [`seed ${e.seed} ${e.width}x${e.height}`, e] as const))(`${dtype} %s`, (_n, e) => {
      const shape = unoNoiseShape(e.width, e.height);
      expect(shape).toEqual(e[dtype].shape);
      const ours = torchRandn(new TorchGenerator(e.seed), shape, dtype);
      expect(mismatches(ours, e[dtype])).toBe(0);
    });
  }

  test('full tensors for seed 0, 64x48', () => {
    const ck = Checkpoint.open(path.join(dir, 'get_noise_seed0_w64_h48.safetensors'));
    for (const [key, dtype] of [['noise_bf16', 'bfloat16'], ['noise_f32', 'float32']] as const) {
      const expected = ck.readFloat32(key);
      const ours = torchRandn(new TorchGenerator(0), ck.shape(key), dtype);
      let bad = 0;
      for (let i = 0; i < ours.length; i++) if (ours[i] !== expected[i]) bad++;
      expect(bad, key).toBe(0);
    }
  });
});
