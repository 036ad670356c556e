// `umo-studio eval flux-dit`: one FLUX DiT forward from golden-named tensors.
// Inputs: img, img_ids, txt, txt_ids, vec, timesteps, guidance (when the checkpoint has
// guidance_in), ref_img.<i> + ref_img_ids.<i> for i = 0..n-1. Output: output [1, n_img, out].
import { Checkpoint } from '../runtime/safetensors.js';
import { type HostTensor, type TensorMap, f32, requireF32 } from '../runtime/tensor.js';
import { type FluxDitInputs, type FluxDitReference, FluxDit } from '../models/flux-dit.js';
import type { PositionIds } from '../models/rope.js';
import type { EvalOptions } from './networks.js';

const WHERE = 'eval flux-dit';

function ids(map: TensorMap, name: string): PositionIds {
  const t: HostTensor | undefined = map.get(name);
  if (!t) throw new Error(`${WHERE}: missing input tensor "${name}" (have: ${[...map.keys()].join(', ')})`);
  if (t.dtype === 'float32') return t.data as Float32Array;
  if (t.dtype === 'int64') return t.data as BigInt64Array;
  if (t.dtype === 'int32') return t.data as Int32Array;
  throw new Error(`${WHERE}: input "${name}" is ${t.dtype}, expected float32 or integer position ids`);
}

function batchOne(t: HostTensor, name: string): void {
  if (t.shape.length > 0 && t.shape[0] !== 1) throw new Error(`${WHERE}: input "${name}" has batch ${t.shape[0]}; only batch 1 is supported`);
}

function scalar(map: TensorMap, name: string): number {
  const t = requireF32(map, name, WHERE);
  if (t.data.length !== 1) throw new Error(`${WHERE}: input "${name}" has ${t.data.length} values, expected one (batch 1)`);
  return t.data[0];
}

/** Reference indices 0..n-1 from the `ref_img.<i>` / `ref_img_ids.<i>` names. */
function referenceIndices(inputs: TensorMap): number[] {
  const img = new Set<number>();
  const idn = new Set<number>();
  for (const k of inputs.keys()) {
    let m = /^ref_img\.(\d+)$/.exec(k);
    if (m) img.add(Number(m[1]));
    m = /^ref_img_ids\.(\d+)$/.exec(k);
    if (m) idn.add(Number(m[1]));
  }
  const n = img.size;
  for (let i = 0; i < n; i++) {
    if (!img.has(i)) throw new Error(`${WHERE}: reference inputs must be numbered from 0 without gaps; "ref_img.${i}" is missing`);
    if (!idn.has(i)) throw new Error(`${WHERE}: "ref_img.${i}" has no matching "ref_img_ids.${i}"`);
  }
  for (const i of idn) if (!img.has(i)) throw new Error(`${WHERE}: "ref_img_ids.${i}" has no matching "ref_img.${i}"`);
  return [...Array(n).keys()];
}

/**
 * One forward's inputs from golden-named tensors (`guidance` is read only when `withGuidance`): the
 * mapping `umo-studio eval flux-dit` uses, shared with the tests that feed golden cases.
 */
export function fluxDitInputsFromTensors(inputs: TensorMap, withGuidance: boolean): FluxDitInputs {
  const img = requireF32(inputs, 'img', WHERE);
  const txt = requireF32(inputs, 'txt', WHERE);
  const vec = requireF32(inputs, 'vec', WHERE);
  for (const [n, t] of [['img', img], ['txt', txt], ['vec', vec]] as const) batchOne(t, n);
  const refs: FluxDitReference[] = referenceIndices(inputs).map((i) => {
    const r = requireF32(inputs, `ref_img.${i}`, WHERE);
    batchOne(r, `ref_img.${i}`);
    return { img: r.data, ids: ids(inputs, `ref_img_ids.${i}`) };
  });
  return {
    img: img.data, imgIds: ids(inputs, 'img_ids'),
    txt: txt.data, txtIds: ids(inputs, 'txt_ids'),
    vec: vec.data,
    timestep: scalar(inputs, 'timesteps'),
    guidance: withGuidance ? scalar(inputs, 'guidance') : undefined,
    refs,
  };
}

export async function evalFluxDit(checkpoint: string, inputs: TensorMap, opts: EvalOptions): Promise<TensorMap> {
  const ck = Checkpoint.open(checkpoint);
  const dit = await FluxDit.create(ck, { ep: opts.ep });
  try {
    const out = await dit.forward(fluxDitInputsFromTensors(inputs, dit.config.guidanceEmbed));
    const nImg = out.length / dit.config.outChannels;
    return new Map([['output', f32(out, [1, nImg, dit.config.outChannels])]]);
  } finally {
    await dit.release();
  }
}
