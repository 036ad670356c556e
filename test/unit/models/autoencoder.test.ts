// FLUX VAE encoder/decoder: golden parity for the BFL (`uno/vae`) and diffusers
// (`omnigen2/vae_diffusers`) groups on CPU and WebGPU, the same network under both key layouts,
// config discovery, the posterior and latent scaling rules, clear errors, and graphs over a
// header-only checkpoint with the real FLUX `ae.safetensors` shapes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Checkpoint, type TensorToWrite } from '../../../electron/engine/runtime/safetensors.js';
import { type TensorMap, f32, readAllTensors } from '../../../electron/engine/runtime/tensor.js';
import { probeExecutionProviders } from '../../../electron/engine/runtime/sessions.js';
import {
  DIFFUSERS_LOGVAR_RANGE, FLUX_VAE_DEFAULTS, VaeDecoder, VaeEncoder, buildVaeDecoder, buildVaeEncoder, detectVaeFormat,
  readVaeConfig, samplePosterior, scaleLatent, splitMoments, unscaleLatent, vaeDecoderTensorShapes, vaeEncoderTensorShapes,
} from '../../../electron/engine/models/autoencoder.js';
import { evalVaeDecode, evalVaeEncode } from '../../../electron/engine/eval/autoencoder.js';
import { FLUX_AE_SIZES, bflAutoencoderSpec } from '../../../electron/engine/kit/checkpoint-shapes.js';
import { writeHeaderOnlyCheckpoint } from '../../../electron/engine/kit/write-checkpoint.js';
import type { CheckpointSpec } from '../../../electron/engine/kit/checkpoint-shapes.js';
import { GOLDEN_DIR, caseFiles, checkpointCandidates, compareTensors } from '../../helpers/golden.js';
import { rawTensors, writeCheckpointFolder } from '../../helpers/checkpoint-files.js';

const ATOL = 1e-4;
const RTOL = 1e-4;
const ENCODE_OUTPUTS = ['encoder_moments', 'latent_dist_mean', 'latent_dist_logvar', 'latent_mean_scaled', 'latent_sampled_scaled', 'encode_vae_output'];
const DECODE_OUTPUTS = ['decoded', 'decoded_from_latent_mean'];

interface Group {
  id: string;
  dir: string;
  checkpoint: string;
  cases: string[];
}

function group(id: string): Group {
  const dir = path.join(GOLDEN_DIR, id);
  const cks = checkpointCandidates(dir);
  if (cks.length !== 1) throw new Error(`expected one checkpoint in ${dir}, found ${cks.join(', ') || 'none'}`);
  return { id, dir, checkpoint: cks[0], cases: caseFiles(dir).map((f) => path.join(dir, f)) };
}

const GROUPS = [group('uno/vae'), group('omnigen2/vae_diffusers')];
const [BFL, DIFFUSERS] = GROUPS;

let tmp: string;
beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'umo-vae-test-')));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const writeAeFolder = (name: string, tensors: Record<string, TensorToWrite>, config?: unknown) =>
  writeCheckpointFolder(tmp, name, tensors, config, 'ae.safetensors');
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
const bflConfigFile = () => path.join(path.dirname(BFL.checkpoint), 'config.json');

/** Run both adapters and compare every output the case file holds; returns the max errors. */
async function parity(g: Group, caseFile: string, ep: 'cpu' | 'webgpu'): Promise<Map<string, number>> {
  const t = readAllTensors(Checkpoint.open(caseFile));
  const out = new Map([...await evalVaeEncode(g.checkpoint, t, { ep }), ...await evalVaeDecode(g.checkpoint, t, { ep })]);
  const errs = new Map<string, number>();
  for (const k of [...ENCODE_OUTPUTS, ...DECODE_OUTPUTS]) {
    if (!t.has(k)) continue;
    const got = out.get(k);
    expect(got, `${g.id} ${ep}: no output "${k}"`).toBeDefined();
    const c = compareTensors(got!, t.get(k)!, ATOL, RTOL);
    console.log(`vae ${g.id} ${path.basename(caseFile)} ${k} ${ep} max_err=${c.maxErr.toExponential(2)}`);
    expect(c.count).toBeGreaterThan(0);
    expect(c.ok, `${g.id} ${k} on ${ep}: max error ${c.maxErr}`).toBe(true);
    errs.set(k, c.maxErr);
  }
  return errs;
}

