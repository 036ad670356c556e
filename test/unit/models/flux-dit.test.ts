// FLUX DiT (BFL keys, UNO reference tokens): golden parity on CPU and WebGPU, config reading,
// error messages for broken checkpoints, guidance-less checkpoints, and a graph build over a
// header-only checkpoint with the real FLUX.1-dev shapes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  Checkpoint, DTYPE_BYTES, type TensorToWrite, elementCount, writeSafetensorsFile,
} from '../../../electron/engine/runtime/safetensors.js';
import { readAllTensors } from '../../../electron/engine/runtime/tensor.js';
import {
  FluxDit, buildFluxDit, defaultFluxAxesDim, fluxDitParameterCount, readFluxDitConfig, timestepEmbedding,
} from '../../../electron/engine/models/flux-dit.js';
import { ropeTables } from '../../../electron/engine/models/rope.js';
import { evalFluxDit } from '../../../electron/engine/eval/flux-dit.js';
import { GOLDEN_DIR, caseFiles, checkpointCandidates, compareTensors, fluxDitGoldenInputs, formatLine } from '../../helpers/golden.js';

const GROUP_DIR = path.join(GOLDEN_DIR, 'uno', 'flux_dit');
const [TINY] = checkpointCandidates(GROUP_DIR);
const CASES = caseFiles(GROUP_DIR);
const ATOL = 1e-4;
const RTOL = 1e-4;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-dit-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The golden config.json's FluxParams. */
function goldenParams(): Record<string, unknown> {
  return (JSON.parse(fs.readFileSync(path.join(GROUP_DIR, 'config.json'), 'utf8')) as { FluxParams: Record<string, unknown> }).FluxParams;
}

/** Copy of the tiny checkpoint with some tensors dropped or replaced (raw bytes kept as stored). */
function variantCheckpoint(name: string, edit: (key: string, t: TensorToWrite) => TensorToWrite | null, withConfig = false): string {
  const src = Checkpoint.open(TINY);
  const out: Record<string, TensorToWrite> = {};
  for (const k of src.keys()) {
    const info = src.info(k);
    const raw = src.readBytes(k);
    const t = edit(k, { dtype: info.dtype, shape: info.shape, data: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) });
    if (t) out[k] = t;
  }
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'model.safetensors');
  writeSafetensorsFile(file, out);
  if (withConfig) fs.copyFileSync(path.join(GROUP_DIR, 'config.json'), path.join(dir, 'config.json'));
  return file;
}

describe('FLUX DiT golden cases (uno/flux_dit)', () => {
  test('the group has a checkpoint and cases', () => {
    expect(TINY).toBeDefined();
    expect(CASES.length).toBeGreaterThanOrEqual(3);
  });

  for (const ep of ['cpu', 'webgpu'] as const) {
    for (const c of CASES) {
      test(`${c} on ${ep}`, async () => {
        const tensors = readAllTensors(Checkpoint.open(path.join(GROUP_DIR, c)));
        const out = await evalFluxDit(TINY, tensors, { ep });
        const cmp = compareTensors(out.get('output')!, tensors.get('output')!, ATOL, RTOL);
        console.log(formatLine(`uno/flux_dit/${c}`, ep, cmp));
        expect(cmp.ok).toBe(true);
      });
    }
  }

  test('fused (MultiHeadAttention) and unfused attention agree on CPU', async () => {
    const ck = Checkpoint.open(TINY);
    const inputs = fluxDitGoldenInputs();
    const outs: Float32Array[] = [];
    for (const attention of ['fused', 'unfused'] as const) {
      const dit = await FluxDit.create(ck, { ep: 'cpu', attention });
      try {
        outs.push(await dit.forward(inputs));
        // Same session, different sequence length: no rebuild needed.
        expect((await dit.forward({ ...inputs, refs: inputs.refs?.slice(0, 1) })).length).toBe(outs[0].length);
      } finally {
        await dit.release();
      }
    }
    let maxDiff = 0;
    for (let i = 0; i < outs[0].length; i++) maxDiff = Math.max(maxDiff, Math.abs(outs[0][i] - outs[1][i]));
    expect(maxDiff).toBeLessThan(1e-5);
  });
});

