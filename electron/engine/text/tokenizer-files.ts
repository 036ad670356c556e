// Reading the files of a Hugging Face tokenizer folder (tokenizer.json, tokenizer_config.json,
// special_tokens_map.json) with errors that name the file and what was expected, and building a
// `@huggingface/tokenizers` Tokenizer from a tokenizer.json object.
//
// One deliberate change to the library: its `Precompiled` normalizer ignores the charsmap and
// approximates it with NFKC. Every Precompiled normalizer is replaced here by the exact
// SentencePiece charsmap (`PrecompiledCharsmap`), so T5's nmt_nfkc rules are applied as the
// sentencepiece library applies them.
import fs from 'node:fs';
import path from 'node:path';
import * as hf from '@huggingface/tokenizers';
import { PrecompiledCharsmap } from './precompiled-charsmap.js';

export type JsonObject = Record<string, unknown>;

// The package's .d.ts files use extensionless relative imports, which do not resolve under
// NodeNext (everything becomes `any`), so the parts used here are typed locally.
interface HfNormalizer {
  config: JsonObject;
  normalize(text: string): string;
}
interface HfSequenceNormalizer extends HfNormalizer {
  normalizers: Array<HfNormalizer | null>;
}
type HfNormalizerClass = abstract new (config: JsonObject) => HfNormalizer;

/** A `@huggingface/tokenizers` Tokenizer (the members this project uses). */
export interface HfTokenizer {
  normalizer: HfNormalizer | null;
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[]; tokens: string[] };
  tokenize(text: string, options?: { add_special_tokens?: boolean }): string[];
  token_to_id(token: string): number | undefined;
}

const lib = hf as unknown as {
  Tokenizer: new (tokenizerJson: JsonObject, config: JsonObject) => HfTokenizer;
  Normalizer: HfNormalizerClass;
  PrecompiledNormalizer: HfNormalizerClass;
  SequenceNormalizer: HfNormalizerClass;
};

/** A tokenizer file that is missing, unreadable or does not hold what was expected. */
export class TokenizerFileError extends Error {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'TokenizerFileError';
  }
}

export function isJsonObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Read a whole file, turning "not found" and I/O failures into a TokenizerFileError. */
export function readTokenizerFile(file: string, expected: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'file not found' : `cannot read (${err.message})`;
    throw new TokenizerFileError(file, `${why}; expected ${expected}`);
  }
}

/** Parse a JSON file that must hold an object. */
export function readJsonObject(file: string, expected: string): JsonObject {
  const text = readTokenizerFile(file, expected).toString('utf8');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new TokenizerFileError(file, `not valid JSON (${(e as Error).message}); expected ${expected}`);
  }
  if (!isJsonObject(v)) throw new TokenizerFileError(file, `expected ${expected} (a JSON object), got ${Array.isArray(v) ? 'an array' : typeof v}`);
  return v;
}

/**
 * The tokenizer settings of a folder as `from_pretrained` merges them: tokenizer_config.json,
 * then special_tokens_map.json on top (its entries win). Missing files give an empty object.
 */
export function readTokenizerSettings(dir: string): { settings: JsonObject; files: string[] } {
  const settings: JsonObject = {};
  const files: string[] = [];
  for (const name of ['tokenizer_config.json', 'special_tokens_map.json']) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) continue;
    Object.assign(settings, readJsonObject(file, `the ${name.replace('.json', '')} of a Hugging Face tokenizer`));
    files.push(file);
  }
  return { settings, files };
}

/**
 * The text of a special-token setting: either a plain string or an AddedToken object
 * (`{"content": "...", ...}`, as newer tokenizer_config.json files write them). Undefined when
 * the setting is absent or null.
 */
