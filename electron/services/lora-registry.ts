// Known LoRA checkpoints (the LoRA menu and picker): adding one checks that the file is a
// safetensors file whose keys have the layout of the backbone's LoRA format (UNO processor LoRA
// for UNO, PEFT for OmniGen2) — the full check against the base model happens when the engine
// bakes it. Keeps the recent list (most recent first, at most 20) and the active LoRA per backbone
// in the settings, so the menu, the UI and the engine all read the same state.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BackboneId } from '../../shared/model-manifests.js';
import type { LoraEntry, Settings } from '../../shared/settings.js';
import { SafetensorsFile } from '../engine/runtime/safetensors.js';
import { displayName } from './reference-store.js';
import { UserInputError } from './service-errors.js';
import type { SettingsStore } from './settings-service.js';

export const MAX_RECENT_LORAS = 20;

const UNO_LORA_KEY = /^(double_blocks|single_blocks)\.\d+\.processor\.[a-z_]*lora\d*\.(down|up)\.weight$/;
const PEFT_LORA_KEY = /\.lora_([AB])(\.[A-Za-z0-9_-]+)?\.weight$/;

export const LORA_FORMAT_TEXT: Record<BackboneId, string> = {
  uno: 'a UNO/UMO processor LoRA (keys like "double_blocks.0.processor.qkv_lora1.down.weight")',
  omnigen2: 'an OmniGen2 PEFT LoRA (keys like "layers.0.attn.to_q.lora_A.default.weight")',
};

const LORA_FORMAT_NAME: Record<BackboneId, string> = { uno: 'a UNO/UMO processor LoRA', omnigen2: 'an OmniGen2 PEFT LoRA' };

export interface LoraCheck {
  tensors: number;
  /** Rank of the first LoRA pair (rows of a down / lora_A matrix). */
  rank: number;
}

function formatOf(keys: readonly string[]): BackboneId | null {
  if (keys.some((k) => UNO_LORA_KEY.test(k))) return 'uno';
  if (keys.some((k) => PEFT_LORA_KEY.test(k))) return 'omnigen2';
  return null;
}

/** Check a parsed safetensors header against a backbone's LoRA key layout. */
export function checkLoraKeys(label: string, sf: SafetensorsFile, backbone: BackboneId): LoraCheck {
  const keys = [...sf.tensors.keys()];
  const found = formatOf(keys);
  const sample = keys.slice(0, 3).map((k) => `"${k}"`).join(', ') || 'no tensors at all';
  if (found !== backbone) {
    const why = found
      ? `it is ${LORA_FORMAT_NAME[found]}, which is for the ${found === 'uno' ? 'UNO' : 'OmniGen2'} backbone`
      : `its keys (${sample}${keys.length > 3 ? ', …' : ''}) are not LoRA keys`;
    throw new UserInputError(`${label}: not ${LORA_FORMAT_TEXT[backbone]}; ${why}`);
  }
  const problems: string[] = [];
  let rank = 0;
  if (backbone === 'uno') {
    const loraKeys = keys.filter((k) => UNO_LORA_KEY.test(k));
    for (const k of loraKeys.filter((x) => x.endsWith('.down.weight'))) {
      const up = k.replace(/\.down\.weight$/, '.up.weight');
      if (!sf.tensors.has(up)) problems.push(`"${k}" has no matching "${up}"`);
      const shape = sf.tensors.get(k)!.shape;
      if (shape.length !== 2) problems.push(`"${k}" has shape [${shape.join(', ')}], expected a matrix`);
      else if (!rank) rank = shape[0];
    }
    for (const k of loraKeys.filter((x) => x.endsWith('.up.weight'))) {
      const down = k.replace(/\.up\.weight$/, '.down.weight');
      if (!sf.tensors.has(down)) problems.push(`"${k}" has no matching "${down}"`);
    }
  } else {
    for (const k of keys.filter((x) => PEFT_LORA_KEY.test(x))) {
      const m = PEFT_LORA_KEY.exec(k)!;
      const other = k.replace(PEFT_LORA_KEY, `.lora_${m[1] === 'A' ? 'B' : 'A'}${m[2] ?? ''}.weight`);
      if (!sf.tensors.has(other)) problems.push(`"${k}" has no matching "${other}"`);
      const shape = sf.tensors.get(k)!.shape;
      if (shape.length !== 2) problems.push(`"${k}" has shape [${shape.join(', ')}], expected a matrix`);
      else if (m[1] === 'A' && !rank) rank = shape[0];
    }
  }
  for (const info of sf.tensors.values()) {
    if (!['BF16', 'F16', 'F32'].includes(info.dtype)) problems.push(`"${info.name}" has dtype ${info.dtype}, expected BF16, F16 or F32`);
  }
  if (problems.length) {
    const shown = problems.slice(0, 5).join('; ');
    throw new UserInputError(`${label}: incomplete or malformed LoRA (${problems.length} problem${problems.length === 1 ? '' : 's'}): ${shown}${problems.length > 5 ? '; …' : ''}`, problems);
  }
  return { tensors: keys.length, rank };
}

