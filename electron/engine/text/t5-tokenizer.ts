// T5 tokenizer as UNO's `HFEmbedder` uses it: `T5Tokenizer(prompt, max_length=512,
// truncation=True, padding="max_length")`, ids only (UNO passes no attention mask).
//
// Sources, in order: `tokenizer.json` when the folder has one; otherwise `spiece.model`
// (xlabs-ai/xflux_text_encoders ships only that), converted to the tokenizer.json HF's
// slow->fast converter (`T5Converter`) produces: Unigram over the pieces plus `<extra_id_N>`
// sentinels, normalizer [Precompiled(charsmap) when present, Strip(right), Replace(" {2,}" -> "▁")],
// Metaspace pre-tokenizer with the dummy prefix, `$A </s>` post-processor.
//
// The fixed-length layout follows the slow T5Tokenizer exactly: content truncated to
// max_length-1, `</s>` appended unless the content already ends with it, right-padded with the
// pad id.
import fs from 'node:fs';
import path from 'node:path';
import {
  type HfTokenizer, type JsonObject, TokenizerFileError, createHfTokenizer, padToLength, readJsonObject, readTokenizerSettings,
  requireTokenId, specialTokenText,
} from './tokenizer-files.js';
import { PieceType, type SentencePieceModel, SentencePieceModelType, readSentencePieceModel } from './sentencepiece-model.js';

/** UNO's T5 sequence length. */
export const T5_MAX_LENGTH = 512;
/** `T5Tokenizer`'s default number of `<extra_id_N>` sentinels. */
export const T5_DEFAULT_EXTRA_IDS = 100;
const SPACE_SYMBOL = '\u2581';

export interface T5ConversionOptions {
  /** Number of `<extra_id_N>` sentinels appended after the pieces (default 100). */
  extraIds?: number;
  /** tokenizer_config.json `legacy`: false makes only the first text section get the dummy prefix. */
  legacy?: boolean;
  eosToken?: string;
}

function added(id: number, content: string, special: boolean): JsonObject {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special };
}

/**
 * The tokenizer.json (as an object) HF's T5Converter produces from a SentencePiece model.
 * `file` names the model in errors.
 */
export function t5TokenizerJsonFromSentencePiece(model: SentencePieceModel, file: string, opts: T5ConversionOptions = {}): JsonObject {
  const t = model.trainer;
  const n = model.normalizer;
  if (t.modelType !== SentencePieceModelType.UNIGRAM) {
    throw new TokenizerFileError(file, `trainer_spec.model_type is ${t.modelType}; a T5 tokenizer needs a Unigram (1) SentencePiece model`);
  }
  if (!n.escapeWhitespaces) throw new TokenizerFileError(file, 'normalizer_spec.escape_whitespaces is false; only models that escape spaces as "▁" are supported');
  if (t.treatWhitespaceAsSuffix) throw new TokenizerFileError(file, 'trainer_spec.treat_whitespace_as_suffix is true; only "▁" prefixes are supported');
  const extraIds = opts.extraIds ?? T5_DEFAULT_EXTRA_IDS;
  if (!Number.isInteger(extraIds) || extraIds < 0) throw new Error(`extra_ids must be a non-negative integer, got ${extraIds}`);
  const eos = opts.eosToken ?? '</s>';

  const vocab: Array<[string, number]> = model.pieces.map((p) => [p.piece, p.score]);
  const addedTokens: JsonObject[] = [];
  model.pieces.forEach((p, id) => {
    if (p.type === PieceType.CONTROL || p.type === PieceType.UNKNOWN) addedTokens.push(added(id, p.piece, true));
    else if (p.type === PieceType.USER_DEFINED) addedTokens.push(added(id, p.piece, false));
  });
  const pieceIds = new Map(model.pieces.map((p, i) => [p.piece, i]));
  for (let k = extraIds - 1; k >= 0; k--) {
    const token = `<extra_id_${k}>`;
    if (pieceIds.has(token)) throw new TokenizerFileError(file, `already has a piece ${token}; cannot add ${extraIds} extra_ids sentinels`);
    addedTokens.push(added(vocab.length, token, true));
    vocab.push([token, 0]);
  }
  const eosId = vocab.findIndex(([p]) => p === eos);
  if (eosId < 0) throw new TokenizerFileError(file, `has no ${JSON.stringify(eos)} piece; T5 appends it to every sequence`);

  const normalizers: JsonObject[] = [];
  if (n.precompiledCharsmap.length > 0) {
    normalizers.push({ type: 'Precompiled', precompiled_charsmap: Buffer.from(n.precompiledCharsmap).toString('base64') });
  }
  if (n.removeExtraWhitespaces) {
    normalizers.push({ type: 'Strip', strip_left: false, strip_right: true });
    normalizers.push({ type: 'Replace', pattern: { Regex: ' {2,}' }, content: SPACE_SYMBOL });
  }
  const prependScheme = !n.addDummyPrefix ? 'never' : opts.legacy === false ? 'first' : 'always';
  const metaspace = { type: 'Metaspace', replacement: SPACE_SYMBOL, prepend_scheme: prependScheme, split: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: { type: 'Sequence', normalizers },
    pre_tokenizer: metaspace,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: eos, type_id: 0 } }],
      pair: [
        { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: eos, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: eos, type_id: 0 } },
      ],
      special_tokens: { [eos]: { id: eos, ids: [eosId], tokens: [eos] } },
    },
    decoder: { ...metaspace },
    model: { type: 'Unigram', unk_id: t.unkId, vocab, byte_fallback: false },
  };
}

