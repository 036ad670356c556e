// OmniGen2 transformer: golden parity with diffusers `OmniGen2Transformer2DModel` (tiny BF16
// checkpoint; no references, two references, and a batch of two with padded text and different
// reference counts) on CPU and WebGPU; Omni-RoPE tables and position ids; channel-fastest
// patchify; axes_lens overflow and reference-count errors; padding invariance; clear errors for
// missing/wrong tensors and configs; a graph over a header-only checkpoint with the real sizes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Checkpoint, type TensorToWrite, elementCount, writeSafetensorsFile } from '../../../electron/engine/runtime/safetensors.js';
import { type HostTensor, type TensorMap, f32, readAllTensors } from '../../../electron/engine/runtime/tensor.js';
import { probeExecutionProviders } from '../../../electron/engine/runtime/sessions.js';
import {
  OMNIGEN2_TRANSFORMER_IO, type OmniGen2ForwardInputs, OmniGen2Transformer, buildOmniGen2Transformer, omniGen2Feeds,
  omniGen2TimestepProjection, omniGen2TransformerParameterCount, readOmniGen2TransformerConfig,
} from '../../../electron/engine/models/omnigen2-transformer.js';
import { evalOmniGen2Transformer } from '../../../electron/engine/eval/omnigen2-transformer.js';
import {
  OmniGen2SequenceError, omniGen2PositionIds, patchifyOmniGen2, unpatchifyOmniGen2,
} from '../../../electron/engine/sampling/omnigen2-tokens.js';
import { ropeTables } from '../../../electron/engine/models/rope.js';
import {
  OMNIGEN2_TRANSFORMER_SIZES, omniGen2TransformerConfigJson, omniGen2TransformerSpec,
} from '../../../electron/engine/kit/omnigen2-transformer-shapes.js';
import { writeHeaderOnlyCheckpoint } from '../../../electron/engine/kit/write-checkpoint.js';
import { GOLDEN_DIR, compareTensors } from '../../helpers/golden.js';
import { omniGen2ForwardInputsOf } from '../../../electron/engine/eval/omnigen2-transformer.js';

const GROUP = path.join(GOLDEN_DIR, 'omnigen2/transformer');
const CHECKPOINT = path.join(GROUP, 'tiny');
const CASES = ['case_b1_no_refs', 'case_b1_two_refs', 'case_b2_padded_text_mixed_refs'] as const;
const ATOL = 1e-4;
const RTOL = 1e-4;

function loadCase(name: string): { inputs: TensorMap; expected: HostTensor } {
  const inputs = readAllTensors(Checkpoint.open(path.join(GROUP, `${name}.safetensors`)));
  const expected = inputs.get('output')!;
  inputs.delete('output');
  return { inputs, expected };
}

let tmp: string;
beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'umo-omnigen2-test-')));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const tinyConfig = () => readOmniGen2TransformerConfig(Checkpoint.open(CHECKPOINT));

describe('golden parity on CPU', () => {
  for (const name of CASES) {
    it(`${name} within 1e-4 + 1e-4·|b|`, async () => {
      const { inputs, expected } = loadCase(name);
      const out = await evalOmniGen2Transformer(CHECKPOINT, inputs, { ep: 'cpu' });
      const c = compareTensors(out.get('output')!, expected, ATOL, RTOL);
      console.log(`omnigen2 transformer ${name} cpu max_err=${c.maxErr.toExponential(2)}`);
      expect(c.ok, `max error ${c.maxErr}`).toBe(true);
    });
  }

  it('the unfused attention form (the WebGPU one) gives the same batch-2 result on CPU', async () => {
    const { inputs, expected } = loadCase('case_b2_padded_text_mixed_refs');
    const fwd = omniGen2ForwardInputsOf(inputs);
    const m = await OmniGen2Transformer.create(Checkpoint.open(CHECKPOINT), { ep: 'cpu', attention: 'unfused' });
    try {
      const out = await m.forward(fwd);
      const c = compareTensors(f32(out, expected.shape), expected, ATOL, RTOL);
      expect(c.ok, `max error ${c.maxErr}`).toBe(true);
    } finally {
      await m.release();
    }
  });
});

