// Quantized networks (int8 / int4 MatMulNBits bakes) against the fp32 golden outputs.
//
// Tolerance, derived from the quantization step: every quantized weight element moves by at most
// half a step (0.5·scale of its block), which gives each layer a relative weight error
// δ = ||W − deq(W)||_F / ||W||_F (measured here from the bake itself, over all quantized layers:
// the largest δ). A layer's output then moves by about δ relative, and errors of the few layers of
// these tiny networks add up, amplified by the nonlinearities and norms. So the budget for the
// relative RMS error of the network output, ||y − y_golden|| / ||y_golden||, is
//   AMPLIFICATION · δ_max  with AMPLIFICATION = 4
// (a documented budget, not a fit: the measured ratios are printed; they were 0.22-0.6 of it), plus
// the fp32 golden tolerance. int8 additionally runs with accuracy_level 4 (A rounded to int8 per
// block, relative 1/254 of the block max), which is added to δ for int8.
// The test also checks the output *did* change (the quantized graph is really used) and that the
// bake bytes equal quantizeLinear of the base weights.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Checkpoint, type Weights } from '../../electron/engine/runtime/safetensors.js';
import { readAllTensors, requireF32, requireI64, type TensorMap } from '../../electron/engine/runtime/tensor.js';
import { BakeCache } from '../../electron/engine/runtime/bake-cache.js';
import { type QuantLoraSource, type QuantizedWeights, quantizedWeights } from '../../electron/engine/runtime/quantized-bake.js';
import { type QuantBits, dequantizeLinear, quantizeLinear } from '../../electron/engine/runtime/matmul-nbits.js';
import { type ExecutionProvider, probeExecutionProviders } from '../../electron/engine/runtime/sessions.js';
import {
  type NetworkMemoryModel, clipTextMemoryModel, fluxDitMemoryModel, omnigen2TransformerMemoryModel, qwen2TextMemoryModel, t5MemoryModel,
} from '../../electron/engine/runtime/network-memory-models.js';
import { FluxDit } from '../../electron/engine/models/flux-dit.js';
import { T5Encoder } from '../../electron/engine/models/t5-encoder.js';
import { ClipTextEncoder } from '../../electron/engine/models/clip-text.js';
import { Qwen2TextModel } from '../../electron/engine/models/qwen2-text.js';
import { OmniGen2Transformer } from '../../electron/engine/models/omnigen2-transformer.js';
import { omniGen2ForwardInputsOf } from '../../electron/engine/eval/omnigen2-transformer.js';
import { fluxDitInputsFromTensors } from '../../electron/engine/eval/flux-dit.js';
import { GOLDEN_DIR } from '../helpers/golden.js';
import { buildFluxDit } from '../../electron/engine/models/flux-dit.js';

const AMPLIFICATION = 4;
/** The golden fp32 suite's own tolerance (single forward in fp32). */
const FP32_TOL = 1e-4;

interface NetCase {
  name: string;
  checkpoint: string;
  caseFile: string;
  output: string;
  memoryModel(w: Weights): NetworkMemoryModel;
  run(w: Weights, inputs: TensorMap, ep: ExecutionProvider): Promise<Float32Array>;
}

const g = (p: string) => path.join(GOLDEN_DIR, p);