describe('golden parity (CPU)', () => {
  it('finds a checkpoint and cases in both groups', () => {
    for (const g of GROUPS) expect(g.cases.length, g.id).toBeGreaterThan(0);
  });

  it.each(GROUPS.flatMap((g) => g.cases.map((c) => [g.id, path.basename(c), g, c] as const)))(
    '%s %s: every encode/decode output matches', async (_id, _name, g, caseFile) => {
      const errs = await parity(g, caseFile, 'cpu');
      // Both groups hold a posterior sample and a decode: the golden names of both must be served.
      expect([...errs.keys()].some((k) => k === 'latent_sampled_scaled' || k === 'encode_vae_output')).toBe(true);
      expect(errs.has('decoded')).toBe(true);
    });

  it('the unfused attention form (what WebGPU uses) matches on CPU too', async () => {
    for (const g of GROUPS) {
      const t = readAllTensors(Checkpoint.open(g.cases[0]));
      const image = t.get('image')!;
      const w = Checkpoint.open(g.checkpoint);
      const enc = await VaeEncoder.create(w, { ep: 'cpu', attention: 'unfused' });
      try {
        const r = await enc.encode(image.data as Float32Array, image.shape);
        const ref = (await evalVaeEncode(g.checkpoint, t, { ep: 'cpu' })).get('latent_dist_mean')!;
        expect(compareTensors(f32(r.mean, r.shape), ref, 1e-5, 1e-5).ok).toBe(true);
      } finally {
        await enc.release();
      }
    }
  });
});

/** The BFL tiny checkpoint renamed to diffusers AutoencoderKL keys (attn 1×1 convs -> Linear). */
function bflToDiffusers(src: Record<string, TensorToWrite>, levels: number): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  for (const [key, t] of Object.entries(src)) {
    const k = key
      .replace(/^encoder\.down\.(\d+)\.block\.(\d+)\./, 'encoder.down_blocks.$1.resnets.$2.')
      .replace(/^encoder\.down\.(\d+)\.downsample\.conv\./, 'encoder.down_blocks.$1.downsamplers.0.conv.')
      .replace(/^decoder\.up\.(\d+)\.block\.(\d+)\./, (_m, i: string, b: string) => `decoder.up_blocks.${levels - 1 - Number(i)}.resnets.${b}.`)
      .replace(/^decoder\.up\.(\d+)\.upsample\.conv\./, (_m, i: string) => `decoder.up_blocks.${levels - 1 - Number(i)}.upsamplers.0.conv.`)
      .replace(/\.mid\.block_1\./, '.mid_block.resnets.0.')
      .replace(/\.mid\.block_2\./, '.mid_block.resnets.1.')
      .replace(/\.mid\.attn_1\.norm\./, '.mid_block.attentions.0.group_norm.')
      .replace(/\.mid\.attn_1\.q\./, '.mid_block.attentions.0.to_q.')
      .replace(/\.mid\.attn_1\.k\./, '.mid_block.attentions.0.to_k.')
      .replace(/\.mid\.attn_1\.v\./, '.mid_block.attentions.0.to_v.')
      .replace(/\.mid\.attn_1\.proj_out\./, '.mid_block.attentions.0.to_out.0.')
      .replace(/\.nin_shortcut\./, '.conv_shortcut.')
      .replace(/^(encoder|decoder)\.norm_out\./, '$1.conv_norm_out.');
    const attnWeight = /attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(k);
    out[k] = attnWeight ? { ...t, shape: t.shape.slice(0, 2) } : t;
  }
  return out;
}

describe('the same network under both key layouts', () => {
  it('BFL weights renamed to diffusers keys give the same moments and decode', async () => {
    const bfl = Checkpoint.open(BFL.checkpoint);
    const levels = readVaeConfig(bfl).encoder!.channels.length;
    const json = readJson(bflConfigFile()).AutoEncoderParams as Record<string, unknown>;
    const dir = writeAeFolder('as-diffusers', bflToDiffusers(rawTensors(bfl), levels), {
      _class_name: 'AutoencoderKL', scaling_factor: json.scale_factor, shift_factor: json.shift_factor, norm_num_groups: 32,
      layers_per_block: json.num_res_blocks, latent_channels: json.z_channels,
    });
    const d = Checkpoint.open(dir);
    expect(detectVaeFormat(d)).toBe('diffusers');
    const t = readAllTensors(Checkpoint.open(BFL.cases[0]));
    const a = await evalVaeEncode(BFL.checkpoint, t, { ep: 'cpu' });
    const b = await evalVaeEncode(dir, t, { ep: 'cpu' });
    expect(compareTensors(b.get('encoder_moments')!, a.get('encoder_moments')!, 1e-6, 1e-6).ok).toBe(true);
    const da = await evalVaeDecode(BFL.checkpoint, t, { ep: 'cpu' });
    const db = await evalVaeDecode(dir, t, { ep: 'cpu' });
    expect(compareTensors(db.get('decoded')!, da.get('decoded')!, 1e-6, 1e-6).ok).toBe(true);
  });
});

