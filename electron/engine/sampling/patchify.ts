// Latent <-> token layouts. FLUX/UNO pack `c (h ph) (w pw) -> (h w) (c ph pw)` (channel slowest in a
// token); OmniGen2 packs `c (h p1) (w p2) -> (h w) (p1 p2 c)` (channel fastest). Both are one index
// map applied as a gather (patchify) or a scatter (unpatchify).

export type PatchOrder = 'channel-slowest' | 'channel-fastest';

function checkPatchable(where: string, channels: number, height: number, width: number, patch: number, length: number): void {
  for (const [n, v] of [['channels', channels], ['height', height], ['width', width], ['patch size', patch]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${where}: ${n} must be a positive integer, got ${v}`);
  }
  if (height % patch !== 0 || width % patch !== 0) {
    throw new Error(`${where}: latent ${height}×${width} is not divisible into ${patch}×${patch} patches`);
  }
  if (length !== channels * height * width) {
    throw new Error(`${where}: ${length} values, expected [${channels}, ${height}, ${width}] = ${channels * height * width}`);
  }
}

/** For each element of the token sequence, its index in the [C, H, W] latent. */
function tokenToLatentIndex(channels: number, height: number, width: number, patch: number, order: PatchOrder): Int32Array {
  const rows = height / patch;
  const cols = width / patch;
  const pp = patch * patch;
  const dim = pp * channels;
  const map = new Int32Array(rows * cols * dim);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const tok = (i * cols + j) * dim;
      for (let p1 = 0; p1 < patch; p1++) {
        for (let p2 = 0; p2 < patch; p2++) {
          const y = i * patch + p1;
          const x = j * patch + p2;
          const sub = p1 * patch + p2;
          for (let c = 0; c < channels; c++) {
            const inToken = order === 'channel-slowest' ? c * pp + sub : sub * channels + c;
            map[tok + inToken] = (c * height + y) * width + x;
          }
        }
      }
    }
  }
  return map;
}

/** [C, H, W] latent -> [(H/p)(W/p), p·p·C] tokens. */
export function patchify(latent: Float32Array, channels: number, height: number, width: number, patch: number, order: PatchOrder, where = 'patchify'): Float32Array {
  checkPatchable(where, channels, height, width, patch, latent.length);
  const map = tokenToLatentIndex(channels, height, width, patch, order);
  const out = new Float32Array(map.length);
  for (let k = 0; k < map.length; k++) out[k] = latent[map[k]];
  return out;
}

/** [(H/p)(W/p), p·p·C] tokens -> [C, H, W] latent (inverse of `patchify` with the same order). */
export function unpatchify(tokens: Float32Array, channels: number, height: number, width: number, patch: number, order: PatchOrder, where = 'unpatchify'): Float32Array {
  checkPatchable(where, channels, height, width, patch, tokens.length);
  const map = tokenToLatentIndex(channels, height, width, patch, order);
  const out = new Float32Array(map.length);
  for (let k = 0; k < map.length; k++) out[map[k]] = tokens[k];
  return out;
}