/** Open a LoRA file and check its format; throws a UserInputError naming the file. */
export function validateLoraFile(file: string, backbone: BackboneId, label = path.basename(file)): LoraCheck {
  if (!file.toLowerCase().endsWith('.safetensors')) {
    throw new UserInputError(`${label}: LoRA checkpoints must be .safetensors files`);
  }
  let sf: SafetensorsFile;
  try {
    sf = SafetensorsFile.open(file);
  } catch (e) {
    const msg = (e as Error).message.startsWith(`${file}: `) ? (e as Error).message.slice(file.length + 2) : (e as Error).message;
    throw new UserInputError(`${label}: not a readable safetensors file (${msg})`);
  }
  return checkLoraKeys(label, sf, backbone);
}

export interface LoraRegistryOptions {
  settings: SettingsStore;
  /** Where uploaded LoRA files are stored (`<dataDir>/loras`). */
  uploadDir: string;
}

export class LoraRegistry {
  constructor(private readonly opts: LoraRegistryOptions) {}

  list(backbone?: BackboneId): LoraEntry[] {
    const all = this.opts.settings.get().recentLoras;
    return backbone ? all.filter((l) => l.backbone === backbone) : all;
  }

  active(backbone: BackboneId): LoraEntry | null {
    const p = this.opts.settings.get().activeLora[backbone];
    return p ? this.list(backbone).find((l) => l.path === p) ?? null : null;
  }

  /**
   * Make LoRAs found with the models (the manifest's UNO/UMO LoRA files) known: appended to the
   * list when absent, without changing the user's order or the active choice.
   */
  rememberKnown(entries: readonly LoraEntry[]): void {
    const s = this.opts.settings.get();
    const missing = entries.filter((e) => !s.recentLoras.some((l) => l.path === e.path));
    if (missing.length === 0) return;
    const room = MAX_RECENT_LORAS - s.recentLoras.length;
    if (room <= 0) return;
    this.opts.settings.update({ recentLoras: [...s.recentLoras, ...missing.slice(0, room)] });
  }

  /** Validate a LoRA file on disk and put it first in the recent list. */
  addFile(backbone: BackboneId, file: string, label?: string): LoraEntry {
    const abs = path.resolve(file);
    if (!fs.existsSync(abs)) throw new UserInputError(`${label ?? path.basename(abs)}: file not found (${abs})`);
    validateLoraFile(abs, backbone, label ?? path.basename(abs));
    return this.remember({ path: abs, label: displayName(label ?? path.basename(abs)), backbone });
  }

  /** Validate uploaded bytes, store them under the upload folder, and remember the file. */
  async addBytes(backbone: BackboneId, name: string, bytes: Uint8Array): Promise<LoraEntry> {
    const tmp = this.tempPath();
    fs.mkdirSync(this.opts.uploadDir, { recursive: true });
    fs.writeFileSync(tmp, bytes);
    return this.addUploadedFile(backbone, name, tmp);
  }