describe('config', () => {
  it('BFL: sizes from shapes agree with AutoEncoderParams; scale/shift from config.json', () => {
    const cfg = readVaeConfig(Checkpoint.open(BFL.checkpoint));
    const p = readJson(bflConfigFile()).AutoEncoderParams as { ch: number; ch_mult: number[]; num_res_blocks: number; z_channels: number; scale_factor: number; shift_factor: number; in_channels: number; out_ch: number };
    expect(cfg.format).toBe('bfl');
    expect(cfg.encoder!.channels).toEqual(p.ch_mult.map((m) => m * p.ch));
    expect(cfg.decoder!.channels).toEqual(p.ch_mult.map((m) => m * p.ch));
    expect(cfg.encoder!.resBlocks).toBe(p.num_res_blocks);
    expect(cfg.decoder!.resBlocks).toBe(p.num_res_blocks + 1);
    expect(cfg).toMatchObject({ zChannels: p.z_channels, inChannels: p.in_channels, outChannels: p.out_ch, scale: p.scale_factor, shift: p.shift_factor, groups: 32, clampLogvar: false });
    expect(cfg.source).toBe(bflConfigFile());
  });

  it('diffusers: sizes from shapes agree with the AutoencoderKL config', () => {
    const cfg = readVaeConfig(Checkpoint.open(DIFFUSERS.checkpoint));
    const j = readJson(path.join(DIFFUSERS.checkpoint, 'config.json')) as { block_out_channels: number[]; layers_per_block: number; latent_channels: number; scaling_factor: number; shift_factor: number; norm_num_groups: number };
    expect(cfg.format).toBe('diffusers');
    expect(cfg.encoder!.channels).toEqual(j.block_out_channels);
    expect(cfg.decoder!.channels).toEqual(j.block_out_channels);
    expect(cfg.encoder!.resBlocks).toBe(j.layers_per_block);
    expect(cfg.decoder!.resBlocks).toBe(j.layers_per_block + 1);
    expect(cfg).toMatchObject({ zChannels: j.latent_channels, scale: j.scaling_factor, shift: j.shift_factor, groups: j.norm_num_groups, clampLogvar: true, quantConv: false, postQuantConv: false });
  });

  it('without config.json the FLUX values are used and said so', () => {
    const cfg = readVaeConfig(Checkpoint.open(BFL.checkpoint), { configFile: null });
    expect(cfg).toMatchObject({ scale: 0.3611, shift: 0.1159, groups: 32, eps: 1e-6 });
    expect(cfg.source).toMatch(/no config\.json: FLUX values/);
  });

  it('a config that contradicts the weights is refused, naming the field', () => {
    const dir = writeAeFolder('bad-config', rawTensors(Checkpoint.open(BFL.checkpoint)), { AutoEncoderParams: { ...(readJson(bflConfigFile()).AutoEncoderParams as object), z_channels: 4 } });
    expect(() => readVaeConfig(Checkpoint.open(dir))).toThrow(/"z_channels" is 4 but the latent convolutions gives 16/);
  });

  it('an unrelated config.json beside the weights is refused', () => {
    const dir = writeAeFolder('other-config', rawTensors(Checkpoint.open(BFL.checkpoint)), { _class_name: 'FluxTransformer2DModel' });
    expect(() => readVaeConfig(Checkpoint.open(dir))).toThrow(/"_class_name" is "FluxTransformer2DModel", expected "AutoencoderKL"/);
  });
});

