// `torch.nn.functional.interpolate(x, size=(H, W), mode="bilinear", align_corners=False)` on
// float32 planes, as OmniGen2 resizes its decoded image to the requested size (spec §4.4). Written
// out rather than done with sharp/libvips: libvips' bilinear kernel works on 8-bit pixels after
// quantisation and widens its support when shrinking, while torch interpolates the float image
// before `postprocess` rounds it, from exactly the two nearest samples per axis (no antialiasing).
//
// Per axis (torch's `area_pixel_compute_source_index` with scale = in/out):
//   src = max((dst + 0.5)·in/out − 0.5, 0), i0 = floor(src), i1 = min(i0 + 1, in − 1), λ = src − i0
//   out = (1 − λ_y)·((1 − λ_x)·p[i0y,i0x] + λ_x·p[i0y,i1x]) + λ_y·((1 − λ_x)·p[i1y,i0x] + λ_x·p[i1y,i1x])
// Weights are float32 like torch's CPU kernel.

interface AxisTaps {
  i0: Int32Array;
  i1: Int32Array;
  l1: Float32Array;
}

function axisTaps(inSize: number, outSize: number): AxisTaps {
  const scale = Math.fround(inSize / outSize);
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const l1 = new Float32Array(outSize);
  for (let d = 0; d < outSize; d++) {
    const src = Math.max(Math.fround(Math.fround(scale * Math.fround(d + 0.5)) - 0.5), 0);
    const a = Math.min(Math.floor(src), inSize - 1);
    i0[d] = a;
    i1[d] = Math.min(a + 1, inSize - 1);
    l1[d] = Math.fround(src - a);
  }
  return { i0, i1, l1 };
}

/** Resize `channels` float32 planes [C, inH, inW] to [C, outH, outW]; returns a new array. */
export function resizeBilinearPlanes(data: Float32Array, channels: number, inH: number, inW: number, outH: number, outW: number): Float32Array {
  for (const [name, v] of [['channels', channels], ['input height', inH], ['input width', inW], ['output height', outH], ['output width', outW]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`resizeBilinearPlanes: ${name} must be a positive whole number (got ${v})`);
  }
  if (data.length !== channels * inH * inW) {
    throw new Error(`resizeBilinearPlanes: ${data.length} values, expected ${channels}×${inH}×${inW}`);
  }
  const ys = axisTaps(inH, outH);
  const xs = axisTaps(inW, outW);
  const out = new Float32Array(channels * outH * outW);
  for (let c = 0; c < channels; c++) {
    const src = c * inH * inW;
    const dst = c * outH * outW;
    for (let y = 0; y < outH; y++) {
      const r0 = src + ys.i0[y] * inW;
      const r1 = src + ys.i1[y] * inW;
      const ly = ys.l1[y];
      const hy = Math.fround(1 - ly);
      for (let x = 0; x < outW; x++) {
        const lx = xs.l1[x];
        const hx = Math.fround(1 - lx);
        const a = Math.fround(Math.fround(hx * data[r0 + xs.i0[x]]) + Math.fround(lx * data[r0 + xs.i1[x]]));
        const b = Math.fround(Math.fround(hx * data[r1 + xs.i0[x]]) + Math.fround(lx * data[r1 + xs.i1[x]]));
        out[dst + y * outW + x] = Math.fround(Math.fround(hy * a) + Math.fround(ly * b));
      }
    }
  }
  return out;
}