describe('readFluxDitConfig', () => {
  test('sizes from shapes, RoPE from the config.json beside the checkpoint', () => {
    const p = goldenParams();
    const cfg = readFluxDitConfig(Checkpoint.open(TINY));
    expect(cfg.inChannels).toBe(p.in_channels);
    expect(cfg.hidden).toBe(p.hidden_size);
    expect(cfg.heads).toBe(p.num_heads);
    expect(cfg.depth).toBe(p.depth);
    expect(cfg.depthSingle).toBe(p.depth_single_blocks);
    expect(cfg.mlpHidden).toBe((p.hidden_size as number) * (p.mlp_ratio as number));
    expect(cfg.contextInDim).toBe(p.context_in_dim);
    expect(cfg.vecInDim).toBe(p.vec_in_dim);
    expect(cfg.guidanceEmbed).toBe(p.guidance_embed);
    expect(cfg.qkvBias).toBe(p.qkv_bias);
    expect(cfg.axesDim).toEqual(p.axes_dim);
    expect(cfg.theta).toBe(p.theta);
    expect(cfg.ropeSource).toContain('config.json');
  });

  test('without config.json: FLUX.1 axes ratio scaled to head_dim', () => {
    expect(defaultFluxAxesDim(128)).toEqual([16, 56, 56]);
    expect(defaultFluxAxesDim(32)).toEqual([4, 14, 14]);
    const cfg = readFluxDitConfig(Checkpoint.open(TINY), { configFile: null });
    expect(cfg.axesDim).toEqual([4, 14, 14]);
    expect(cfg.theta).toBe(10000);
  });

  test('axes_dim that does not sum to head_dim is refused', () => {
    expect(() => readFluxDitConfig(Checkpoint.open(TINY), { rope: { axesDim: [8, 8, 8], theta: 10000 } }))
      .toThrow(/axes_dim \[8, 8, 8\].*sums to 24.*head_dim.*32/);
  });

  test('a config.json that contradicts the checkpoint is refused', () => {
    const file = variantCheckpoint('contradict', (_k, t) => t);
    fs.writeFileSync(path.join(path.dirname(file), 'config.json'), JSON.stringify({ ...goldenParams(), num_heads: 4 }));
    expect(() => readFluxDitConfig(Checkpoint.open(file))).toThrow(/config\.json: num_heads is 4 but the checkpoint beside it has 2/);
  });

  test('missing key: the error names the checkpoint and the key', () => {
    const file = variantCheckpoint('missing', (k, t) => (k === 'double_blocks.1.txt_mlp.2.weight' ? null : t), true);
    expect(() => buildFluxDit(Checkpoint.open(file))).toThrow(`${file}: missing tensor "double_blocks.1.txt_mlp.2.weight"`);
  });

  test('missing block: the error names the block', () => {
    const file = variantCheckpoint('gap', (k, t) => (k.startsWith('single_blocks.0.') ? null : t), true);
    expect(() => readFluxDitConfig(Checkpoint.open(file))).toThrow(/has no tensors for "single_blocks\.0"/);
  });

  test('wrong shape: the error names the key, the shape and the expected shape', () => {
    const file = variantCheckpoint('shape', (k, t) => (k === 'single_blocks.1.linear2.weight'
      ? { dtype: t.dtype, shape: [64, 300], data: new Uint8Array(64 * 300 * DTYPE_BYTES[t.dtype]) } : t), true);
    expect(() => readFluxDitConfig(Checkpoint.open(file)))
      .toThrow(`${file}: tensor "single_blocks.1.linear2.weight" has shape [64, 300], expected [64, 320]`);
  });
});