describe('posterior and latent scaling', () => {
  // moments [1, 2·2, 1, 1]: mean (0.5, -1), logvar (25, -40): outside diffusers' clamp range.
  const moments = Float32Array.from([0.5, -1, 25, -40]);

  it('diffusers clamps logvar to [-30, 20]; BFL does not', () => {
    const d = splitMoments(moments, [1, 4, 1, 1], true);
    expect(Array.from(d.mean)).toEqual([0.5, -1]);
    expect(Array.from(d.logvar)).toEqual([DIFFUSERS_LOGVAR_RANGE[1], DIFFUSERS_LOGVAR_RANGE[0]]);
    const b = splitMoments(moments, [1, 4, 1, 1], false);
    expect(Array.from(b.logvar)).toEqual([25, -40]);
    expect(d.shape).toEqual([1, 2, 1, 1]);
  });

  it('splits per batch item (torch.chunk along channels)', () => {
    const two = Float32Array.from([1, 2, 3, 4, /* item 2 */ 5, 6, 7, 8]);
    const p = splitMoments(two, [2, 4, 1, 1], false);
    expect(Array.from(p.mean)).toEqual([1, 2, 5, 6]);
    expect(Array.from(p.logvar)).toEqual([3, 4, 7, 8]);
  });

  it('sample = mean + exp(logvar/2)·eps; scale·(z − shift) and its inverse', () => {
    const z = samplePosterior({ mean: Float32Array.from([1, 2]), logvar: Float32Array.from([0, Math.log(4)]) }, Float32Array.from([0.5, -1]));
    expect(z[0]).toBeCloseTo(1.5, 6);
    expect(z[1]).toBeCloseTo(0, 6);
    const cfg = { scale: FLUX_VAE_DEFAULTS.scale, shift: FLUX_VAE_DEFAULTS.shift };
    const lat = scaleLatent(Float32Array.from([1]), cfg);
    expect(lat[0]).toBeCloseTo(0.3611 * (1 - 0.1159), 6);
    expect(unscaleLatent(lat, cfg)[0]).toBeCloseTo(1, 6);
  });

  it('a golden sample is rebuilt from its eps (UNO: latent_sampled_scaled)', async () => {
    const t: TensorMap = readAllTensors(Checkpoint.open(BFL.cases[0]));
    const enc = await VaeEncoder.create(Checkpoint.open(BFL.checkpoint), { ep: 'cpu' });
    try {
      const image = t.get('image')!;
      const r = await enc.encodeLatent(image.data as Float32Array, image.shape, t.get('randn_eps')!.data as Float32Array);
      expect(compareTensors(f32(r.latent, r.shape), t.get('latent_sampled_scaled')!, ATOL, RTOL).ok).toBe(true);
      const m = await enc.encodeLatent(image.data as Float32Array, image.shape);
      expect(compareTensors(f32(m.latent, m.shape), t.get('latent_mean_scaled')!, ATOL, RTOL).ok).toBe(true);
    } finally {
      await enc.release();
    }
  });
});