describe('padding masks', () => {
  it('sample 1 of the padded batch equals the same sample run alone with its text unpadded', async () => {
    const { inputs, expected } = loadCase('case_b2_padded_text_mixed_refs');
    const full = omniGen2ForwardInputsOf(inputs);
    const mask = Array.from(full.textMask, Number);
    const L = full.textLen;
    const D = 40;
    const len1 = mask.slice(L).reduce((a, v) => a + v, 0);
    expect(len1).toBeLessThan(L); // the golden sample really is padded
    const img = 16 * full.height * full.width;
    const alone: OmniGen2ForwardInputs = {
      latents: full.latents.slice(img, 2 * img), height: full.height, width: full.width,
      timesteps: [full.timesteps[1]],
      text: full.text.slice(L * D, L * D + len1 * D), textLen: len1, textMask: new Array(len1).fill(1),
      refs: [full.refs![1]!],
    };
    const m = await OmniGen2Transformer.create(Checkpoint.open(CHECKPOINT), { ep: 'cpu' });
    try {
      const out = await m.forward(alone);
      const want = f32((expected.data as Float32Array).slice(img, 2 * img), [1, 16, full.height, full.width]);
      const c = compareTensors(f32(out, want.shape), want, ATOL, RTOL);
      expect(c.ok, `max error ${c.maxErr}`).toBe(true);
      // Dropping the reference changes the result (the reference path is live).
      const noRef = await m.forward({ ...alone, refs: [[]] });
      expect(compareTensors(f32(noRef, want.shape), want, ATOL, RTOL).ok).toBe(false);
    } finally {
      await m.release();
    }
  });

  it('refuses left-padded or empty text masks and bad shapes', () => {
    const cfg = tinyConfig();
    const base: OmniGen2ForwardInputs = {
      latents: new Float32Array(16 * 4 * 4), height: 4, width: 4, timesteps: [0.5],
      text: new Float32Array(3 * 40), textLen: 3, textMask: [1, 1, 1],
    };
    expect(() => omniGen2Feeds(cfg, base)).not.toThrow();
    expect(() => omniGen2Feeds(cfg, { ...base, textMask: [0, 1, 1] })).toThrow(/sample 0 is not right-padded/);
    expect(() => omniGen2Feeds(cfg, { ...base, textMask: [0, 0, 0] })).toThrow(/sample 0 has no tokens/);
    expect(() => omniGen2Feeds(cfg, { ...base, textMask: [1, 2, 0] })).toThrow(/value 2 .* is not 0 or 1/);
    expect(() => omniGen2Feeds(cfg, { ...base, height: 5 })).toThrow(/latents have 256 values, expected \[1, 16, 5, 4\]/);
    expect(() => omniGen2Feeds(cfg, { ...base, refs: [[{ data: new Float32Array(16 * 3 * 4), height: 3, width: 4 }]] }))
      .toThrow(/reference 0 of sample 0 is 3×4, not divisible into 2×2 patches/);
  });
});

