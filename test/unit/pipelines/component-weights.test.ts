// The pipelines' choice of weights per planned precision, and the CPU fallback of GPU fp16 graphs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Checkpoint } from '../../../electron/engine/runtime/safetensors.js';
import { BakeCache } from '../../../electron/engine/runtime/bake-cache.js';
import { QuantizedWeights } from '../../../electron/engine/runtime/quantized-bake.js';
import { fluxDitMemoryModel } from '../../../electron/engine/runtime/network-memory-models.js';
import { componentWeights, needsPrecisionBake, weightsForEp } from '../../../electron/engine/pipelines/component-weights.js';
import { GOLDEN_DIR } from '../../helpers/golden.js';

const BASE = path.join(GOLDEN_DIR, 'uno/flux_dit/flux_tiny_bf16.safetensors');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'umo-cw-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('componentWeights', () => {
  const base = Checkpoint.open(BASE);
  const roleOf = fluxDitMemoryModel(base).roleOf;
  let opened = 0;
  const cache = () => { opened++; return BakeCache.open({ dir: tmp, maxBytes: 1 << 30 }); };

  it('full precision without a LoRA is the checkpoint itself (no bake, no cache)', async () => {
    const w = await componentWeights({ base, choice: { precision: 'bf16-as-fp32-on-cpu' }, device: 'cpu', roleOf, cache });
    expect(w.weights).toBe(base);
    expect(opened).toBe(0);
    expect(needsPrecisionBake({ precision: 'fp16' }, 'cpu')).toBe(false);
    expect(needsPrecisionBake({ precision: 'fp16' }, 'gpu')).toBe(true);
    expect(needsPrecisionBake({ precision: 'fp32', quantizeModulation: true }, 'cpu')).toBe(true);
  });

  it('int8 gives MatMulNBits weights; a float LoRA bake is used only when nothing is quantized', async () => {
    let floatBakes = 0;
    const floatLoraBake = async () => { floatBakes++; return { weights: base, release: () => undefined }; };
    const q = await componentWeights({ base, choice: { precision: 'int8' }, device: 'cpu', roleOf, cache });
    expect(q.weights).toBeInstanceOf(QuantizedWeights);
    expect((q.weights as QuantizedWeights).quantizedLinear('double_blocks.0.img_attn.qkv.weight')?.bits).toBe(8);
    q.release();
    const f = await componentWeights({
      base, choice: { precision: 'fp32' }, device: 'cpu', roleOf, cache, floatLoraBake,
      lora: { format: 'uno', file: path.join(GOLDEN_DIR, 'uno/flux_lora/dit_lora_tiny_bf16.safetensors') },
    });
    expect(f.weights).toBe(base);
    expect(floatBakes).toBe(1);
  });

  it('a GPU fp16 graph that falls back to the CPU is rebuilt with float32 Linears; quantized layers stay', async () => {
    const gpu = await componentWeights({ base, choice: { precision: 'fp16' }, device: 'gpu', roleOf, cache });
    expect((gpu.weights as QuantizedWeights).linearCompute).toBe('float16');
    expect(weightsForEp(gpu.weights, 'webgpu')).toBe(gpu.weights);
    expect((weightsForEp(gpu.weights, 'cpu') as QuantizedWeights).linearCompute).toBe('float32');
    const q = await componentWeights({ base, choice: { precision: 'int4' }, device: 'cpu', roleOf, cache });
    const onCpu = weightsForEp(q.weights, 'cpu') as QuantizedWeights;
    expect(onCpu.quantizedKeys()).toEqual((q.weights as QuantizedWeights).quantizedKeys());
    expect(weightsForEp(base, 'cpu')).toBe(base);
    q.release();
  });
});
