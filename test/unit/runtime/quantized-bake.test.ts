// Quantized bakes: a LoRA + int4 bake equals quantizeLinear of the float32 merge (not of a bf16
// rounded merge), the planner's roles decide what is rewritten, the cache key covers what the bake
// depends on, progress is reported, and fp16 marks GPU weights only.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Checkpoint, type TensorInfo, bf16ToF32, f32ToBf16Bits } from '../../../electron/engine/runtime/safetensors.js';
import { BakeCache } from '../../../electron/engine/runtime/bake-cache.js';
import { QUANT_LAYERS_METADATA, quantizedWeights } from '../../../electron/engine/runtime/quantized-bake.js';
import { quantizeLinear } from '../../../electron/engine/runtime/matmul-nbits.js';
import { chooseBlockSize, matMulNBitsBytes } from '../../../electron/engine/runtime/weight-bytes.js';
import { fluxDitMemoryModel } from '../../../electron/engine/runtime/network-memory-models.js';
import { mergeUnoLora } from '../../../electron/engine/lora/merge.js';
import { readUnoLora } from '../../../electron/engine/lora/uno-lora.js';
import { GOLDEN_DIR } from '../../helpers/golden.js';

const BASE = path.join(GOLDEN_DIR, 'uno/flux_dit/flux_tiny_bf16.safetensors');
const LORA = path.join(GOLDEN_DIR, 'uno/flux_lora/dit_lora_tiny_bf16.safetensors');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'umo-qbake-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const cache = BakeCache.open({ dir: tmp, maxBytes: 1 << 30 });

const bytesOf = (ck: Checkpoint, key: string) => Buffer.from(ck.readBytes(key));