describe('Omni-RoPE', () => {
  const freqs = readAllTensors(Checkpoint.open(path.join(GROUP, 'freqs_cis_f64.safetensors')));

  it('per-axis tables match OmniGen2RotaryPosEmbed.get_freqs_cis (float64 reference)', () => {
    const cfg = tinyConfig();
    expect(cfg.axesDim).toEqual([4, 6, 6]);
    expect(cfg.axesLens).toEqual([128, 64, 64]);
    let maxErr = 0;
    for (let a = 0; a < 3; a++) {
      const re = freqs.get(`freqs_cis.${a}.real`)!;
      const im = freqs.get(`freqs_cis.${a}.imag`)!;
      const [len, half] = re.shape;
      expect(len).toBe(cfg.axesLens[a]);
      expect(half).toBe(cfg.axesDim[a] / 2);
      // Positions p on axis a, 0 elsewhere: the axis-a columns of the table row.
      const ids = new Int32Array(len * 3);
      for (let p = 0; p < len; p++) ids[p * 3 + a] = p;
      const t = ropeTables(ids, cfg.axesDim, cfg.theta);
      const col0 = cfg.axesDim.slice(0, a).reduce((s, d) => s + d, 0) / 2;
      for (let p = 0; p < len; p++) {
        for (let k = 0; k < half; k++) {
          maxErr = Math.max(maxErr,
            Math.abs(t.cos[p * t.pairs + col0 + k] - (re.data as Float32Array)[p * half + k]),
            Math.abs(t.sin[p * t.pairs + col0 + k] - (im.data as Float32Array)[p * half + k]));
        }
      }
    }
    console.log(`omnigen2 rope tables max_err=${maxErr.toExponential(2)}`);
    expect(maxErr).toBeLessThan(1e-7); // float32 rounding of float64 values
  });

  it('position ids: text (i,i,i), each reference at the running shift, noise last', () => {
    const ids = omniGen2PositionIds({ textLen: 3, refs: [{ rows: 2, cols: 3 }, { rows: 4, cols: 2 }], noise: { rows: 1, cols: 2 } });
    const rows: number[][] = [];
    for (let i = 0; i < ids.length; i += 3) rows.push([ids[i], ids[i + 1], ids[i + 2]]);
    expect(rows).toEqual([
      [0, 0, 0], [1, 1, 1], [2, 2, 2],
      [3, 0, 0], [3, 0, 1], [3, 0, 2], [3, 1, 0], [3, 1, 1], [3, 1, 2], // shift 3, then += max(2,3)
      [6, 0, 0], [6, 0, 1], [6, 1, 0], [6, 1, 1], [6, 2, 0], [6, 2, 1], [6, 3, 0], [6, 3, 1], // then += max(4,2)
      [10, 0, 0], [10, 0, 1],
    ]);
  });

  it('the graph feeds of the batch-2 case hold the float64 table rows of every token position', () => {
    const cfg = tinyConfig();
    const { inputs } = loadCase('case_b2_padded_text_mixed_refs');
    const { feeds } = omniGen2Feeds(cfg, omniGen2ForwardInputsOf(inputs));
    const io = OMNIGEN2_TRANSFORMER_IO;
    const cos = feeds[io.ropeCos].data as Float32Array;
    const sin = feeds[io.ropeSin].data as Float32Array;
    const pairs = cfg.headDim / 2;
    const [B, S] = feeds[io.jointRope].dims;
    const jointRope = feeds[io.jointRope].data as BigInt64Array;
    const jointMask = feeds[io.jointMask].data as Int32Array;
    // Expected positions, written out from the rule: sample 0 has 7 text tokens, refs 2×3 and 4×2
    // token grids, noise 3×4; sample 1 has 4 text tokens, one 3×3 ref, noise 3×4.
    const expectedIds = [
      omniGen2PositionIds({ textLen: 7, refs: [{ rows: 2, cols: 3 }, { rows: 4, cols: 2 }], noise: { rows: 3, cols: 4 } }),
      omniGen2PositionIds({ textLen: 4, refs: [{ rows: 3, cols: 3 }], noise: { rows: 3, cols: 4 } }),
    ];
    expect(expectedIds[0][3 * (7 + 6 + 8)]).toBe(7 + 3 + 4); // noise axis-0 shift of sample 0
    expect(expectedIds[1][3 * (4 + 9)]).toBe(4 + 3);
    expect(S).toBe(7 + 6 + 8 + 12);
    let maxErr = 0;
    for (let i = 0; i < B; i++) {
      const n = expectedIds[i].length / 3;
      for (let q = 0; q < S; q++) {
        expect(jointMask[i * S + q]).toBe(q < n ? 1 : 0);
        if (q >= n) continue;
        const row = Number(jointRope[i * S + q]);
        for (let a = 0; a < 3; a++) {
          const pos = expectedIds[i][q * 3 + a];
          const re = freqs.get(`freqs_cis.${a}.real`)!;
          const im = freqs.get(`freqs_cis.${a}.imag`)!;
          const half = re.shape[1];
          const col0 = cfg.axesDim.slice(0, a).reduce((s, d) => s + d, 0) / 2;
          for (let k = 0; k < half; k++) {
            maxErr = Math.max(maxErr,
              Math.abs(cos[row * pairs + col0 + k] - (re.data as Float32Array)[pos * half + k]),
              Math.abs(sin[row * pairs + col0 + k] - (im.data as Float32Array)[pos * half + k]));
          }
        }
      }
    }
    expect(maxErr).toBeLessThan(1e-7);
    // Padded text positions use the all-zero row 0 (the reference zeroes their rotation too).
    const textRope = feeds[io.textRope].data as BigInt64Array;
    // Rows: 0 = padding, 1..33 = sample 0's sequence, 34.. = sample 1's (its 4 text tokens first).
    expect(Array.from(textRope.slice(7, 14), Number)).toEqual([34, 35, 36, 37, 0, 0, 0]);
    expect(cos.slice(0, pairs).every((v) => v === 0) && sin.slice(0, pairs).every((v) => v === 0)).toBe(true);
  });

  it('a prompt plus references that overflow axes_lens gives a clear error (real and tiny tables)', () => {
    const lens = OMNIGEN2_TRANSFORMER_SIZES.axesLens;
    // 900 text tokens + two 1024² references (64×64 tokens each): axis-0 position 900 + 64 + 64 = 1028.
    const big = { textLen: 900, refs: [{ rows: 64, cols: 64 }, { rows: 64, cols: 64 }], noise: { rows: 64, cols: 64 } };
    expect(() => omniGen2PositionIds(big, lens)).toThrow(OmniGen2SequenceError);
    expect(() => omniGen2PositionIds(big, lens)).toThrow(
      /too long for the model's position table: 900 text tokens, references of 64×64, 64×64 tokens, output 64×64 tokens need axis-0 position 1028 .* axes_lens\[0\] is 1024/);
    expect(omniGen2PositionIds({ ...big, textLen: 895 }, lens).length).toBe((895 + 3 * 4096) * 3); // 1023 fits
    expect(() => omniGen2PositionIds({ ...big, textLen: 896 }, lens)).toThrow(/axis-0 position 1024/);
    expect(() => omniGen2PositionIds({ textLen: 10, refs: [], noise: { rows: 1665, cols: 8 } }, lens))
      .toThrow(/the output image has 1665 token rows, more than axes_lens\[1\] = 1664/);

    // Through the model's feeds with the tiny config (axes_lens [128, 64, 64]).
    const cfg = tinyConfig();
    const L = 60;
    const ref = { data: new Float32Array(16 * 4 * 68), height: 4, width: 68 }; // 2×34 tokens
    const inp: OmniGen2ForwardInputs = {
      latents: new Float32Array(16 * 4 * 4), height: 4, width: 4, timesteps: [0.5],
      text: new Float32Array(L * 40), textLen: L, textMask: new Array(L).fill(1),
      refs: [[ref, ref]],
    };
    expect(() => omniGen2Feeds(cfg, inp)).toThrow(/OmniGen2 forward, sample 0: .*axis-0 position 128 .* axes_lens\[0\] is 128/);
    expect(() => omniGen2Feeds(cfg, { ...inp, refs: [[ref]] })).not.toThrow(); // noise at 94
    // Text positions use all three axes: 65 tokens overflow the 64-row axis-1 table.
    const long = { ...inp, text: new Float32Array(65 * 40), textLen: 65, textMask: new Array(65).fill(1), refs: [[]] };
    expect(() => omniGen2Feeds(cfg, long)).toThrow(/text position 64 exceeds axes_lens\[1\] = 64 \(positions 0\.\.63\); use a shorter prompt/);
  });

  it('more references than image_index_embedding rows is refused', () => {
    const cfg = tinyConfig();
    expect(cfg.maxReferences).toBe(5);
    const ref = { data: new Float32Array(16 * 2 * 2), height: 2, width: 2 };
    const inp: OmniGen2ForwardInputs = {
      latents: new Float32Array(16 * 2 * 2), height: 2, width: 2, timesteps: [0.5],
      text: new Float32Array(40), textLen: 1, textMask: [1], refs: [new Array(6).fill(ref)],
    };
    expect(() => omniGen2Feeds(cfg, inp)).toThrow(/sample 0 has 6 references; this model supports at most 5/);
  });
});

describe('patchify (channel fastest)', () => {
  it('token (i, j) holds [p1][p2][c] of the 2×2 patch, and unpatchify inverts it', () => {
    const C = 3;
    const H = 4;
    const W = 6;
    const lat = Float32Array.from({ length: C * H * W }, (_, k) => k);
    const tok = patchifyOmniGen2(lat, C, H, W, 2);
    expect(tok.length).toBe(2 * 3 * 12);
    const at = (c: number, y: number, x: number) => (c * H + y) * W + x;
    // token (1, 2) = rows 2..3, cols 4..5
    expect(Array.from(tok.subarray(5 * 12, 6 * 12))).toEqual([
      at(0, 2, 4), at(1, 2, 4), at(2, 2, 4), at(0, 2, 5), at(1, 2, 5), at(2, 2, 5),
      at(0, 3, 4), at(1, 3, 4), at(2, 3, 4), at(0, 3, 5), at(1, 3, 5), at(2, 3, 5),
    ]);
    expect(unpatchifyOmniGen2(tok, C, H, W, 2)).toEqual(lat);
    expect(() => patchifyOmniGen2(lat, C, H, W, 4)).toThrow(/latent 4×6 is not divisible into 4×4 patches/);
  });
});

it('timestep projection is [cos, sin] of 1000·t·freq (diffusers Timesteps, flip_sin_to_cos)', () => {
  const e = omniGen2TimestepProjection(0.3, 256, 1000);
  expect(e[0]).toBeCloseTo(Math.cos(300), 4);
  expect(e[128]).toBeCloseTo(Math.sin(300), 4);
  const f5 = Math.exp((-Math.log(10000) * 5) / 128);
  expect(e[5]).toBeCloseTo(Math.cos(300 * f5), 4);
  expect(e[133]).toBeCloseTo(Math.sin(300 * f5), 4);
});

// ---------------------------------------------------------------------------------------------

function rawTensors(ck: Checkpoint): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  for (const k of ck.keys()) {
    const info = ck.info(k);
    out[k] = { dtype: info.dtype, shape: info.shape, data: ck.readBytes(k) };
  }
  return out;
}

