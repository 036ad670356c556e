// The benchmark's mid-size FLUX DiT: sizes, the random checkpoint written with the kit writers,
// and one forward's inputs (UNO layout: target tokens, two references, text tokens).
import fs from 'node:fs';
import path from 'node:path';
import type { DType } from '../electron/engine/runtime/safetensors.js';
import type { FluxDitInputs, FluxDitReference } from '../electron/engine/models/flux-dit.js';
import { type FluxDitSizes, fluxDitSpec } from '../electron/engine/kit/checkpoint-shapes.js';
import { SeededRandom, writeRandomCheckpoint } from '../electron/engine/kit/write-checkpoint.js';

/** hidden 512 (8 heads of 64), 4 double + 8 single blocks; context 512 and vec 768 keep the file small. */
export const BENCH_DIT_SIZES: FluxDitSizes = {
  hidden: 512, heads: 8, depth: 4, depthSingle: 8, mlpRatio: 4, inChannels: 64, contextDim: 512, vecDim: 768, guidance: true,
};

/** Token grid of one forward: a 32×32 target (512 px image), two 16×16 references, 128 text tokens. */
export interface BenchTokens {
  imgSide: number;
  refSides: number[];
  txt: number;
}

export const BENCH_TOKENS: BenchTokens = { imgSide: 32, refSides: [16, 16], txt: 128 };

export function tokenCounts(t: BenchTokens): { img: number; refs: number; txt: number; total: number } {
  const img = t.imgSide * t.imgSide;
  const refs = t.refSides.reduce((a, s) => a + s * s, 0);
  return { img, refs, txt: t.txt, total: img + refs + t.txt };
}

/** Write the random checkpoint into `dir` (model.safetensors); returns the file and its size. */
export function writeBenchCheckpoint(dir: string, dtype: DType, seed = 1): { file: string; bytes: number } {
  const file = path.join(dir, 'model.safetensors');
  writeRandomCheckpoint(file, fluxDitSpec(BENCH_DIT_SIZES, dtype), seed);
  return { file, bytes: fs.statSync(file).size };
}

/** Position ids (t, row, col) of a side×side grid, offset on both spatial axes (UNO shifts each reference). */
function gridIds(side: number, offset: number): Float64Array {
  const ids = new Float64Array(side * side * 3);
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      const at = (r * side + c) * 3;
      ids[at + 1] = r + offset;
      ids[at + 2] = c + offset;
    }
  }
  return ids;
}

/** Seeded inputs for one forward of the bench DiT. */
export function benchInputs(t: BenchTokens, seed = 2): FluxDitInputs {
  const s = BENCH_DIT_SIZES;
  const rng = new SeededRandom(seed);
  const normals = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const nImg = t.imgSide * t.imgSide;
  let offset = t.imgSide;
  const refs: FluxDitReference[] = t.refSides.map((side) => {
    const ref = { img: normals(side * side * s.inChannels), ids: gridIds(side, offset) };
    offset += side;
    return ref;
  });
  return {
    img: normals(nImg * s.inChannels),
    imgIds: gridIds(t.imgSide, 0),
    txt: normals(t.txt * s.contextDim),
    txtIds: new Float64Array(t.txt * 3),
    vec: normals(s.vecDim),
    timestep: 0.7,
    guidance: 4,
    refs,
  };
}