function optionalInteger(settings: JsonObject, key: string, where: string): number | undefined {
  const v = settings[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new TokenizerFileError(where, `"${key}" must be a non-negative integer, got ${JSON.stringify(v)}`);
  return v;
}

export class T5Tokenizer {
  private constructor(
    /** The underlying tokenizer (no special tokens are added by `encode`'s content pass). */
    readonly tokenizer: HfTokenizer,
    readonly eosId: number,
    readonly padId: number,
    /** The file the vocabulary came from (tokenizer.json or spiece.model). */
    readonly source: string,
  ) {}

  /**
   * Load from a Hugging Face T5 folder: tokenizer.json if present, else spiece.model; special
   * tokens and extra_ids from tokenizer_config.json / special_tokens_map.json when present.
   */
  static async fromFolder(dir: string): Promise<T5Tokenizer> {
    return T5Tokenizer.fromFolderSync(dir);
  }

  static fromFolderSync(dir: string): T5Tokenizer {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw new TokenizerFileError(dir, 'not a folder; expected a T5 tokenizer folder with tokenizer.json or spiece.model');
    }
    const { settings, files } = readTokenizerSettings(dir);
    const where = files.length ? files.join(' + ') : dir;
    const eos = specialTokenText(settings, 'eos_token', where) ?? '</s>';
    const pad = specialTokenText(settings, 'pad_token', where) ?? '<pad>';
    const jsonFile = path.join(dir, 'tokenizer.json');
    const spmFile = path.join(dir, 'spiece.model');
    let json: JsonObject;
    let source: string;
    if (fs.existsSync(jsonFile)) {
      json = readJsonObject(jsonFile, 'a Hugging Face tokenizers tokenizer.json');
      source = jsonFile;
    } else if (fs.existsSync(spmFile)) {
      const legacy = settings.legacy;
      json = t5TokenizerJsonFromSentencePiece(readSentencePieceModel(spmFile), spmFile, {
        extraIds: optionalInteger(settings, 'extra_ids', where),
        legacy: typeof legacy === 'boolean' ? legacy : undefined,
        eosToken: eos,
      });
      source = spmFile;
    } else {
      throw new TokenizerFileError(dir, 'has neither tokenizer.json nor spiece.model; expected a T5 tokenizer folder');
    }
    return T5Tokenizer.fromTokenizerJson(json, source, { eosToken: eos, padToken: pad });
  }

  /** Build from a tokenizer.json object; `source` names it in errors. */
  static fromTokenizerJson(json: JsonObject, source: string, tokens: { eosToken?: string; padToken?: string } = {}): T5Tokenizer {
    const eos = tokens.eosToken ?? '</s>';
    const tok = createHfTokenizer(json, source, 'Unigram', eos);
    return new T5Tokenizer(tok, requireTokenId(tok, eos, 'eos', source), requireTokenId(tok, tokens.padToken ?? '<pad>', 'pad', source), source);
  }

  /** Token ids of the prompt without special tokens and without length limit. */
  contentIds(prompt: string): number[] {
    return this.tokenizer.encode(prompt, { add_special_tokens: false }).ids;
  }

  /** Token strings of the prompt without special tokens (for diagnostics and tests). */
  tokens(prompt: string): string[] {
    return this.tokenizer.tokenize(prompt, { add_special_tokens: false });
  }

  /**
   * Ids exactly as UNO's HFEmbedder gets them: `maxLength` int64 ids, `</s>` last (kept by
   * truncation), then pad ids.
   */
  encode(prompt: string, maxLength: number = T5_MAX_LENGTH): BigInt64Array {
    if (!Number.isInteger(maxLength) || maxLength < 1) throw new Error(`T5 maxLength must be a positive integer, got ${maxLength}`);
    let ids = this.contentIds(prompt);
    if (ids.length + 1 > maxLength) ids = ids.slice(0, maxLength - 1);
    if (ids.length === 0 || ids[ids.length - 1] !== this.eosId) ids = [...ids, this.eosId];
    return padToLength(ids, maxLength, this.padId);
  }
}