describe('errors name the problem', () => {
  it('an unknown key format names the file and the keys it looked for', () => {
    const dir = writeAeFolder('not-a-vae', { 'img_in.weight': { dtype: 'F32', shape: [2, 2], data: new Float32Array(4) } });
    expect(() => readVaeConfig(Checkpoint.open(dir))).toThrow(
      /not-a-vae: is not a VAE checkpoint: missing tensor "encoder\.down\.0\.block\.0\.conv1\.weight" \(BFL ae\.safetensors keys\) and "encoder\.down_blocks\.0\.resnets\.0\.conv1\.weight" \(diffusers/);
  });

  it('a missing tensor is named', () => {
    const all = rawTensors(Checkpoint.open(BFL.checkpoint));
    delete all['encoder.mid.attn_1.proj_out.bias'];
    const dir = writeAeFolder('missing-key', all);
    expect(() => buildVaeEncoder(Checkpoint.open(dir))).toThrow(/missing tensor "encoder\.mid\.attn_1\.proj_out\.bias"/);
  });

  it('a wrong shape is named with the expected shape', () => {
    const all = rawTensors(Checkpoint.open(DIFFUSERS.checkpoint));
    const key = 'decoder.mid_block.attentions.0.to_v.weight';
    all[key] = { dtype: 'F32', shape: [32, 16], data: new Float32Array(32 * 16) };
    const dir = writeAeFolder('wrong-shape', all, readJson(path.join(DIFFUSERS.checkpoint, 'config.json')));
    expect(() => buildVaeDecoder(Checkpoint.open(dir))).toThrow(/"decoder\.mid_block\.attentions\.0\.to_v\.weight" has shape \[32, 16\], expected \[32, 32\]/);
  });

  it('a decoder-only checkpoint builds the decoder and refuses the encoder', () => {
    const all = rawTensors(Checkpoint.open(BFL.checkpoint));
    for (const k of Object.keys(all)) if (k.startsWith('encoder.')) delete all[k];
    const dir = writeAeFolder('decoder-only', all, readJson(bflConfigFile()));
    const w = Checkpoint.open(dir);
    expect(buildVaeDecoder(w).nodeCount).toBeGreaterThan(0);
    expect(() => buildVaeEncoder(w)).toThrow(/has no encoder: missing tensor "encoder\.conv_in\.weight"/);
  });

  it('decode refuses a latent with the wrong channel count', async () => {
    const dec = await VaeDecoder.create(Checkpoint.open(BFL.checkpoint), { ep: 'cpu' });
    try {
      await expect(dec.decodeLatent(new Float32Array(8 * 4), [1, 8, 2, 2])).rejects.toThrow(/shape \[1, 8, 2, 2\] is not \[batch, 16, height, width\]/);
    } finally {
      await dec.release();
    }
  });
});

describe('real FLUX ae.safetensors shapes (header-only sparse file)', () => {
  const hasNode = (bytes: Uint8Array, name: string) => Buffer.from(bytes).includes(Buffer.from(name));

  it('BFL keys: config from shapes; encoder and decoder graphs build', () => {
    const spec = bflAutoencoderSpec(FLUX_AE_SIZES, 'F32');
    const file = path.join(tmp, 'ae.safetensors');
    const size = writeHeaderOnlyCheckpoint(file, spec);
    expect(fs.statSync(file).blocks * 512).toBeLessThan(size / 100);
    const w = Checkpoint.open(file);
    const cfg = readVaeConfig(w);
    expect(cfg).toMatchObject({ format: 'bfl', zChannels: 16, inChannels: 3, outChannels: 3, scale: 0.3611, shift: 0.1159 });
    expect(cfg.encoder).toEqual({ channels: [128, 256, 512, 512], convInChannels: 128, resBlocks: 2, midAttention: true });
    expect(cfg.decoder).toEqual({ channels: [128, 256, 512, 512], convInChannels: 512, resBlocks: 3, midAttention: true });
    // The graphs read exactly the tensors of the file.
    expect(new Set([...vaeEncoderTensorShapes(cfg).keys(), ...vaeDecoderTensorShapes(cfg).keys()])).toEqual(new Set(Object.keys(spec)));
    const enc = buildVaeEncoder(w);
    const dec = buildVaeDecoder(w);
    const params = (pred: (k: string) => boolean) => w.parameterCount(pred);
    expect(enc.parameterCount).toBeGreaterThanOrEqual(params((k) => k.startsWith('encoder.')));
    expect(dec.parameterCount).toBeGreaterThanOrEqual(params((k) => k.startsWith('decoder.')));
    expect(enc.externalBytes + dec.externalBytes).toBe(w.parameterCount() * 4);
    expect(hasNode(enc.bytes, '/encoder/down.2/downsample/conv/Conv')).toBe(true);
    expect(hasNode(enc.bytes, '/encoder/mid/attn_1/q/Conv')).toBe(true);
    expect(hasNode(dec.bytes, '/decoder/up.0/block.2/conv2/Conv')).toBe(true);
    expect(hasNode(dec.bytes, '/decoder/up.3/upsample/Resize_nearest_x2')).toBe(true);
  });

  it('diffusers keys at the same sizes build too, with diffusers node names', () => {
    const bflCfg = readVaeConfig(Checkpoint.open(path.join(tmp, 'ae.safetensors')));
    const cfg = { ...bflCfg, format: 'diffusers' as const };
    const spec: CheckpointSpec = {};
    for (const m of [vaeEncoderTensorShapes(cfg), vaeDecoderTensorShapes(cfg)]) {
      for (const [k, shape] of m) spec[k] = { shape, dtype: 'BF16', init: 'matrix' };
    }
    const dir = path.join(tmp, 'diffusers-vae');
    fs.mkdirSync(dir);
    writeHeaderOnlyCheckpoint(path.join(dir, 'diffusion_pytorch_model.safetensors'), spec);
    const w = Checkpoint.open(dir);
    const read = readVaeConfig(w, { configFile: null });
    expect(read.encoder).toEqual(bflCfg.encoder);
    expect(read.decoder).toEqual(bflCfg.decoder);
    const enc = buildVaeEncoder(w);
    const dec = buildVaeDecoder(w);
    expect(hasNode(enc.bytes, '/encoder/mid_block/attentions.0/to_q/MatMul')).toBe(true);
    expect(hasNode(dec.bytes, '/decoder/up_blocks.0/upsamplers.0/Resize_nearest_x2')).toBe(true);
    expect(hasNode(dec.bytes, '/decoder/up_blocks.3/resnets.2/conv2/Conv')).toBe(true);
  });
});

const webgpuWorks = (await probeExecutionProviders()).some((p) => p.ep === 'webgpu' && p.works);

describe.skipIf(!webgpuWorks)('WebGPU (CPU fallback disabled)', () => {
  it.each(GROUPS.map((g) => [g.id, g] as const))('%s: every encode/decode output matches', async (_id, g) => {
    const errs = await parity(g, g.cases[0], 'webgpu');
    expect(errs.size).toBeGreaterThanOrEqual(4);
  });
});