describe('guidance-less checkpoints (flux-schnell style)', () => {
  test('build and equal a guidance model whose guidance_in contributes nothing', async () => {
    const tensors = readAllTensors(Checkpoint.open(path.join(GROUP_DIR, CASES[0])));
    const g = (n: string) => tensors.get(n)!.data as Float32Array;
    const rope = { axesDim: goldenParams().axes_dim as number[], theta: goldenParams().theta as number };
    const noGuidance = variantCheckpoint('schnell', (k, t) => (k.startsWith('guidance_in.') ? null : t));
    const zeroGuidance = variantCheckpoint('zero-guidance', (k, t) => (k.startsWith('guidance_in.out_layer.')
      ? { ...t, data: new Uint8Array(t.data.byteLength) } : t));
    const run = async (file: string) => {
      const ck = Checkpoint.open(file);
      const config = readFluxDitConfig(ck, { configFile: null, rope });
      const dit = await FluxDit.create(ck, { ep: 'cpu', config });
      try {
        return {
          config,
          out: await dit.forward({
            img: g('img'), imgIds: g('img_ids'), txt: g('txt'), txtIds: g('txt_ids'), vec: g('vec'),
            timestep: g('timesteps')[0], guidance: g('guidance')[0],
          }),
        };
      } finally {
        await dit.release();
      }
    };
    const a = await run(noGuidance);
    const b = await run(zeroGuidance);
    expect(a.config.guidanceEmbed).toBe(false);
    expect(b.config.guidanceEmbed).toBe(true);
    let maxDiff = 0;
    for (let i = 0; i < a.out.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.out[i] - b.out[i]));
    expect(maxDiff).toBeLessThan(1e-6);
    // And the guidance input really matters when guidance_in is live.
    const live = await FluxDit.create(Checkpoint.open(TINY), { ep: 'cpu' });
    try {
      await expect(live.forward({ img: g('img'), imgIds: g('img_ids'), txt: g('txt'), txtIds: g('txt_ids'), vec: g('vec'), timestep: 0.5 }))
        .rejects.toThrow(/guidance value is required/);
      await expect(live.forward({ img: g('img'), imgIds: g('img_ids').subarray(3), txt: g('txt'), txtIds: g('txt_ids'), vec: g('vec'), timestep: 0.5, guidance: 4 }))
        .rejects.toThrow(/imgIds has 33 values, expected 12 tokens × 3 axes = 36/);
    } finally {
      await live.release();
    }
  });
});

