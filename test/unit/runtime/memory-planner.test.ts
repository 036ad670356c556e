// "Real sizes on paper": the memory planner on header-only (sparse) checkpoints with the real
// shapes of FLUX.1-dev + T5-XXL + CLIP-L + FLUX VAE + UNO LoRA and of OmniGen2 (transformer +
// Qwen2.5-VL-3B + VAE), at 8–24 GiB, 768² and 1024², 1–3 references. UMO_PRINT_PLANS=1 prints the
// plan table (the README's).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeHeaderOnlyCheckpoint } from '../../../electron/engine/kit/write-checkpoint.js';
import {
  CLIP_L_TEXT_SIZES, FLUX1_DEV_SIZES, FLUX_AE_SIZES, T5_XXL_SIZES,
  bflAutoencoderSpec, clipTextSpec, fluxDitSpec, t5EncoderSpec, unoLoraSpec,
} from '../../../electron/engine/kit/checkpoint-shapes.js';
import { OMNIGEN2_TRANSFORMER_SIZES, omniGen2TransformerConfigJson, omniGen2TransformerSpec } from '../../../electron/engine/kit/omnigen2-transformer-shapes.js';
import { diffusersAutoencoderSpec } from '../../../electron/engine/kit/tiny-omnigen2-kit.js';
import type { VaeConfig } from '../../../electron/engine/models/autoencoder.js';
import { QWEN25VL_3B_SIZES, qwen25VlConfigJson, qwen25VlSpec } from '../../../electron/engine/kit/qwen25vl-shapes.js';
import {
  GiB, type MemoryPlan, type PlanModels, formatPlan, formatPlanTable, largestBlockGroup, loadPlanModels, locatePlanCheckpoints,
  parseByteSize, planMemory,
} from '../../../electron/engine/runtime/memory-planner.js';
import { chooseBlockSize, matMulNBitsBytes } from '../../../electron/engine/runtime/weight-bytes.js';
import { fluxDitActivations } from '../../../electron/engine/runtime/activation-bytes.js';
import { main } from '../../../electron/cli/main.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'memory-planner-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function dir(...parts: string[]): string {
  const p = path.join(root, ...parts);
  fs.mkdirSync(p, { recursive: true });
  return p;
}

function json(file: string, v: unknown): void {
  fs.writeFileSync(file, JSON.stringify(v));
}