  /** A fresh temp path in the upload folder (the web server streams large uploads into it). */
  tempPath(): string {
    return path.join(this.opts.uploadDir, `.upload-${process.pid}-${crypto.randomBytes(6).toString('hex')}.partial`);
  }

  /** Validate a completed upload at `tmp` (consumed: moved into place or deleted). */
  addUploadedFile(backbone: BackboneId, name: string, tmp: string): LoraEntry {
    const label = displayName(name);
    try {
      if (!label.toLowerCase().endsWith('.safetensors')) throw new UserInputError(`${label}: LoRA checkpoints must be .safetensors files`);
      let sf: SafetensorsFile;
      try {
        sf = SafetensorsFile.open(tmp);
      } catch (e) {
        const msg = (e as Error).message.startsWith(`${tmp}: `) ? (e as Error).message.slice(tmp.length + 2) : (e as Error).message;
        throw new UserInputError(`${label}: not a readable safetensors file (${msg})`);
      }
      checkLoraKeys(label, sf, backbone);
      const dest = this.destinationFor(label, tmp);
      if (fs.existsSync(dest)) fs.rmSync(tmp, { force: true });
      else fs.renameSync(tmp, dest);
      return this.remember({ path: dest, label, backbone });
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  /** Make a known LoRA (or none) the active one for a backbone. */
  setActive(backbone: BackboneId, p: string | null): Settings {
    const s = this.opts.settings.get();
    if (p === null) return this.opts.settings.update({ activeLora: { ...s.activeLora, [backbone]: null } });
    const abs = path.resolve(p);
    let entry = s.recentLoras.find((l) => l.path === abs);
    if (!entry) entry = this.addFile(backbone, abs);
    if (entry.backbone !== backbone) {
      throw new UserInputError(`${entry.label} is a LoRA for the ${entry.backbone === 'uno' ? 'UNO' : 'OmniGen2'} backbone, not for ${backbone === 'uno' ? 'UNO' : 'OmniGen2'}`);
    }
    if (!fs.existsSync(abs)) throw new UserInputError(`${entry.label}: the LoRA file is gone (${abs}); add it again`);
    const cur = this.opts.settings.get();
    return this.opts.settings.update({ activeLora: { ...cur.activeLora, [backbone]: abs } });
  }

  /** Put an entry first in the recent list (deduplicated by path, at most MAX_RECENT_LORAS). */
  private remember(entry: LoraEntry): LoraEntry {
    const s = this.opts.settings.get();
    const rest = s.recentLoras.filter((l) => l.path !== entry.path);
    const recentLoras = [entry, ...rest].slice(0, MAX_RECENT_LORAS);
    // An active LoRA that fell off the list is no longer active.
    const activeLora = { ...s.activeLora };
    for (const b of ['uno', 'omnigen2'] as const) {
      if (activeLora[b] && !recentLoras.some((l) => l.path === activeLora[b])) activeLora[b] = null;
    }
    this.opts.settings.update({ recentLoras, activeLora });
    return entry;
  }

  /** `<uploadDir>/<name>`, or `<stem>-<hash>.safetensors` when a different file already has that name. */
  private destinationFor(label: string, tmp: string): string {
    const safe = label.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '') || 'lora.safetensors';
    const dest = path.join(this.opts.uploadDir, safe);
    if (!fs.existsSync(dest)) return dest;
    const h = sha256FileSync(tmp);
    if (fs.statSync(dest).size === fs.statSync(tmp).size && sha256FileSync(dest) === h) return dest;
    return path.join(this.opts.uploadDir, `${safe.replace(/\.safetensors$/i, '')}-${h.slice(0, 12)}.safetensors`);
  }
}

/** sha256 of a file, read in chunks (LoRA files are gigabytes). */
export function sha256FileSync(file: string): string {
  const h = crypto.createHash('sha256');
  const buf = Buffer.alloc(8 * 2 ** 20);
  const fd = fs.openSync(file, 'r');
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}
