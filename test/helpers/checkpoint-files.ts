// Building modified checkpoints in tests: copy a checkpoint's tensors as stored, and write a
// model folder (one safetensors file plus an optional config.json).
import fs from 'node:fs';
import path from 'node:path';
import { type Checkpoint, type TensorToWrite, writeSafetensorsFile } from '../../electron/engine/runtime/safetensors.js';

/** Every tensor of a checkpoint in its stored dtype (bytes as on disk). */
export function rawTensors(ck: Checkpoint): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  for (const k of ck.keys()) {
    const info = ck.info(k);
    out[k] = { dtype: info.dtype, shape: info.shape, data: ck.readBytes(k) };
  }
  return out;
}

/** `<parent>/<name>/<fileName>` holding `tensors`, plus `config.json` when given; returns the folder. */
export function writeCheckpointFolder(parent: string, name: string, tensors: Record<string, TensorToWrite>,
  config?: unknown, fileName = 'model.safetensors'): string {
  const dir = path.join(parent, name);
  fs.mkdirSync(dir);
  writeSafetensorsFile(path.join(dir, fileName), tensors);
  if (config !== undefined) fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}
