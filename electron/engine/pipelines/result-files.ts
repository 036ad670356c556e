// Output file names and the text metadata every result PNG carries (all parameters, model and
// LoRA identities, reference image hashes, app version), readable back by the app.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { GenerateRequest } from '../../../shared/backbone-params.js';
import { SafetensorsFile } from '../runtime/safetensors.js';

/** PNG text key holding the full parameter record as JSON. */
export const METADATA_JSON_KEY = 'umo-studio';

const fingerprintCache = new Map<string, string>();

/**
 * Identity of a model file without reading gigabytes: sha256 of its safetensors header and size
 * (any change of tensors, shapes or dtypes changes it). Cached per path + size + mtime.
 */
export function fileFingerprint(file: string): string {
  const real = fs.realpathSync(file);
  const st = fs.statSync(real);
  const cacheKey = `${real}:${st.size}:${st.mtimeMs}`;
  const hit = fingerprintCache.get(cacheKey);
  if (hit) return hit;
  const h = crypto.createHash('sha256');
  const sf = SafetensorsFile.open(real);
  const fd = fs.openSync(real, 'r');
  try {
    const header = Buffer.alloc(8 + sf.headerLength);
    fs.readSync(fd, header, 0, header.length, 0);
    h.update(header);
  } finally {
    fs.closeSync(fd);
  }
  h.update(String(st.size));
  const out = `header-sha256:${h.digest('hex').slice(0, 16)} size:${st.size}`;
  fingerprintCache.set(cacheKey, out);
  return out;
}

/** Fingerprint of a model component (a file, or the safetensors files of a folder). */
export function componentFingerprint(p: string): string {
  if (!fs.statSync(p).isDirectory()) return fileFingerprint(p);
  const files = fs.readdirSync(p).filter((f) => f.endsWith('.safetensors')).sort();
  return files.map((f) => `${f} ${fileFingerprint(path.join(p, f))}`).join('; ');
}

export function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** A new, unused file name in `dir`: `umo-<date>-<time>-<seed>.png`. */
export function resultFileName(dir: string, seed: number, now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  for (let k = 0; ; k++) {
    const name = `umo-${stamp}-${seed}${k ? `-${k}` : ''}.png`;
    if (!fs.existsSync(path.join(dir, name))) return name;
  }
}

export interface ResultMetadataInput {
  backbone: 'uno' | 'omnigen2';
  request: GenerateRequest;
  seed: number;
  width: number;
  height: number;
  ep: string;
  modelFiles: Record<string, string>;
  lora: string | null;
  appVersion: string;
  demo: boolean;
  /** Precision per component as run (e.g. "dit int4, t5 fp32, clip fp32, vae fp32"): quantization changes the pixels. */
  precisions?: string;
}

/** The text chunks of a result PNG: readable keys plus the full record as JSON. */
export async function buildResultMetadata(m: ResultMetadataInput): Promise<Record<string, string>> {
  const models: Record<string, string> = {};
  for (const [id, p] of Object.entries(m.modelFiles)) {
    if (id.endsWith('_lora')) continue;
    models[id] = `${path.basename(p)} ${componentFingerprint(p)}`;
  }
  const references = m.request.references.map((r) => ({ name: path.basename(r), sha256: sha256File(r) }));
  const { references: _refs, lora: _lora, ...params } = m.request;
  const record = {
    app: 'UMO Studio',
    appVersion: m.appVersion,
    ...params,
    seed: m.seed,
    width: m.width,
    height: m.height,
    executionProvider: m.ep,
    ...(m.precisions ? { precisions: m.precisions } : {}),
    lora: m.lora ? { file: path.basename(m.lora), sha256: sha256File(m.lora), scale: m.request.lora.scale } : null,
    models,
    references,
    demoModel: m.demo,
  };
  const out: Record<string, string> = {
    Software: `UMO Studio ${m.appVersion}`,
    prompt: m.request.prompt,
    seed: String(m.seed),
    backbone: m.backbone,
    size: `${m.width}x${m.height}`,
    steps: String(m.request.steps),
    lora: m.lora ? `${path.basename(m.lora)} @ ${m.request.lora.scale}` : 'none',
    [METADATA_JSON_KEY]: JSON.stringify(record),
    /** The request with the seed actually used: what "reuse settings" fills the form from. */
    request: JSON.stringify({ ...m.request, seed: m.seed }),
  };
  if (m.precisions) out.precisions = m.precisions;
  if ('guidance' in m.request) out.guidance = String(m.request.guidance);
  if (m.demo) out.Comment = 'Generated with the built-in demo model (random weights): proves the install works, not a picture of anything.';
  return out;
}
