// bfloat16 rounding on the host, as c10::BFloat16 does it: a value (a double here, a double or a
// float in torch) is first converted to float32, then rounded to nearest-even bfloat16. The
// reference feeds the timestep and the guidance to the DiT as bf16 tensors
// (`torch.full((B,), t, dtype=bfloat16)`), and casts latents to bf16 at fixed points.
import { f32ToBf16Bits } from '../runtime/safetensors.js';

const scratchU32 = new Uint32Array(1);
const scratchF32 = new Float32Array(scratchU32.buffer);

/** Round a number to the nearest bfloat16 value (via float32, ties to even), returned as a JS number. */
export function roundToBf16(x: number): number {
  scratchU32[0] = f32ToBf16Bits(x) << 16;
  return scratchF32[0];
}

/** Round every element to bfloat16 (new array of exactly bf16-representable float32 values). */
export function roundArrayToBf16(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < x.length; i++) bits[i] = f32ToBf16Bits(x[i]) << 16;
  return out;
}

/** The timestep value the bf16 DiT receives for schedule entry `t` (`torch.full(..., t, dtype=bf16)`). */
export function bf16Timestep(t: number): number {
  return roundToBf16(t);
}

/** The guidance value the bf16 DiT receives (`torch.full(..., guidance, dtype=bf16)`). */
export function bf16Guidance(guidance: number): number {
  return roundToBf16(guidance);
}
