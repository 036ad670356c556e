// UNO's denoising loop (`sampling.denoise`): one DiT forward per step, Euler update, the
// timestep and guidance fed as bf16-rounded values like the reference's bf16 tensors.
import type { FluxDitReference } from '../models/flux-dit.js';
import { roundToBf16 } from './bf16.js';
import { eulerStep } from './euler.js';

export interface DitForward {
  forward(inputs: {
    img: Float32Array; imgIds: Float32Array; txt: Float32Array; txtIds: Float32Array; vec: Float32Array;
    timestep: number; guidance?: number; refs?: readonly FluxDitReference[];
  }): Promise<Float32Array>;
}

export interface UnoDenoiseInputs {
  /** Packed noise tokens of the target. */
  img: Float32Array;
  imgIds: Float32Array;
  txt: Float32Array;
  txtIds: Float32Array;
  vec: Float32Array;
  refs: readonly FluxDitReference[];
  /** steps + 1 values from 1 to 0. */
  timesteps: Float32Array;
  guidance: number;
  /** The real pipeline runs in bf16 and rounds t and guidance; the float32 golden does not. Default true. */
  roundInputsToBf16?: boolean;
  /** Called after each step (1-based); a place to report progress and to throw on cancel. */
  onStep?: (done: number, total: number, img: Float32Array) => void;
}

export async function unoDenoise(dit: DitForward, inp: UnoDenoiseInputs): Promise<Float32Array> {
  const round = inp.roundInputsToBf16 ?? true;
  const r = (x: number) => (round ? roundToBf16(x) : Math.fround(x));
  const total = inp.timesteps.length - 1;
  let img = inp.img;
  for (let i = 0; i < total; i++) {
    const pred = await dit.forward({
      img, imgIds: inp.imgIds, txt: inp.txt, txtIds: inp.txtIds, vec: inp.vec,
      timestep: r(inp.timesteps[i]), guidance: r(inp.guidance), refs: inp.refs,
    });
    img = eulerStep(img, pred, inp.timesteps[i], inp.timesteps[i + 1]);
    inp.onStep?.(i + 1, total, img);
  }
  return img;
}