describe('host-side tables', () => {
  test('timestep embedding: cos first, time factor 1000', () => {
    const e = timestepEmbedding(0.25, 8);
    // k = 0: frequency 1, argument 250.
    expect(e[0]).toBeCloseTo(Math.cos(250), 6);
    expect(e[4]).toBeCloseTo(Math.sin(250), 6);
    // k = 3: frequency exp(-ln(1e4)·3/4) = 1e-3, argument 0.25.
    expect(e[3]).toBeCloseTo(Math.cos(0.25), 6);
    expect(e[7]).toBeCloseTo(Math.sin(0.25), 6);
  });

  test('RoPE tables: per axis omega = theta^(-2k/d), axes concatenated', () => {
    const t = ropeTables([0, 3, 5], [2, 4, 2], 100);
    expect(t.pairs).toBe(4);
    const angles = [0, 3, 3 / 10, 5];
    angles.forEach((a, i) => {
      expect(t.cos[i]).toBeCloseTo(Math.cos(a), 6);
      expect(t.sin[i]).toBeCloseTo(Math.sin(a), 6);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Real FLUX.1-dev shapes, header only: the data region is a sparse hole (never allocated).

function flux1DevShapes(): Record<string, number[]> {
  const H = 3072;
  const M = 12288;
  const s: Record<string, number[]> = {};
  const lin = (p: string, out: number, inp: number) => {
    s[`${p}.weight`] = [out, inp];
    s[`${p}.bias`] = [out];
  };
  lin('img_in', H, 64);
  lin('txt_in', H, 4096);
  for (const p of ['time_in', 'guidance_in']) { lin(`${p}.in_layer`, H, 256); lin(`${p}.out_layer`, H, H); }
  lin('vector_in.in_layer', H, 768);
  lin('vector_in.out_layer', H, H);
  for (let i = 0; i < 19; i++) {
    for (const st of ['img', 'txt']) {
      const p = `double_blocks.${i}.${st}`;
      lin(`${p}_mod.lin`, 6 * H, H);
      lin(`${p}_attn.qkv`, 3 * H, H);
      s[`${p}_attn.norm.query_norm.scale`] = [128];
      s[`${p}_attn.norm.key_norm.scale`] = [128];
      lin(`${p}_attn.proj`, H, H);
      lin(`${p}_mlp.0`, M, H);
      lin(`${p}_mlp.2`, H, M);
    }
  }
  for (let i = 0; i < 38; i++) {
    const p = `single_blocks.${i}`;
    lin(`${p}.linear1`, 3 * H + M, H);
    lin(`${p}.linear2`, H, H + M);
    s[`${p}.norm.query_norm.scale`] = [128];
    s[`${p}.norm.key_norm.scale`] = [128];
    lin(`${p}.modulation.lin`, 3 * H, H);
  }
  lin('final_layer.adaLN_modulation.1', 2 * H, H);
  lin('final_layer.linear', 64, H);
  return s;
}

/** Write a safetensors header for BF16 tensors and extend the file to its full size sparsely. */
function writeSparseCheckpoint(file: string, shapes: Record<string, number[]>): number {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [k, shape] of Object.entries(shapes)) {
    const n = elementCount(shape) * 2;
    header[k] = { dtype: 'BF16', shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, len);
    fs.writeSync(fd, json);
    fs.ftruncateSync(fd, 8 + json.length + offset);
  } finally {
    fs.closeSync(fd);
  }
  return offset;
}

describe('FLUX.1-dev shapes (header-only sparse checkpoint)', () => {
  test('the graph builds and reports ≈ 11.9 B parameters', () => {
    const shapes = flux1DevShapes();
    const file = path.join(tmp, 'flux1-dev-shapes.safetensors');
    const dataBytes = writeSparseCheckpoint(file, shapes);
    expect(fs.statSync(file).blocks * 512).toBeLessThan(64 * 1024 * 1024); // really sparse
    const written = Object.values(shapes).reduce((a, s) => a + elementCount(s), 0);

    const ck = Checkpoint.open(file);
    const cfg = readFluxDitConfig(ck);
    expect(cfg).toMatchObject({
      hidden: 3072, heads: 24, headDim: 128, depth: 19, depthSingle: 38, mlpHidden: 12288, inChannels: 64,
      outChannels: 64, contextInDim: 4096, vecInDim: 768, timeEmbedDim: 256, guidanceEmbed: true, qkvBias: true,
      axesDim: [16, 56, 56], theta: 10000,
    });
    const t0 = performance.now();
    const model = buildFluxDit(ck, { config: cfg });
    const ms = performance.now() - t0;
    console.log(`flux1-dev shapes: graph built in ${ms.toFixed(0)} ms, ${model.nodeCount} nodes, `
      + `${model.parameterCount} parameters (${written} in weights), model ${(model.bytes.length / 1024).toFixed(0)} kB`);
    expect(fluxDitParameterCount(cfg)).toBe(written);
    // Every written tensor became exactly one external initializer.
    expect(model.externalBytes).toBe(dataBytes);
    expect(model.externalBytes).toBe(2 * written);
    // Only small inline constants (LayerNorm ones, shapes) come on top.
    expect(model.parameterCount - written).toBeGreaterThanOrEqual(0);
    expect(model.parameterCount - written).toBeLessThan(10_000);
    expect(written / 1e9).toBeGreaterThan(11.85);
    expect(written / 1e9).toBeLessThan(11.95);
  });
});