/** A models root in Hugging Face layout with header-only checkpoints of the real sizes. */
function writeRealSizeModelsRoot(): void {
  const flux = dir('black-forest-labs', 'FLUX.1-dev');
  writeHeaderOnlyCheckpoint(path.join(flux, 'flux1-dev.safetensors'), fluxDitSpec(FLUX1_DEV_SIZES, 'BF16'));
  writeHeaderOnlyCheckpoint(path.join(flux, 'ae.safetensors'), bflAutoencoderSpec(FLUX_AE_SIZES, 'F32'));
  const t5 = dir('xlabs-ai', 'xflux_text_encoders');
  writeHeaderOnlyCheckpoint(path.join(t5, 'model.safetensors'), t5EncoderSpec(T5_XXL_SIZES, 'BF16'));
  const t = T5_XXL_SIZES;
  json(path.join(t5, 'config.json'), {
    model_type: 't5', d_model: t.dModel, d_kv: t.dKv, d_ff: t.dFf, num_layers: t.layers, num_heads: t.heads, vocab_size: t.vocab,
    relative_attention_num_buckets: t.buckets, feed_forward_proj: 'gated-gelu',
  });
  fs.writeFileSync(path.join(t5, 'spiece.model'), '');
  // openai/clip-vit-large-patch14 is a full CLIPModel: the vision tower is in the file but never run.
  const clip = dir('openai', 'clip-vit-large-patch14');
  const c = CLIP_L_TEXT_SIZES;
  writeHeaderOnlyCheckpoint(path.join(clip, 'model.safetensors'), {
    ...clipTextSpec(c, 'F32'),
    'vision_model.encoder.layers.0.mlp.fc1.weight': { shape: [4096, 1024], dtype: 'F32', init: 'matrix' },
    'text_projection.weight': { shape: [768, 768], dtype: 'F32', init: 'matrix' },
  });
  json(path.join(clip, 'config.json'), {
    model_type: 'clip', text_config: {
      hidden_size: c.hidden, intermediate_size: c.intermediate, num_attention_heads: 12, num_hidden_layers: c.layers,
      max_position_embeddings: c.positions, vocab_size: c.vocab, hidden_act: 'quick_gelu',
    },
  });
  fs.writeFileSync(path.join(clip, 'tokenizer.json'), '{}');
  writeHeaderOnlyCheckpoint(path.join(dir('bytedance-research', 'UNO'), 'dit_lora.safetensors'), unoLoraSpec(FLUX1_DEV_SIZES, 512, 'BF16'));

  const transformer = dir('OmniGen2', 'OmniGen2', 'transformer');
  writeHeaderOnlyCheckpoint(path.join(transformer, 'diffusion_pytorch_model.safetensors'), omniGen2TransformerSpec(OMNIGEN2_TRANSFORMER_SIZES, 'BF16'));
  json(path.join(transformer, 'config.json'), omniGen2TransformerConfigJson(OMNIGEN2_TRANSFORMER_SIZES));
  const mllm = dir('OmniGen2', 'OmniGen2', 'mllm');
  writeHeaderOnlyCheckpoint(path.join(mllm, 'model.safetensors'), qwen25VlSpec(QWEN25VL_3B_SIZES, 'BF16'));
  json(path.join(mllm, 'config.json'), qwen25VlConfigJson(QWEN25VL_3B_SIZES));
  const vae = dir('OmniGen2', 'OmniGen2', 'vae');
  // The FLUX VAE in diffusers layout (OmniGen2's vae/ folder), bf16 like the rest of the pipeline.
  const channels = FLUX_AE_SIZES.chMult.map((m) => m * FLUX_AE_SIZES.ch);
  const half = (resBlocks: number) => ({ channels, convInChannels: FLUX_AE_SIZES.ch, resBlocks, midAttention: true });
  const vaeCfg: VaeConfig = {
    format: 'diffusers', inChannels: 3, outChannels: 3, zChannels: FLUX_AE_SIZES.zChannels, encoder: half(2), decoder: half(3),
    quantConv: false, postQuantConv: false, groups: 32, eps: 1e-6, scale: 0.3611, shift: 0.1159, clampLogvar: true, source: 'test',
  };
  writeHeaderOnlyCheckpoint(path.join(vae, 'diffusion_pytorch_model.safetensors'), diffusersAutoencoderSpec(vaeCfg, 'BF16'));
  json(path.join(vae, 'config.json'), {
    _class_name: 'AutoencoderKL', in_channels: 3, out_channels: 3, latent_channels: 16, layers_per_block: 2,
    block_out_channels: channels, scaling_factor: 0.3611, shift_factor: 0.1159, use_quant_conv: false, use_post_quant_conv: false,
  });
}

let uno: PlanModels;
let og2: PlanModels;
beforeAll(() => {
  writeRealSizeModelsRoot();
  uno = loadPlanModels('uno', locatePlanCheckpoints('uno', { modelsRoot: root, hfCache: null }));
  og2 = loadPlanModels('omnigen2', locatePlanCheckpoints('omnigen2', { modelsRoot: root, hfCache: null }));
});


const BUDGETS = [8, 12, 16, 24];
const SIZES = [768, 1024];
const REFS = [1, 2, 3];

function plan(models: PlanModels, device: 'cpu' | 'gpu', budgetGiB: number, size: number, refs: number, extra: Partial<Parameters<typeof planMemory>[1]> = {}): MemoryPlan {
  return planMemory(models, { device, budgetBytes: budgetGiB * GiB, request: { width: size, height: size, references: refs }, ...extra });
}

