import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Checkpoint, bf16ToF32, f32ToF16Bits } from '../../../electron/engine/runtime/safetensors.js';
import { LoraFormatError, readUnoLora } from '../../../electron/engine/lora/uno-lora.js';
import { BASE_FILE, LORA_DIR, LORA_FILE, editedLora, tempDir } from './lora-fixtures.js';

const dir = tempDir('uno-lora-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const base = Checkpoint.open(BASE_FILE);
const config = JSON.parse(fs.readFileSync(`${LORA_DIR}/config.json`, 'utf8')) as { rank: number; keys: string[]; shapes: Record<string, number[]> };

function errorOf(file: string): LoraFormatError {
  try {
    readUnoLora(Checkpoint.open(file), base);
  } catch (e) {
    expect(e).toBeInstanceOf(LoraFormatError);
    return e as LoraFormatError;
  }
  throw new Error(`expected ${file} to be rejected`);
}

describe('readUnoLora', () => {
  it('accepts the golden tiny LoRA and reads rank, block counts and widths from the checkpoints', () => {
    const lora = readUnoLora(Checkpoint.open(LORA_FILE), base);
    expect(lora.rank).toBe(config.rank);
    expect(lora.doubleBlocks).toBe(2);
    expect(lora.singleBlocks).toBe(2);
    expect(lora.hidden).toBe(64);
    expect(lora.mlpHidden).toBe(256);
    expect(lora.dtypes).toEqual(['BF16']);
    expect(lora.targets.length * 2).toBe(config.keys.length);
    const keys = lora.targets.flatMap((t) => [t.downKey, t.upKey]).sort();
    expect(keys).toEqual([...config.keys].sort());
    for (const t of lora.targets) {
      expect(config.shapes[t.downKey]).toEqual([config.rank, t.inFeatures]);
      expect(config.shapes[t.upKey]).toEqual([t.rowEnd - t.rowStart, config.rank]);
      expect(base.shape(t.baseKey)).toEqual(t.baseShape);
    }
    const l1 = lora.targets.find((t) => t.baseKey === 'single_blocks.0.linear1.weight')!;
    expect([l1.rowStart, l1.rowEnd, l1.baseShape[0]]).toEqual([0, 192, 448]);
    const l2 = lora.targets.find((t) => t.baseKey === 'single_blocks.1.linear2.weight')!;
    expect(l2.inFeatures).toBe(320);
    const txtQkv = lora.targets.find((t) => t.loraModule === 'double_blocks.1.processor.qkv_lora2')!;
    expect(txtQkv.baseKey).toBe('double_blocks.1.txt_attn.qkv.weight');
  });

  it('names the file and the key of a missing tensor', () => {
    const file = editedLora(dir, 'missing.safetensors', (t) => { delete t['single_blocks.1.processor.qkv_lora.up.weight']; });
    const e = errorOf(file);
    expect(e.message).toContain(file);
    expect(e.problems).toEqual(['missing key "single_blocks.1.processor.qkv_lora.up.weight" (expected shape [192, 4])']);
  });

  it('rejects unexpected keys (extra blocks, foreign names) instead of ignoring them', () => {
    const file = editedLora(dir, 'unexpected.safetensors', (t) => {
      t['double_blocks.2.processor.qkv_lora1.down.weight'] = t['double_blocks.0.processor.qkv_lora1.down.weight'];
      t['single_blocks.0.processor.qkv_lora.bias'] = t['double_blocks.0.processor.qkv_lora1.down.weight'];
    });
    const e = errorOf(file);
    expect(e.message).toContain(file);
    expect(e.problems).toEqual([
      'unexpected key "double_blocks.2.processor.qkv_lora1.down.weight": block 2 does not exist (the base has 2 double blocks)',
      'unexpected key "single_blocks.0.processor.qkv_lora.bias": not a UNO processor LoRA key for this model',
    ]);
  });

  it('rejects a pair whose rank differs from the others', () => {
    const file = editedLora(dir, 'rank.safetensors', (t) => {
      t['double_blocks.1.processor.proj_lora2.down.weight'] = { dtype: 'BF16', shape: [8, 64], data: new Uint16Array(8 * 64) };
      t['double_blocks.1.processor.proj_lora2.up.weight'] = { dtype: 'BF16', shape: [64, 8], data: new Uint16Array(64 * 8) };
    });
    const e = errorOf(file);
    expect(e.problems).toEqual([
      '"double_blocks.1.processor.proj_lora2.down.weight" has rank 8 (shape [8, 64]), but the other pairs have rank 4',
      '"double_blocks.1.processor.proj_lora2.up.weight" has rank 8 (shape [64, 8]), but the other pairs have rank 4',
    ]);
  });

  it('rejects a factor whose width does not match the base layer', () => {
    const file = editedLora(dir, 'width.safetensors', (t) => {
      t['single_blocks.0.processor.proj_lora.down.weight'] = { dtype: 'BF16', shape: [4, 64], data: new Uint16Array(4 * 64) };
    });
    const e = errorOf(file);
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]).toBe('"single_blocks.0.processor.proj_lora.down.weight" has shape [4, 64], expected [4, 320] (base "single_blocks.0.linear2.weight" is [64, 320])');
  });

  it('rejects non-float dtypes', () => {
    const file = editedLora(dir, 'dtype.safetensors', (t) => {
      t['double_blocks.0.processor.qkv_lora1.up.weight'] = { dtype: 'I32', shape: [192, 4], data: new Int32Array(192 * 4) };
    });
    expect(errorOf(file).problems).toEqual(['"double_blocks.0.processor.qkv_lora1.up.weight" has dtype I32; LoRA factors must be BF16, F16, F32']);
  });

  it('explains a LoRA in another key convention', () => {
    const file = editedLora(dir, 'peft.safetensors', (t) => {
      for (const k of Object.keys(t)) {
        t[`transformer.${k.replace('.down.', '.lora_A.').replace('.up.', '.lora_B.')}`] = t[k];
        delete t[k];
      }
    });
    const e = errorOf(file);
    expect(e.problems).toEqual([
      'keys use PEFT/diffusers names (lora_A/lora_B); this loader expects UNO processor keys (…processor.qkv_lora1.down.weight)',
      '24 unexpected keys, e.g. "transformer.double_blocks.0.processor.proj_lora1.lora_A.weight"',
      'none of the 24 expected UNO processor keys is present (e.g. "double_blocks.0.processor.qkv_lora1.down.weight")',
    ]);
  });

  it('accepts F16 and F32 LoRA files', () => {
    for (const dtype of ['F16', 'F32'] as const) {
      const file = editedLora(dir, `${dtype}.safetensors`, (t) => {
        for (const k of Object.keys(t)) {
          const f = bf16ToF32(new Uint16Array(t[k].data.buffer as ArrayBuffer, t[k].data.byteOffset, t[k].data.byteLength / 2));
          t[k] = { dtype, shape: t[k].shape, data: dtype === 'F32' ? f : Uint16Array.from(f, (x) => f32ToF16Bits(x)) };
        }
      });
      const lora = readUnoLora(Checkpoint.open(file), base);
      expect(lora.dtypes).toEqual([dtype]);
      expect(lora.targets[0].downDtype).toBe(dtype);
    }
  });

  it('refuses a base that is not a BFL FLUX DiT', () => {
    const notFlux = Checkpoint.open(LORA_FILE);
    expect(() => readUnoLora(notFlux, notFlux)).toThrow(/not a FLUX DiT with BFL key names/);
  });
});
