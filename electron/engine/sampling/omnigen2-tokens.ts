// OmniGen2's latent tokens and "Omni-RoPE" position ids (spec/pipelines.md §2.4):
//
// - Patchify `c (h p1) (w p2) -> (h w) (p1 p2 c)`: the channel is the FASTEST index of a token
//   (FLUX/UNO pack `(c ph pw)`, channel slowest; do not mix the two).
// - Positions, three components per token, for one sample laid out as [text | ref_1 … ref_n | noise]:
//   text token i -> (i, i, i); every token of reference k -> (shift_k, row, col) with
//   shift_1 = text length and shift_{k+1} = shift_k + max(rows_k, cols_k); noise tokens ->
//   (shift_{n+1}, row, col). Rows/cols are token-grid coordinates (latent pixels / patch).
// - The reference looks every component up in a frequency table of `axes_lens[axis]` rows; a
//   position past the table is an indexing error there. Here it is a clear error naming what
//   overflowed (`omniGen2PositionIds` with `axesLens`).

import { patchify, unpatchify } from './patchify.js';

/** A token grid (latent height/width divided by the patch size). */
export interface TokenGrid {
  readonly rows: number;
  readonly cols: number;
}

/** [C, H, W] latent -> [(H/p)(W/p), p·p·C] tokens, channel fastest within a token. */
export function patchifyOmniGen2(latent: Float32Array, channels: number, height: number, width: number, patch: number): Float32Array {
  return patchify(latent, channels, height, width, patch, 'channel-fastest', 'patchifyOmniGen2');
}

/** Inverse of `patchifyOmniGen2`: [(H/p)(W/p), p·p·C] tokens -> [C, H, W]. */
export function unpatchifyOmniGen2(tokens: Float32Array, channels: number, height: number, width: number, patch: number): Float32Array {
  return unpatchify(tokens, channels, height, width, patch, 'channel-fastest', 'unpatchifyOmniGen2');
}

/** The token grid of a [C, H, W] latent. */
export function tokenGrid(height: number, width: number, patch: number): TokenGrid {
  if (height % patch !== 0 || width % patch !== 0) throw new Error(`tokenGrid: latent ${height}×${width} is not divisible into ${patch}×${patch} patches`);
  return { rows: height / patch, cols: width / patch };
}

/** Token counts of one sample's sequence [text | refs | noise]. */
export interface OmniGen2Layout {
  readonly textLen: number;
  readonly refs: readonly TokenGrid[];
  readonly noise: TokenGrid;
}

export class OmniGen2SequenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OmniGen2SequenceError';
  }
}

/** Tokens of the whole sequence of a layout. */
export function layoutTokens(l: OmniGen2Layout): number {
  return l.textLen + l.refs.reduce((n, g) => n + g.rows * g.cols, 0) + l.noise.rows * l.noise.cols;
}

function checkGrid(what: string, g: TokenGrid): void {
  if (!Number.isInteger(g.rows) || !Number.isInteger(g.cols) || g.rows <= 0 || g.cols <= 0) {
    throw new OmniGen2SequenceError(`${what} token grid ${g.rows}×${g.cols} must have positive integer sides`);
  }
}

/**
 * Omni-RoPE position ids of one sample, [layoutTokens(l), 3] token-major (text, each reference,
 * noise). With `axesLens` every component is checked against its frequency table length.
 */
export function omniGen2PositionIds(l: OmniGen2Layout, axesLens?: readonly number[]): Int32Array {
  if (!Number.isInteger(l.textLen) || l.textLen < 0) throw new OmniGen2SequenceError(`text length must be a non-negative integer, got ${l.textLen}`);
  l.refs.forEach((g, k) => checkGrid(`reference ${k}`, g));
  checkGrid('noise', l.noise);
  if (axesLens) checkAxesLens(l, axesLens);
  const ids = new Int32Array(layoutTokens(l) * 3);
  let t = 0;
  for (let i = 0; i < l.textLen; i++, t++) ids.fill(i, t * 3, t * 3 + 3);
  let shift = l.textLen;
  const grid = (g: TokenGrid) => {
    for (let r = 0; r < g.rows; r++) {
      for (let c = 0; c < g.cols; c++, t++) {
        ids[t * 3] = shift;
        ids[t * 3 + 1] = r;
        ids[t * 3 + 2] = c;
      }
    }
  };
  for (const g of l.refs) {
    grid(g);
    shift += Math.max(g.rows, g.cols);
  }
  grid(l.noise);
  return ids;
}

/** The axis-0 position of the noise tokens: text length + Σ max(rows, cols) of the references. */
export function noiseShift(l: OmniGen2Layout): number {
  return l.refs.reduce((s, g) => s + Math.max(g.rows, g.cols), l.textLen);
}

function describeLayout(l: OmniGen2Layout): string {
  const refs = l.refs.length === 0 ? 'no references' : `references of ${l.refs.map((g) => `${g.rows}×${g.cols}`).join(', ')} tokens`;
  return `${l.textLen} text tokens, ${refs}, output ${l.noise.rows}×${l.noise.cols} tokens`;
}

/** Throw when a position of the layout falls outside the RoPE tables (`axes_lens`). */
export function checkAxesLens(l: OmniGen2Layout, axesLens: readonly number[]): void {
  if (axesLens.length !== 3 || !axesLens.every((n) => Number.isInteger(n) && n > 0)) {
    throw new OmniGen2SequenceError(`axes_lens must be three positive integers, got [${axesLens.join(', ')}]`);
  }
  const [len0, len1, len2] = axesLens;
  const what = describeLayout(l);
  const max0 = Math.max(l.textLen - 1, noiseShift(l));
  if (max0 >= len0) {
    throw new OmniGen2SequenceError(
      `the prompt and references are too long for the model's position table: ${what} need axis-0 position ${max0} ` +
      `(text length + the longer side of every reference), but axes_lens[0] is ${len0} (positions 0..${len0 - 1}); ` +
      'use a shorter prompt, fewer references or smaller references');
  }
  const textMax = l.textLen - 1;
  const grids = [...l.refs.map((g, k) => [`reference ${k}`, g] as const), ['the output image', l.noise] as const];
  for (const [axis, len, side] of [[1, len1, 'rows'], [2, len2, 'cols']] as const) {
    if (textMax >= len) {
      throw new OmniGen2SequenceError(`${what}: text position ${textMax} exceeds axes_lens[${axis}] = ${len} (positions 0..${len - 1}); use a shorter prompt`);
    }
    for (const [name, g] of grids) {
      if (g[side] > len) {
        throw new OmniGen2SequenceError(`${name} has ${g[side]} token ${side}, more than axes_lens[${axis}] = ${len}; use a smaller image`);
      }
    }
  }
}
