// 8-bit RGB <-> NCHW float tensors in the VAE's [-1, 1] pixel range.
import { f32, type HostTensor } from '../runtime/tensor.js';
import { assertRgbImage, type RgbImage } from './rgb-image.js';

/**
 * `to_tensor(img) * 2 - 1` as the references compute it in float32: each byte v becomes
 * f32(f32(v / 255) * 2 - 1). Returns [1, 3, H, W].
 */
export function rgbToSignedUnitTensor(img: RgbImage): HostTensor & { data: Float32Array } {
  assertRgbImage(img, 'rgbToSignedUnitTensor');
  const { width, height, data } = img;
  const plane = width * height;
  const lut = new Float32Array(256);
  // 2*f - 1 is exact in float64 for a float32 f, so one rounding to float32 equals float32 arithmetic.
  for (let v = 0; v < 256; v++) lut[v] = Math.fround(v / 255) * 2 - 1;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    out[i] = lut[data[3 * i]];
    out[plane + i] = lut[data[3 * i + 1]];
    out[2 * plane + i] = lut[data[3 * i + 2]];
  }
  return f32(out, [1, 3, height, width]) as HostTensor & { data: Float32Array };
}
