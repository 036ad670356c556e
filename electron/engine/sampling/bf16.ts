// bfloat16 rounding on the host: the reference feeds timesteps and guidance to the DiT as bf16
// tensors, and casts latents to bf16 at fixed points.
import { bf16ToF32, f32ToBf16Bits } from '../runtime/safetensors.js';

/** Round a number to the nearest bfloat16 value (ties to even), returned as a JS number. */
export function roundToBf16(x: number): number {
  return bf16ToF32(Uint16Array.of(f32ToBf16Bits(x)))[0];
}

/** Round every element to bfloat16 (new array). */
export function roundArrayToBf16(x: Float32Array): Float32Array {
  const bits = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) bits[i] = f32ToBf16Bits(x[i]);
  return bf16ToF32(bits);
}