const NETS: NetCase[] = [
  {
    name: 'FLUX DiT', checkpoint: g('uno/flux_dit/flux_tiny_bf16.safetensors'), caseFile: g('uno/flux_dit/case_two_refs.safetensors'), output: 'output',
    memoryModel: fluxDitMemoryModel,
    run: async (w, inputs, ep) => {
      const dit = await FluxDit.create(w, { ep });
      try {
        return await dit.forward(fluxDitInputsFromTensors(inputs, dit.config.guidanceEmbed));
      } finally {
        await dit.release();
      }
    },
  },
  {
    name: 'T5 encoder', checkpoint: g('uno/text_encoders/t5_tiny'), caseFile: g('uno/text_encoders/t5_case.safetensors'), output: 'last_hidden_state',
    memoryModel: t5MemoryModel,
    run: async (w, inputs, ep) => {
      const ids = requireI64(inputs, 'input_ids', 'test');
      const enc = await T5Encoder.create(w, { ep });
      try { return await enc.encode(ids.data, ids.shape[0], ids.shape[1]); } finally { await enc.release(); }
    },
  },
  {
    name: 'CLIP text', checkpoint: g('uno/text_encoders/clip_tiny'), caseFile: g('uno/text_encoders/clip_case.safetensors'), output: 'last_hidden_state',
    memoryModel: clipTextMemoryModel,
    run: async (w, inputs, ep) => {
      const ids = requireI64(inputs, 'input_ids', 'test');
      const enc = await ClipTextEncoder.create(w, { ep });
      try { return (await enc.encode(ids.data, ids.shape[0], ids.shape[1])).hidden; } finally { await enc.release(); }
    },
  },
  {
    name: 'Qwen2 text', checkpoint: g('omnigen2/qwen25vl/tiny'), caseFile: g('omnigen2/qwen25vl/case_text_only.safetensors'), output: 'hidden_states_last',
    memoryModel: qwen2TextMemoryModel,
    run: async (w, inputs, ep) => {
      const ids = requireI64(inputs, 'input_ids', 'test');
      const [batch, len] = ids.shape;
      const mask = inputs.get('attention_mask')?.data as ArrayLike<number | bigint> | undefined ?? new Uint8Array(batch * len).fill(1);
      const m = await Qwen2TextModel.create(w, { ep });
      try { return (await m.forward(ids.data, mask, batch, len)).lastHidden; } finally { await m.release(); }
    },
  },
  {
    name: 'OmniGen2 transformer', checkpoint: g('omnigen2/transformer/tiny'), caseFile: g('omnigen2/transformer/case_b1_two_refs.safetensors'), output: 'output',
    memoryModel: omnigen2TransformerMemoryModel,
    run: async (w, inputs, ep) => {
      const m = await OmniGen2Transformer.create(w, { ep });
      try { return await m.forward(omniGen2ForwardInputsOf(inputs)); } finally { await m.release(); }
    },
  },
];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'umo-quant-'));
const cache = BakeCache.open({ dir: tmp, maxBytes: 1 << 30 });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function relRms(a: Float32Array, ref: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (a[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return Math.sqrt(num / den);
}

function maxAbs(a: Float32Array, ref: Float32Array): { abs: number; relToMax: number } {
  let m = 0;
  let r = 0;
  for (let i = 0; i < ref.length; i++) {
    m = Math.max(m, Math.abs(a[i] - ref[i]));
    r = Math.max(r, Math.abs(ref[i]));
  }
  return { abs: m, relToMax: m / r };
}

/** Largest relative Frobenius weight error over the quantized layers, read back from the bake; also checks the bytes. */
function weightError(w: QuantizedWeights, base: Weights, bake: Checkpoint | null): number {
  let worst = 0;
  for (const key of w.quantizedKeys()) {
    const q = w.quantizedLinear(key)!;
    const orig = base.readFloat32(key);
    const expected = quantizeLinear(orig, q.n, q.k, q.bits, q.blockSize);
    if (bake) expect(Buffer.from(bake.readBytes(q.qweightKey)).equals(Buffer.from(expected.qweight)), `${key} codes`).toBe(true);
    const deq = dequantizeLinear(expected);
    let num = 0;
    let den = 0;
    for (let i = 0; i < orig.length; i++) {
      num += (deq[i] - orig[i]) ** 2;
      den += orig[i] ** 2;
    }
    worst = Math.max(worst, Math.sqrt(num / Math.max(den, 1e-30)));
  }
  return worst;
}

async function checkNetwork(net: NetCase, bits: QuantBits, ep: ExecutionProvider, lora?: QuantLoraSource): Promise<void> {
  const base = Checkpoint.open(net.checkpoint);
  const inputs = readAllTensors(Checkpoint.open(net.caseFile));
  const golden = requireF32(inputs, net.output, 'test').data;
  const model = net.memoryModel(base);
  const choice = { precision: bits === 4 ? 'int4' as const : 'int8' as const };
  const progress: number[] = [];
  const q = await quantizedWeights({ base, lora, choice, roleOf: model.roleOf, cache, onProgress: (done) => progress.push(done) });
  try {
    expect(q.weights.quantizedKeys().length).toBeGreaterThan(0);
    // With a LoRA the bake codes are checked against the float32 merge in test/unit/runtime/quantized-bake.test.ts.
    const delta = (lora ? weightError(q.weights, base, null) : weightError(q.weights, base, Checkpoint.open(q.entry!.path))) + (bits === 8 ? 1 / 254 : 0);
    const y = await net.run(q.weights, inputs, ep);
    const rel = relRms(y, golden);
    const mx = maxAbs(y, golden);
    const budget = AMPLIFICATION * delta + FP32_TOL;
    console.log(`${net.name}${lora ? ' + LoRA' : ''} int${bits} on ${ep}: rel RMS ${rel.toExponential(2)}, max abs ${mx.abs.toExponential(2)} (${mx.relToMax.toExponential(2)} of max|golden|), weight δ ${delta.toExponential(2)}, budget ${budget.toExponential(2)} (ratio ${(rel / budget).toFixed(3)}); ${q.plan.length} layers, bake ${q.entry!.bytes} B`);
    expect(rel).toBeLessThanOrEqual(budget);
    // Quantization is really in the graph: the output moved by more than the fp32 noise.
    expect(rel).toBeGreaterThan(FP32_TOL / 10);
    if (!q.entry!.hit) expect(progress.at(-1)).toBe(q.plan.length);
  } finally {
    q.release();
  }
}

describe.each(NETS)('$name quantized on CPU', (net) => {
  it.each([8, 4] as const)('int%i matches the fp32 golden output within the derived tolerance', (bits) => checkNetwork(net, bits, 'cpu'));
});

describe('FLUX DiT + UNO LoRA quantized on CPU', () => {
  // The golden output with the LoRA applied (processor weight 1); δ of the base weights stands in
  // for the merged weights' (the LoRA delta is small against them).
  const net: NetCase = {
    ...NETS[0], caseFile: g('uno/flux_lora/case_two_refs.safetensors'), output: 'output_lora_weight_1',
  };
  const lora: QuantLoraSource = { format: 'uno', file: g('uno/flux_lora/dit_lora_tiny_bf16.safetensors'), scale: { mode: 'scale', scale: 1 } };
  it.each([8, 4] as const)('int%i matches the LoRA golden output within the derived tolerance', (bits) => checkNetwork(net, bits, 'cpu', lora));
});

describe('graph', () => {
  it('emits MatMulNBits under the module path instead of MatMul for quantized Linears', async () => {
    const base = Checkpoint.open(NETS[0].checkpoint);
    const q = await quantizedWeights({ base, choice: { precision: 'int4' }, roleOf: fluxDitMemoryModel(base).roleOf, cache });
    try {
      const built = buildFluxDit(q.weights);
      const text = Buffer.from(built.bytes).toString('latin1');
      expect(text).toContain('/double_blocks.0/img_attn/qkv/MatMulNBits');
      // The float MatMul node (its output would be named <node>/output_0) is gone.
      expect(text).not.toContain('/double_blocks.0/img_attn/qkv/MatMul/output_0');
      expect(buildFluxDit(base).bytes.length).toBeGreaterThan(0);
      expect(Buffer.from(buildFluxDit(base).bytes).toString('latin1')).toContain('/double_blocks.0/img_attn/qkv/MatMul/output_0');
      // Modulation stays float unless asked: its MatMul is still there.
      expect(text).toContain('/double_blocks.0/img_mod/lin/MatMul');
    } finally {
      q.release();
    }
  });
});

const webgpu = (await probeExecutionProviders()).some((p) => p.ep === 'webgpu' && p.works);
describe.skipIf(!webgpu)('FLUX DiT on WebGPU (lavapipe)', () => {
  it('int4 matches the fp32 golden output within the derived tolerance', () => checkNetwork(NETS[0], 4, 'webgpu'));

  it('fp16 Linears match the fp32 golden output within the fp16 rounding budget', async () => {
    // fp16 rounds weights and the Linear inputs to 11 significant bits (relative 2^-11 each) and
    // accumulates in fp16 on this EP: δ = 3·2^-11, same amplification budget as above.
    const net = NETS[0];
    const base = Checkpoint.open(net.checkpoint);
    const inputs = readAllTensors(Checkpoint.open(net.caseFile));
    const golden = requireF32(inputs, net.output, 'test').data;
    const q = await quantizedWeights({ base, choice: { precision: 'fp16' }, roleOf: fluxDitMemoryModel(base).roleOf, cache, device: 'gpu' });
    expect(q.weights.linearCompute).toBe('float16');
    const y = await net.run(q.weights, inputs, 'webgpu');
    const rel = relRms(y, golden);
    const budget = AMPLIFICATION * 3 * 2 ** -11 + FP32_TOL;
    const mx = maxAbs(y, golden);
    console.log(`FLUX DiT fp16 Linears on webgpu: rel RMS ${rel.toExponential(2)}, max abs ${mx.abs.toExponential(2)} (${mx.relToMax.toExponential(2)} of max|golden|), budget ${budget.toExponential(2)} (ratio ${(rel / budget).toFixed(3)})`);
    expect(rel).toBeLessThanOrEqual(budget);
    expect(rel).toBeGreaterThan(FP32_TOL / 10);
  });
});
