// torch F.interpolate(mode="bilinear", align_corners=False) semantics of the OmniGen2 output resize.
import { describe, expect, test } from 'vitest';
import { resizeBilinearPlanes } from '../../../electron/engine/image/bilinear-resize.js';

describe('resizeBilinearPlanes', () => {
  test('2×2 -> 4×4 matches torch (edge samples clamp, half-pixel centres)', () => {
    const out = resizeBilinearPlanes(Float32Array.from([1, 2, 3, 4]), 1, 2, 2, 4, 4);
    // torch.nn.functional.interpolate(torch.tensor([[[[1.,2.],[3.,4.]]]]), size=(4,4), mode='bilinear', align_corners=False)
    expect([...out]).toEqual([1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4]);
  });

  test('4 -> 2 per axis averages neighbour pairs (no antialiasing), per channel', () => {
    const plane = Float32Array.from({ length: 16 }, (_, i) => i);
    const two = new Float32Array(32);
    two.set(plane, 0);
    two.set(plane.map((v) => -v), 16);
    const out = resizeBilinearPlanes(two, 2, 4, 4, 2, 2);
    expect([...out]).toEqual([2.5, 4.5, 10.5, 12.5, -2.5, -4.5, -10.5, -12.5]);
  });

  test('non-integer ratio 3 -> 5 and clear errors', () => {
    const out = resizeBilinearPlanes(Float32Array.from([0, 3, 6]), 1, 1, 3, 1, 5);
    // src x = (d + 0.5)·0.6 − 0.5 = [-0.2→0, 0.4, 1.0, 1.6, 2.2→clamped to the last sample]
    expect(Array.from(out, (v) => Number(v.toFixed(5)))).toEqual([0, 1.2, 3, 4.8, 6]);
    expect(() => resizeBilinearPlanes(new Float32Array(3), 1, 2, 2, 4, 4)).toThrow(/3 values, expected 1×2×2/);
    expect(() => resizeBilinearPlanes(new Float32Array(4), 1, 2, 2, 0, 4)).toThrow(/output height must be a positive/);
  });
});