/** Elements of the tensors of a checkpoint spec that `pick` accepts. */
function elementsOf(spec: Record<string, { shape: readonly number[] }>, pick: (key: string, shape: readonly number[]) => boolean): number {
  return Object.entries(spec).filter(([k, t]) => pick(k, t.shape)).reduce((n, [, t]) => n + t.shape.reduce((a, b) => a * b, 1), 0);
}

function component(p: MemoryPlan, id: string) {
  const c = p.phases.flatMap((ph) => ph.components).find((x) => x.id === id);
  if (!c) throw new Error(`plan has no component ${id}`);
  return c;
}

describe('MatMulNBits sizing', () => {
  it('chooses a block that divides K, or pads the last block least (OmniGen2 width 2520)', () => {
    expect(chooseBlockSize(3072, 8)).toBe(128);
    expect(chooseBlockSize(3072, 4)).toBe(64);
    expect(chooseBlockSize(11008, 4)).toBe(64);
    expect(chooseBlockSize(2520, 4)).toBe(32); // 79 blocks, 8 padded columns (64 would pad 40)
    expect(chooseBlockSize(2520, 8)).toBe(32);
    expect(chooseBlockSize(840, 8)).toBe(32); // 27 blocks (864): pad 24; 64 -> 896: pad 56
  });

  it('counts codes, per-block scales and 4-bit zero points', () => {
    // to_q of OmniGen2 (N 2520, K 2520) in int4 with fp16 scales: 79 blocks of 32 per row.
    const l = matMulNBitsBytes(2520, 2520, 4, 2);
    expect(l).toMatchObject({ blockSize: 32, kBlocks: 79, codeBytes: 2520 * 79 * 16, scaleBytes: 2520 * 79 * 2, zeroPointBytes: 2520 * 40 });
    // FLUX linear1 (N 21504, K 3072) in int8 with fp32 scales: 24 blocks of 128, symmetric (no zero points).
    const m = matMulNBitsBytes(21504, 3072, 8, 4);
    expect(m.total).toBe(21504 * 24 * 128 + 21504 * 24 * 4);
  });
});

