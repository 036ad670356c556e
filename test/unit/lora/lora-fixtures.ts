// Shared by the LoRA tests: paths of the golden tiny LoRA / base DiT, and modified copies of the LoRA.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Checkpoint, type TensorToWrite, writeSafetensorsFile } from '../../../electron/engine/runtime/safetensors.js';

export const LORA_DIR = path.resolve('test/fixtures/golden/uno/flux_lora');
export const LORA_FILE = path.join(LORA_DIR, 'dit_lora_tiny_bf16.safetensors');
export const BASE_FILE = path.resolve('test/fixtures/golden/uno/flux_dit/flux_tiny_bf16.safetensors');

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Raw tensors of a checkpoint (dtype preserved). */
export function rawTensors(file: string): Record<string, TensorToWrite> {
  const ck = Checkpoint.open(file);
  const out: Record<string, TensorToWrite> = {};
  for (const k of ck.keys()) {
    const info = ck.info(k);
    out[k] = { dtype: info.dtype, shape: info.shape, data: new Uint8Array(ck.readBytes(k)) };
  }
  return out;
}

/** Write a copy of the tiny LoRA after `edit` changed its tensors; returns the file path. */
export function editedLora(dir: string, name: string, edit: (t: Record<string, TensorToWrite>) => void): string {
  const t = rawTensors(LORA_FILE);
  edit(t);
  const file = path.join(dir, name);
  writeSafetensorsFile(file, t);
  return file;
}