describe('quantizedWeights', () => {
  const base = Checkpoint.open(BASE);
  const roleOf = fluxDitMemoryModel(base).roleOf;

  it('LoRA + int4: each target equals quantizeLinear of the float32 merge, not of a bf16-rounded merge', async () => {
    const progress: Array<[number, number, string]> = [];
    const q = await quantizedWeights({
      base, lora: { format: 'uno', file: LORA, scale: { mode: 'scale', scale: 1 } }, choice: { precision: 'int4' }, roleOf, cache,
      onProgress: (d, t, k) => progress.push([d, t, k]),
    });
    try {
      const bake = Checkpoint.open(q.entry!.path);
      const lora = readUnoLora(Checkpoint.open(LORA), base);
      let compared = 0;
      let bf16Differs = 0;
      for await (const m of mergeUnoLora(lora, Checkpoint.open(LORA), base, { mode: 'scale', scale: 1 })) {
        const info = q.weights.quantizedLinear(m.key);
        expect(info, `${m.key} is quantized`).not.toBeNull();
        const [n, k] = m.shape;
        const expected = quantizeLinear(m.data, n, k, 4, chooseBlockSize(k, 4));
        expect(bytesOf(bake, info!.qweightKey).equals(Buffer.from(expected.qweight)), `${m.key} codes`).toBe(true);
        expect(bytesOf(bake, info!.scalesKey).equals(Buffer.from(expected.scales.buffer)), `${m.key} scales`).toBe(true);
        expect(bytesOf(bake, info!.zeroPointsKey!).equals(Buffer.from(expected.zeroPoints!)), `${m.key} zero points`).toBe(true);
        // The same merge rounded to bf16 first quantizes differently somewhere: the test can tell.
        const rounded = bf16ToF32(Uint16Array.from(m.data, (x) => f32ToBf16Bits(x)));
        const viaBf16 = quantizeLinear(rounded, n, k, 4, chooseBlockSize(k, 4));
        if (!Buffer.from(viaBf16.scales.buffer).equals(Buffer.from(expected.scales.buffer))) bf16Differs++;
        compared++;
      }
      expect(compared).toBe(lora.targets.length);
      expect(bf16Differs).toBeGreaterThan(0);
      // Progress: one call per rewritten tensor, ending at the total.
      expect(progress.length).toBe(q.plan.length);
      expect(progress.at(-1)?.[0]).toBe(q.plan.length);
      expect(progress.every(([, t]) => t === q.plan.length)).toBe(true);
      // Layout metadata and byte counts as the planner prices them.
      const layers = JSON.parse(bake.files[0].metadata[QUANT_LAYERS_METADATA]) as Record<string, [number, number]>;
      let priced = 0;
      for (const [key, [bits, bs]] of Object.entries(layers)) {
        const [n, k] = base.shape(key);
        priced += matMulNBitsBytes(n, k, bits as 4, 4, bs).total;
      }
      let stored = 0;
      for (const key of bake.keys()) stored += bake.info(key).byteLength;
      expect(stored).toBe(priced);
    } finally {
      q.release();
    }
  });

  it('rewrites exactly the planner roles: matmul at the precision, modulation only when asked (int8)', async () => {
    const plain = await quantizedWeights({ base, choice: { precision: 'int4' }, roleOf, cache });
    const withMod = await quantizedWeights({ base, choice: { precision: 'int4', quantizeModulation: true }, roleOf, cache });
    try {
      const role = (k: string) => roleOf(k, base.info(k) as TensorInfo);
      const matmuls = base.keys().filter((k) => role(k) === 'matmul' && base.shape(k).length === 2).sort();
      const mods = base.keys().filter((k) => role(k) === 'modulation').sort();
      expect(mods.length).toBeGreaterThan(0);
      expect(plain.weights.quantizedKeys().sort()).toEqual(matmuls);
      expect(withMod.weights.quantizedKeys().sort()).toEqual([...matmuls, ...mods].sort());
      for (const k of mods) expect(withMod.weights.quantizedLinear(k)!.bits).toBe(8);
      for (const k of matmuls) expect(withMod.weights.quantizedLinear(k)!.bits).toBe(4);
      // Everything else is still read from the base file.
      expect(plain.weights.info('img_in.weight').file).toBe(fs.realpathSync(BASE));
      expect(plain.entry!.key).not.toBe(withMod.entry!.key);
    } finally {
      plain.release();
      withMod.release();
    }
  });

  it('the cache key covers bits, LoRA scale and modulation; the same request is a cache hit', async () => {
    const keys = new Set<string>();
    const requests = [
      { choice: { precision: 'int4' as const } },
      { choice: { precision: 'int8' as const } },
      { choice: { precision: 'int4' as const }, lora: { format: 'uno' as const, file: LORA, scale: { mode: 'scale' as const, scale: 0.5 } } },
      { choice: { precision: 'int4' as const }, lora: { format: 'uno' as const, file: LORA, scale: { mode: 'scale' as const, scale: 1 } } },
    ];
    for (const r of requests) {
      const q = await quantizedWeights({ base, roleOf, cache, ...r });
      keys.add(q.entry!.key);
      q.release();
      const again = await quantizedWeights({ base, roleOf, cache, ...r });
      expect(again.entry!.hit).toBe(true);
      expect(again.entry!.key).toBe(q.entry!.key);
      again.release();
    }
    expect(keys.size).toBe(requests.length);
  });

  it('fp16 bakes nothing and runs fp16 Linears only on GPUs; GPU int8/int4 bakes run their float Linears in fp16 too', async () => {
    const gpu = await quantizedWeights({ base, choice: { precision: 'fp16' }, roleOf, cache, device: 'gpu' });
    const cpu = await quantizedWeights({ base, choice: { precision: 'fp16' }, roleOf, cache, device: 'cpu' });
    expect(gpu.entry).toBeNull();
    expect(gpu.weights.linearCompute).toBe('float16');
    expect(cpu.weights.linearCompute).toBe('float32');
    expect(gpu.weights.quantizedLinear('double_blocks.0.img_attn.qkv.weight')).toBeNull();
    const gpuInt4 = await quantizedWeights({ base, choice: { precision: 'int4' }, roleOf, cache, device: 'gpu' });
    expect(gpuInt4.weights.linearCompute).toBe('float16');
    expect(gpuInt4.weights.quantizedLinear('double_blocks.0.img_attn.qkv.weight')?.bits).toBe(4);
    gpuInt4.release();
    const gpuFp32 = await quantizedWeights({ base, choice: { precision: 'fp32' }, roleOf, cache, device: 'gpu' });
    expect(gpuFp32.weights.linearCompute).toBe('float32');
  });
});