describe('weights on paper (real shapes, header-only files)', () => {
  it('FLUX.1-dev: 11,901,408,320 parameters; fp16 on a GPU is 2 bytes per Linear weight (biases, norms fp32), any float on the CPU EP is fp32', () => {
    const gpu = plan(uno, 'gpu', 1000, 768, 1);
    const cpu = plan(uno, 'cpu', 1000, 768, 1);
    expect(component(gpu, 'dit').parameters).toBe(11_901_408_320);
    // The graphs compute in fp32: an fp16 plan narrows only the Linear weights (nn.linear's fp16 MatMul).
    const notLinear = elementsOf(fluxDitSpec(FLUX1_DEV_SIZES, 'BF16'), (key, shape) => shape.length !== 2 || !key.endsWith('.weight'));
    expect(notLinear).toBeGreaterThan(1e6);
    expect(component(gpu, 'dit')).toMatchObject({ precision: 'fp16', weightBytes: 2 * 11_901_408_320 + 2 * notLinear });
    expect(component(cpu, 'dit')).toMatchObject({ precision: 'bf16-as-fp32-on-cpu', weightBytes: 4 * 11_901_408_320 });
    // With a huge budget everything stays resident at the highest precision and nothing is given up.
    expect(gpu).toMatchObject({ fits: true, residency: 'all-resident', gaveUp: [] });
  });

  it('text encoders: T5-XXL 4.76 B, CLIP-L text tower only (vision tower ignored), Qwen2.5-VL-3B LLM only', () => {
    const gpu = plan(uno, 'gpu', 1000, 768, 1);
    expect(component(gpu, 't5').parameters).toBe(4_762_310_656);
    // Linears and the token table (gathered as stored, bf16) 2 bytes; norms and the position bias fp32.
    const t5Float32 = elementsOf(t5EncoderSpec(T5_XXL_SIZES, 'BF16'), (key, shape) => !key.startsWith('decoder.')
      && (shape.length !== 2 || key.includes('relative_attention_bias')));
    expect(component(gpu, 't5').weightBytes).toBe(2 * 4_762_310_656 + 2 * t5Float32);
    expect(component(gpu, 'clip').parameters).toBe(123_060_480);
    const og = plan(og2, 'gpu', 1000, 1024, 1);
    expect(component(og, 'mllm').parameters).toBe(3_085_938_688);
    // 36 modulated blocks (32 layers + 2 noise + 2 reference refiners) + 2 context refiners + embedders:
    // 3,967,161,400 parameters = 7.93 GB in 16-bit, the size of Comfy-Org's omnigen2_fp16.safetensors.
    expect(component(og, 'transformer').parameters).toBe(3_967_161_400);
    // On CPU the token tables stay in the mapped file: only looked-up rows count.
    const cpu = plan(uno, 'cpu', 1000, 768, 1);
    const t5Tables = 32128 * 4096;
    expect(component(cpu, 't5').weightBytes).toBe(4 * (4_762_310_656 - t5Tables) + 512 * 4096 * 2);
  });

  it('int4 keeps modulation, embedders and norms float (fp16 Linears on a GPU); quantizing modulation is a separate, smaller step', () => {
    const pin = (precision: 'int4' | 'int8', quantizeModulation = false) =>
      component(plan(uno, 'gpu', 1000, 768, 1, { precisions: { dit: { precision, quantizeModulation } } }), 'dit').weightBytes;
    const fp16 = 2 * 11_901_408_320;
    const int8 = pin('int8');
    const int4 = pin('int4');
    const int4mod = pin('int4', true);
    // FLUX modulation: 19·2·(6h·h) + 38·(3h·h) + 2h·h = 3.24 B parameters stay float in plain int4:
    // fp16 MatMuls on a GPU (quantized-bake.ts), so 2 bytes each; int8 modulation makes them ~1.03.
    const modParams = 19 * 2 * 6 * 3072 * 3072 + 38 * 3 * 3072 * 3072 + 2 * 3072 * 3072;
    expect(int4).toBeGreaterThan(2 * modParams);
    expect(int4).toBeLessThan(fp16 / 2);
    expect(int4mod).toBeLessThan(int4);
    expect(int8).toBeGreaterThan(int4);
    expect(int4 - int4mod).toBeGreaterThan(0.9 * modParams); // 2 bytes -> ~1.03 bytes per modulation weight
    expect(int4 - int4mod).toBeLessThan(modParams);
  });
});

describe('activations', () => {
  it('unfused attention grows with S², fused stays linear in S', () => {
    const base = { hidden: 3072, heads: 24, mlpHidden: 12288, textTokens: 512 };
    const at = (imageTokens: number, kind: 'fused' | 'unfused') => fluxDitActivations({ ...base, imageTokens, attention: { kind } }).elements;
    expect(at(8192, 'fused') / at(4096, 'fused')).toBeLessThan(2.1);
    expect(at(8192, 'unfused') / at(4096, 'unfused')).toBeGreaterThan(3);
    // 1024² + two 320² references: S = 512 + 4096 + 800; the unfused scores alone are 2·24·S².
    expect(at(4896, 'unfused')).toBeGreaterThan(2 * 24 * 5408 ** 2);
  });

  it('query chunks trade activation memory for more kernels', () => {
    const a = fluxDitActivations({ hidden: 3072, heads: 24, mlpHidden: 12288, textTokens: 512, imageTokens: 4896, attention: { kind: 'unfused', queryChunks: 8 } });
    const b = fluxDitActivations({ hidden: 3072, heads: 24, mlpHidden: 12288, textTokens: 512, imageTokens: 4896, attention: { kind: 'unfused' } });
    expect(a.elements).toBeLessThan(b.elements / 3);
  });

  it('measured figures plug in through calibration', () => {
    const p1 = plan(og2, 'cpu', 1000, 1024, 2, { residency: 'one-phase-at-a-time' });
    const p2 = plan(og2, 'cpu', 1000, 1024, 2, { residency: 'one-phase-at-a-time', calibration: { transformer: { scale: 2, offsetBytes: 1e6 } } });
    const d1 = p1.phases.find((p) => p.name === 'denoise')!;
    const d2 = p2.phases.find((p) => p.name === 'denoise')!;
    expect(d2.activationBytes - d1.activationBytes).toBeGreaterThan(0.9 * d1.activationBytes);
    expect(p2.phases.find((p) => p.name === 'decode')!.activationBytes).toBe(p1.phases.find((p) => p.name === 'decode')!.activationBytes);
  });
});

