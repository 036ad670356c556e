// Reading a Hugging Face `config.json` that sits beside a checkpoint: locating it, parsing it,
// and typed access to optional fields with errors that name the file and the field.
import fs from 'node:fs';
import path from 'node:path';

export type JsonObject = Record<string, unknown>;

/**
 * The `config.json` of a checkpoint: inside it when `checkpointPath` is a folder, beside it when
 * it is a `.safetensors` file or a `*.safetensors.index.json`. Null when there is none (or the
 * path does not exist, e.g. the combined path of overlaid weights).
 */
export function hfConfigBeside(checkpointPath: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(checkpointPath);
  } catch {
    return null;
  }
  const file = path.join(st.isDirectory() ? checkpointPath : path.dirname(checkpointPath), 'config.json');
  return fs.existsSync(file) ? file : null;
}

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A config.json with its path, for field access with precise errors. */
export class HfConfig {
  private constructor(readonly file: string, readonly data: JsonObject) {}

  static read(file: string, what: string): HfConfig {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`${file}: cannot read the ${what} config (${(e as Error).message})`);
    }
    if (!isObject(raw)) throw new Error(`${file}: the ${what} config is not a JSON object`);
    return new HfConfig(file, raw);
  }

  /** A nested object (e.g. `text_config` of a full CLIPModel config), or null when absent. */
  section(key: string): HfConfig | null {
    const v = this.data[key];
    if (v === undefined || v === null) return null;
    if (!isObject(v)) throw new Error(`${this.file}: "${key}" must be an object, got ${JSON.stringify(v)}`);
    return new HfConfig(`${this.file} (${key})`, v);
  }

  number(key: string, opts: { integer?: boolean; positive?: boolean } = {}): number | undefined {
    const v = this.data[key];
    if (v === undefined || v === null) return undefined;
    const ok = typeof v === 'number' && Number.isFinite(v)
      && (!opts.integer || Number.isInteger(v)) && (!opts.positive || v > 0);
    if (!ok) {
      const kind = `${opts.positive ? 'positive ' : ''}${opts.integer ? 'integer' : 'number'}`;
      throw new Error(`${this.file}: "${key}" must be a ${kind}, got ${JSON.stringify(v)}`);
    }
    return v as number;
  }

  string(key: string): string | undefined {
    const v = this.data[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw new Error(`${this.file}: "${key}" must be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  /** Throw when the config states a size that differs from what the weights imply. */
  expectSize(key: string, fromWeights: number, weightsWhat: string): void {
    const v = this.number(key, { integer: true, positive: true });
    if (v !== undefined && v !== fromWeights) {
      throw new Error(`${this.file}: "${key}" is ${v} but ${weightsWhat} gives ${fromWeights}; the config does not belong to these weights`);
    }
  }
}