export function specialTokenText(settings: JsonObject, key: string, where: string): string | undefined {
  const v = settings[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (isJsonObject(v) && typeof v.content === 'string') return v.content;
  throw new TokenizerFileError(where, `"${key}" must be a token string or an object with a "content" string, got ${JSON.stringify(v)}`);
}

/** The `Normalizer` that applies a SentencePiece precompiled charsmap exactly. */
class CharsmapNormalizer extends lib.Normalizer {
  private charsmap: PrecompiledCharsmap | null = null;

  static create(charsmap: PrecompiledCharsmap | null): CharsmapNormalizer {
    const n = new CharsmapNormalizer({ type: 'Precompiled', precompiled_charsmap: '' });
    n.charsmap = charsmap;
    return n;
  }

  override normalize(text: string): string {
    return this.charsmap ? this.charsmap.normalize(text) : text;
  }
}

function isA(n: HfNormalizer | null, cls: HfNormalizerClass): n is HfNormalizer {
  return n !== null && n instanceof cls;
}

function exactNormalizer(n: HfNormalizer | null, file: string): HfNormalizer | null {
  if (isA(n, lib.PrecompiledNormalizer)) {
    const b64 = n.config.precompiled_charsmap;
    if (b64 === undefined || b64 === null || b64 === '') return CharsmapNormalizer.create(null);
    if (typeof b64 !== 'string') throw new TokenizerFileError(file, 'normalizer "Precompiled": "precompiled_charsmap" must be a base64 string');
    return CharsmapNormalizer.create(PrecompiledCharsmap.parse(Buffer.from(b64, 'base64'), `${file} (precompiled_charsmap)`));
  }
  if (isA(n, lib.SequenceNormalizer)) {
    const seq = n as HfSequenceNormalizer;
    seq.normalizers = seq.normalizers.map((m) => exactNormalizer(m, file));
  }
  return n;
}

/**
 * Old tokenizer.json files describe Metaspace with `add_prefix_space` instead of
 * `prepend_scheme`; the library only reads the latter (default "always"), so translate.
 */
function upgradeMetaspace(cfg: unknown): void {
  if (!isJsonObject(cfg)) return;
  if (cfg.type === 'Metaspace' && cfg.prepend_scheme === undefined && cfg.add_prefix_space === false) {
    cfg.prepend_scheme = 'never';
  }
  if (Array.isArray(cfg.pretokenizers)) cfg.pretokenizers.forEach(upgradeMetaspace);
}

/**
 * Build a Tokenizer from a tokenizer.json object (read from `file`, or converted from other
 * files, in which case `file` names those). `modelType` is the model the caller can use.
 */
export function createHfTokenizer(json: JsonObject, file: string, modelType: 'Unigram' | 'BPE', eosToken: string): HfTokenizer {
  const model = json.model;
  if (!isJsonObject(model)) throw new TokenizerFileError(file, 'has no "model" object; expected a Hugging Face tokenizers tokenizer.json');
  const type = model.type ?? (Array.isArray(model.vocab) ? 'Unigram' : isJsonObject(model.vocab) && 'merges' in model ? 'BPE' : undefined);
  if (type !== modelType) {
    throw new TokenizerFileError(file, `model type is ${JSON.stringify(type ?? null)}; expected a ${modelType} model`);
  }
  if (modelType === 'Unigram') {
    if (!Array.isArray(model.vocab) || model.vocab.length === 0) throw new TokenizerFileError(file, '"model.vocab" must be a non-empty list of [piece, score] pairs');
    const bad = model.vocab.findIndex((e) => !Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number');
    if (bad >= 0) throw new TokenizerFileError(file, `"model.vocab"[${bad}] must be a [piece, score] pair, got ${JSON.stringify(model.vocab[bad])}`);
    if (!Number.isInteger(model.unk_id) || (model.unk_id as number) < 0 || (model.unk_id as number) >= model.vocab.length) {
      throw new TokenizerFileError(file, `"model.unk_id" must index the vocabulary (0..${model.vocab.length - 1}), got ${JSON.stringify(model.unk_id)}`);
    }
  } else {
    if (!isJsonObject(model.vocab)) throw new TokenizerFileError(file, '"model.vocab" must be an object mapping tokens to ids');
    if (!Array.isArray(model.merges)) throw new TokenizerFileError(file, '"model.merges" must be a list');
  }
  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) throw new TokenizerFileError(file, '"added_tokens" must be a list');
  const spec: JsonObject = {
    ...json,
    added_tokens: added,
    normalizer: json.normalizer ?? null,
    pre_tokenizer: json.pre_tokenizer ?? null,
    post_processor: json.post_processor ?? null,
    decoder: json.decoder ?? null,
  };
  upgradeMetaspace(spec.pre_tokenizer);
  let tok: HfTokenizer;
  try {
    tok = new lib.Tokenizer(spec, { eos_token: eosToken });
  } catch (e) {
    throw new TokenizerFileError(file, `cannot build the tokenizer (${(e as Error).message})`);
  }
  tok.normalizer = exactNormalizer(tok.normalizer, file);
  return tok;
}

/** Id of a token the encoding needs (pad, eos, ...), or a clear error. */
export function requireTokenId(tok: HfTokenizer, token: string, role: string, where: string): number {
  const id = tok.token_to_id(token);
  if (id === undefined) throw new TokenizerFileError(where, `the ${role} token ${JSON.stringify(token)} is not in the vocabulary`);
  return id;
}

/** Ids as int64, padded on the right with `padId` up to `length`. */
export function padToLength(ids: readonly number[], length: number, padId: number): BigInt64Array {
  if (ids.length > length) throw new Error(`internal: ${ids.length} ids do not fit in ${length}`);
  const out = new BigInt64Array(length).fill(BigInt(padId));
  ids.forEach((id, i) => { out[i] = BigInt(id); });
  return out;
}