describe('streaming groups', () => {
  it('splits blocks into contiguous groups of about equal bytes', () => {
    expect(largestBlockGroup([1, 1, 1, 1], 2)).toBe(2);
    expect(largestBlockGroup([3, 1, 1, 1], 2)).toBe(3);
    expect(largestBlockGroup([1, 1, 1, 1, 1, 1, 1, 1, 1], 4)).toBe(3);
  });
});

describe('plans for 8–24 GiB, 768² and 1024², 1–3 references', () => {
  const table: MemoryPlan[] = [];
  afterAll(() => {
    if (process.env.UMO_PRINT_PLANS) process.stdout.write(`\n${formatPlanTable(table)}`);
  });

  it('at 16 GiB on a GPU both backbones plan 1024² with 2 references under 15 GiB and say what they gave up', () => {
    for (const models of [uno, og2]) {
      const p = plan(models, 'gpu', 16, 1024, 2);
      if (process.env.UMO_PRINT_PLANS) process.stdout.write(formatPlan(p));
      expect(p.fits).toBe(true);
      expect(p.peakBytes).toBeLessThan(15 * GiB);
      expect(p.peakBytes).toBe(Math.max(...p.phases.map((ph) => ph.peakBytes)));
      expect(p.gaveUp.length).toBeGreaterThan(0);
      expect(p.residency).not.toBe('all-resident');
      expect(JSON.parse(JSON.stringify(p))).toEqual(p);
    }
  });

  it('every configuration gets a plan that fits its budget (GPU and CPU)', () => {
    for (const device of ['gpu', 'cpu'] as const) {
      for (const models of [uno, og2]) {
        for (const budget of BUDGETS) for (const size of SIZES) for (const refs of REFS) {
          const p = plan(models, device, budget, size, refs);
          table.push(p);
          expect(p.fits, `${models.backbone} ${device} ${budget} GiB ${size}² ${refs} refs`).toBe(true);
          expect(p.peakBytes).toBeLessThanOrEqual(p.budgetBytes - p.reserveBytes);
          expect(p.phases.map((ph) => ph.name)).toContain('denoise');
        }
      }
    }
  });

  it('prefers precision, then less streaming: more budget never lowers a precision or adds streaming', () => {
    const rank = (p: MemoryPlan) => (p.residency === 'all-resident' ? 0 : p.residency === 'one-phase-at-a-time' ? 1 : 1 + (p.streamGroups ?? 0));
    for (const models of [uno, og2]) {
      const plans = BUDGETS.map((b) => plan(models, 'gpu', b, 1024, 2));
      for (let i = 1; i < plans.length; i++) {
        const lost = (p: MemoryPlan) => p.gaveUp.filter((g) => / in (int|fp16)/.test(g)).length;
        expect(lost(plans[i])).toBeLessThanOrEqual(lost(plans[i - 1]));
        if (lost(plans[i]) === lost(plans[i - 1])) expect(rank(plans[i])).toBeLessThanOrEqual(rank(plans[i - 1]));
      }
    }
    // OmniGen2 on a 24 GiB GPU at 768²: everything resident in fp16 (each session keeping its
    // activation peak); at 1024² and 16 GiB: one phase at a time; 8 GiB: streamed.
    expect(plan(og2, 'gpu', 24, 768, 1).residency).toBe('all-resident');
    expect(plan(og2, 'gpu', 24, 1024, 1).residency).toBe('one-phase-at-a-time');
    expect(plan(og2, 'gpu', 16, 1024, 1).residency).toBe('one-phase-at-a-time');
    expect(plan(og2, 'gpu', 8, 1024, 1).residency).toBe('dit-streamed');
  });

  it('without streaming, UNO on a 16 GiB GPU falls back to a quantized DiT and says so', () => {
    const p = plan(uno, 'gpu', 16, 1024, 2, { maxStreamGroups: 0 });
    expect(p.fits).toBe(true);
    expect(p.residency).toBe('one-phase-at-a-time');
    expect(['int8', 'int4']).toContain(component(p, 'dit').precision);
    expect(p.gaveUp.some((g) => g.startsWith('DiT in int'))).toBe(true);
  });

  it('below what can fit, it says so plainly', () => {
    for (const models of [uno, og2]) {
      const p = plan(models, 'gpu', 2, 1024, 2);
      expect(p.fits).toBe(false);
      expect(p.reason).toMatch(/^does not fit: even the smallest plan needs \d+\.\d GiB/);
      expect(p.peakBytes).toBeGreaterThan(p.budgetBytes - p.reserveBytes);
      expect(formatPlan(p)).toContain('DOES NOT FIT');
    }
  });
});