function writeVariant(name: string, edit: (t: Record<string, TensorToWrite>) => void, config?: Record<string, unknown> | null): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  const t = rawTensors(Checkpoint.open(CHECKPOINT));
  edit(t);
  writeSafetensorsFile(path.join(dir, 'diffusion_pytorch_model.safetensors'), t);
  const cfg = JSON.parse(fs.readFileSync(path.join(CHECKPOINT, 'config.json'), 'utf8')) as Record<string, unknown>;
  if (config !== null) fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, ...config }));
  return dir;
}

describe('checkpoint and config errors name the key or field', () => {
  it('a missing tensor', () => {
    const dir = writeVariant('missing', (t) => { delete t['layers.1.ffn_norm2.weight']; });
    expect(() => readOmniGen2TransformerConfig(Checkpoint.open(dir))).toThrow(/layers\.1\.ffn_norm2\.weight/);
  });

  it('a tensor of the wrong shape', () => {
    const dir = writeVariant('wrong-shape', (t) => {
      const w = t['ref_image_refiner.0.attn.to_v.weight'];
      t['ref_image_refiner.0.attn.to_v.weight'] = { ...w, shape: [64, 32] };
    });
    expect(() => readOmniGen2TransformerConfig(Checkpoint.open(dir))).toThrow(/ref_image_refiner\.0\.attn\.to_v\.weight.*\[64, 32\].*\[32, 64\]/);
  });

  it('a gap in the block numbering', () => {
    const dir = writeVariant('gap', (t) => {
      for (const k of Object.keys(t)) if (k.startsWith('layers.0.')) delete t[k];
    });
    expect(() => readOmniGen2TransformerConfig(Checkpoint.open(dir))).toThrow(/no tensors for "layers\.0"/);
  });

  it('not an OmniGen2 checkpoint', () => {
    const dir = writeVariant('not-omnigen2', (t) => { delete t['x_embedder.weight']; });
    expect(() => readOmniGen2TransformerConfig(Checkpoint.open(dir))).toThrow(/no "x_embedder\.weight"; not an OmniGen2 transformer/);
  });

  it('config problems', () => {
    expect(() => readOmniGen2TransformerConfig(Checkpoint.open(writeVariant('no-config', () => {}, null))))
      .toThrow(/no config\.json beside the checkpoint; the OmniGen2 transformer needs it for axes_dim_rope/);
    expect(() => readOmniGen2TransformerConfig(Checkpoint.open(writeVariant('bad-axes', () => {}, { axes_dim_rope: [4, 4, 6] }))))
      .toThrow(/"axes_dim_rope" \[4, 4, 6\] must be even sizes summing to the head size 16/);
    expect(() => readOmniGen2TransformerConfig(Checkpoint.open(writeVariant('bad-lens', () => {}, { axes_lens: [128, 64] }))))
      .toThrow(/"axes_lens" must be a list of three positive integers/);
    expect(() => readOmniGen2TransformerConfig(Checkpoint.open(writeVariant('bad-heads', () => {}, { num_attention_heads: 8 }))))
      .toThrow(/"num_attention_heads" is 8 but .* gives 4/);
    expect(() => readOmniGen2TransformerConfig(Checkpoint.open(writeVariant('bad-refiners', () => {}, { num_refiner_layers: 2 }))))
      .toThrow(/"num_refiner_layers" is 2 but the checkpoint has 1 "noise_refiner\.N" blocks/);
    expect(() => readOmniGen2TransformerConfig(Checkpoint.open(writeVariant('bad-ffn', () => {}, { multiple_of: 96 }))))
      .toThrow(/multiple_of 96 give a feed-forward width of 288, but "layers\.0\.feed_forward\.linear_1\.weight" has 256 rows/);
  });

  it('the eval adapter checks its inputs', async () => {
    const { inputs } = loadCase('case_b1_two_refs');
    const gap = new Map(inputs);
    gap.set('ref.0.3', inputs.get('ref.0.0')!);
    await expect(evalOmniGen2Transformer(CHECKPOINT, gap, { ep: 'cpu' })).rejects.toThrow(/references of sample 0 must be numbered from 0 without gaps; "ref\.0\.2" is missing/);
    const badMask = new Map(inputs);
    badMask.set('text_attention_mask', { dtype: 'int64', shape: [1, 6], data: new BigInt64Array(6).fill(1n) });
    await expect(evalOmniGen2Transformer(CHECKPOINT, badMask, { ep: 'cpu' })).rejects.toThrow(/"text_attention_mask" has shape \[1, 6\], expected \[1, 7\]/);
    const noLatents = new Map(inputs);
    noLatents.delete('latents');
    await expect(evalOmniGen2Transformer(CHECKPOINT, noLatents, { ep: 'cpu' })).rejects.toThrow(/missing input tensor "latents"/);
  });
});

