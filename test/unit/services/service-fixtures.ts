// Shared fixtures for the services and web-server tests: temp data folders, real images, tiny LoRA files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { encodeSafetensors } from '../../../electron/engine/runtime/safetensors.js';

export const WRITING_ENGINE = path.resolve('test/fixtures/engine-fakes/writing-engine.mjs');

export function tempDir(prefix = 'umo-services-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A real PNG of the given size (a colour gradient so its hash differs per size). */
export async function pngBytes(width = 8, height = 6, alpha = false): Promise<Buffer> {
  const ch = alpha ? 4 : 3;
  const data = Buffer.alloc(width * height * ch);
  for (let i = 0; i < width * height; i++) {
    data[i * ch] = (i * 37) & 255;
    data[i * ch + 1] = (i * 11) & 255;
    data[i * ch + 2] = 200;
    if (alpha) data[i * ch + 3] = i % 2 ? 255 : 0;
  }
  return sharp(data, { raw: { width, height, channels: ch } }).png().toBuffer();
}

function f32(n: number): Float32Array {
  return new Float32Array(n).map((_, i) => (i % 7) / 7);
}

/** A small UNO processor LoRA (rank 2, hidden 8) with the real key layout. */
export function unoLoraBytes(opts: { dropUp?: boolean } = {}): Buffer {
  const t: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const m of ['double_blocks.0.processor.qkv_lora1', 'double_blocks.0.processor.proj_lora1']) {
    t[`${m}.down.weight`] = { dtype: 'F32', shape: [2, 8], data: f32(16) };
    if (!(opts.dropUp && m.endsWith('proj_lora1'))) t[`${m}.up.weight`] = { dtype: 'F32', shape: [8, 2], data: f32(16) };
  }
  return encodeSafetensors(t);
}

/** A small PEFT LoRA in OmniGen2's key style. */
export function peftLoraBytes(): Buffer {
  return encodeSafetensors({
    'layers.0.attn.to_q.lora_A.default.weight': { dtype: 'F32', shape: [2, 8], data: f32(16) },
    'layers.0.attn.to_q.lora_B.default.weight': { dtype: 'F32', shape: [8, 2], data: f32(16) },
  });
}

/** A plain model checkpoint (no LoRA keys). */
export function modelBytes(): Buffer {
  return encodeSafetensors({ 'double_blocks.0.img_attn.qkv.weight': { dtype: 'F32', shape: [2, 2], data: f32(4) } });
}