describe('errors', () => {
  it('names the missing component and where it looked', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'memory-planner-empty-'));
    try {
      expect(() => locatePlanCheckpoints('omnigen2', { modelsRoot: empty, hfCache: null })).toThrow(/cannot plan omnigen2[\s\S]*OmniGen2 transformer[\s\S]*looked in/);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  it('rejects bad requests and unknown components', () => {
    expect(() => plan(uno, 'gpu', 16, 1000.5, 1)).toThrow(/width must be a whole number/);
    expect(() => plan(uno, 'gpu', 16, 1024, 1, { precisions: { transformer: { precision: 'int4' } } })).toThrow(/no component "transformer" in uno/);
    expect(() => parseByteSize('lots')).toThrow(/not a size/);
    expect(parseByteSize('16GiB')).toBe(16 * GiB);
    expect(parseByteSize('12 GB')).toBe(12e9);
  });
});

describe('umo-studio plan', () => {
  function capture(): { out: () => string; restore: () => void } {
    let text = '';
    const orig = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => { text += String(chunk); return true; }) as typeof process.stdout.write;
    return { out: () => text, restore: () => { process.stdout.write = orig; } };
  }

  it('prints the JSON plan (fits, peakBytes, budgetBytes, phases) and exits 0 when it fits, 3 when it does not', async () => {
    const c = capture();
    let code: number;
    try {
      code = await main(['plan', '--backbone', 'omnigen2', '--models-root', root, '--budget', '16GiB', '--width', '1024', '--height', '1024', '--refs', '2', '--json']);
    } finally {
      c.restore();
    }
    expect(code).toBe(0);
    const p = JSON.parse(c.out()) as MemoryPlan;
    expect(p).toMatchObject({ backbone: 'omnigen2', fits: true, budgetBytes: 16 * GiB });
    expect(p.peakBytes).toBeLessThan(15 * GiB);
    expect(p.phases.map((ph) => ph.name)).toEqual(['encode-text', 'encode-references', 'denoise', 'decode']);

    const c2 = capture();
    try {
      code = await main(['plan', '--backbone', 'uno', '--models-root', root, '--budget', '2GiB', '--width', '1024', '--height', '1024', '--refs', '2']);
    } finally {
      c2.restore();
    }
    expect(code).toBe(3);
    expect(c2.out()).toContain('DOES NOT FIT');
  });

  it('usage errors name the flag', async () => {
    await expect(main(['plan', '--backbone', 'sdxl', '--models-root', root, '--budget', '16GiB'])).rejects.toThrow(/unknown --backbone "sdxl"/);
    await expect(main(['plan', '--models-root', root])).rejects.toThrow(/--budget SIZE is required/);
    await expect(main(['plan', '--models-root', root, '--budget', '16GiB', '--precision', 'dit=int3'])).rejects.toThrow(/--precision "dit=int3": expected COMPONENT=PRECISION/);
  });
});