describe('real OmniGen2 sizes (header-only sparse checkpoint)', () => {
  it('reads the sizes and builds the graph without reading weight data', () => {
    const dir = path.join(tmp, 'transformer');
    fs.mkdirSync(dir);
    const spec = omniGen2TransformerSpec(OMNIGEN2_TRANSFORMER_SIZES);
    const size = writeHeaderOnlyCheckpoint(path.join(dir, 'diffusion_pytorch_model.safetensors'), spec);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(omniGen2TransformerConfigJson(OMNIGEN2_TRANSFORMER_SIZES)));
    expect(size).toBeGreaterThan(7e9);
    const ck = Checkpoint.open(dir);
    const cfg = readOmniGen2TransformerConfig(ck);
    expect(cfg).toMatchObject({
      patchSize: 2, inChannels: 16, outChannels: 16, tokenDim: 64, hidden: 2520, heads: 21, kvHeads: 7, headDim: 120,
      layers: 32, noiseRefiners: 2, refRefiners: 2, contextRefiners: 2, ffnDim: 10240, textDim: 2048,
      timeFreqDim: 256, timeEmbedDim: 1024, maxReferences: 5, normEps: 1e-5,
      axesDim: [40, 40, 40], axesLens: [1024, 1664, 1664], timestepScale: 1000, theta: 10000,
    });
    const params = Object.values(spec).reduce((n, s) => n + elementCount(s.shape), 0);
    expect(omniGen2TransformerParameterCount(cfg)).toBe(params);
    // 36 modulated blocks (32 layers + 2 noise + 2 reference refiners) and 2 context-refiner blocks:
    // 3.967 B, which matches the 7.93 GB fp16 ComfyUI repack of the same model.
    expect(params / 1e9).toBeCloseTo(3.967, 3);
    const built = buildOmniGen2Transformer(ck, { config: cfg });
    expect(built.externalBytes).toBe(2 * params); // every tensor used once, as external bf16 data
    expect(built.inputNames).toEqual(Object.values(OMNIGEN2_TRANSFORMER_IO).filter((n) => n !== OMNIGEN2_TRANSFORMER_IO.output));
    expect(built.outputNames).toEqual([OMNIGEN2_TRANSFORMER_IO.output]);
    expect(built.bytes.length).toBeLessThan(3_000_000);
  });
});

const webgpuWorks = (await probeExecutionProviders()).some((p) => p.ep === 'webgpu' && p.works);

describe.skipIf(!webgpuWorks)('golden parity on WebGPU (CPU fallback disabled)', () => {
  for (const name of CASES) {
    it(`${name} within 1e-4 + 1e-4·|b|`, async () => {
      const { inputs, expected } = loadCase(name);
      const out = await evalOmniGen2Transformer(CHECKPOINT, inputs, { ep: 'webgpu' });
      const c = compareTensors(out.get('output')!, expected, ATOL, RTOL);
      console.log(`omnigen2 transformer ${name} webgpu max_err=${c.maxErr.toExponential(2)}`);
      expect(c.ok, `max error ${c.maxErr}`).toBe(true);
    });
  }
});
