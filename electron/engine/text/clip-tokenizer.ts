// CLIP tokenizer as UNO's `HFEmbedder` uses it: `CLIPTokenizer(prompt, max_length=77,
// truncation=True, padding="max_length")`, plus the position HF's CLIPTextModel pools.
//
// Sources: `tokenizer.json` when the folder has one; otherwise `vocab.json` + `merges.txt`,
// converted to the tokenizer.json HF's `CLIPConverter` produces: normalizer [NFC,
// Replace(\s+ -> " "), Lowercase], pre-tokenizer [Split on CLIP's regex keeping the matches,
// ByteLevel], byte-level BPE with the `</w>` end-of-word suffix, `<|startoftext|> $A <|endoftext|>`.
//
// Fixed-length layout (slow CLIPTokenizer): content truncated to max_length-2, BOS + content +
// EOS, right-padded with the pad token the repo declares (openai: `<|endoftext|>`).
import fs from 'node:fs';
import path from 'node:path';
import {
  type HfTokenizer, type JsonObject, TokenizerFileError, createHfTokenizer, isJsonObject, padToLength, readJsonObject,
  readTokenizerFile, readTokenizerSettings, requireTokenId, specialTokenText,
} from './tokenizer-files.js';
import { CLIP_LEGACY_EOS_TOKEN_ID, clipPoolPositions } from '../models/clip-text.js';
import { HfConfig } from '../models/hf-config.js';

/** UNO's CLIP sequence length. */
export const CLIP_MAX_LENGTH = 77;
/** CLIP's pre-tokenization regex (HF CLIPConverter; the slow tokenizer also matches the two special tokens). */
export const CLIP_SPLIT_REGEX = String.raw`'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`;
/** The slow CLIPTokenizer reads at most this many merges (`[1 : 49152 - 256 - 2 + 1]`). */
const CLIP_MAX_MERGES = 49152 - 256 - 2;

export interface ClipSpecialTokens {
  bos: string;
  eos: string;
  pad: string;
  unk: string;
}

export const CLIP_DEFAULT_SPECIAL_TOKENS: ClipSpecialTokens = {
  bos: '<|startoftext|>', eos: '<|endoftext|>', pad: '<|endoftext|>', unk: '<|endoftext|>',
};

export interface ClipEncoding {
  /** `maxLength` int64 ids: BOS, content, EOS, pad ids. */
  ids: BigInt64Array;
  /** The position HF's CLIPTextModel pools (`pooler_output`) for these ids. */
  poolIndex: number;
}

/** Parse merges.txt: one "left right" pair per line after the optional `#version` header. */
export function parseClipMerges(text: string, file: string): Array<[string, string]> {
  const lines = text.split(/\r?\n/);
  const merges: Array<[string, string]> = [];
  lines.forEach((line, i) => {
    if (i === 0 && line.startsWith('#version')) return;
    if (line.trim() === '') return;
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2) throw new TokenizerFileError(file, `line ${i + 1}: expected a merge "left right", got ${JSON.stringify(line)}`);
    merges.push([parts[0], parts[1]]);
  });
  return merges.slice(0, CLIP_MAX_MERGES);
}

/**
 * The tokenizer.json (as an object) HF's CLIPConverter produces from vocab.json + merges.
 * `where` names the source files in errors.
 */
export function clipTokenizerJsonFromVocab(
  vocab: JsonObject, merges: Array<[string, string]>, where: string, special: ClipSpecialTokens = CLIP_DEFAULT_SPECIAL_TOKENS,
): JsonObject {
  for (const [token, id] of Object.entries(vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new TokenizerFileError(where, `vocab entry ${JSON.stringify(token)} must map to a non-negative integer id, got ${JSON.stringify(id)}`);
    }
  }
  merges.forEach(([a, b], i) => {
    for (const t of [a, b, a + b]) {
      if (!(t in vocab)) throw new TokenizerFileError(where, `merge ${i + 1} "${a} ${b}": token ${JSON.stringify(t)} is not in the vocabulary`);
    }
  });
  const idOf = (t: string, role: string): number => {
    const id = vocab[t];
    if (typeof id !== 'number') throw new TokenizerFileError(where, `the ${role} token ${JSON.stringify(t)} is not in the vocabulary`);
    return id;
  };
  const addedTokens = new Map<string, JsonObject>();
  for (const [role, t] of [['bos', special.bos], ['eos', special.eos], ['unk', special.unk], ['pad', special.pad]] as const) {
    if (!addedTokens.has(t)) {
      addedTokens.set(t, { id: idOf(t, role), content: t, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
    }
  }
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...addedTokens.values()].sort((x, y) => (x.id as number) - (y.id as number)),
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: String.raw`\s+` }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_SPLIT_REGEX }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [special.eos, idOf(special.eos, 'eos')],
      cls: [special.bos, idOf(special.bos, 'bos')],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: special.unk, continuing_subword_prefix: '', end_of_word_suffix: '</w>',
      fuse_unk: false, byte_fallback: false, vocab, merges,
    },
  };
}

/**
 * The eos_token_id that selects HF's pooling, from the model config.json in `dir` (a full
 * CLIPModel's `text_config`, or the top level): as `readClipTextConfig` reads it, with the same
 * fallbacks (49407 when config.json omits it; the legacy 2 when there is no config.json).
 */
export function clipModelEosTokenId(dir: string): number {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) return CLIP_LEGACY_EOS_TOKEN_ID;
  const cfg = HfConfig.read(file, 'CLIP');
  const text = cfg.section('text_config') ?? cfg;
  return text.number('eos_token_id', { integer: true }) ?? 49407;
}

export class ClipTokenizer {
  private constructor(
    readonly tokenizer: HfTokenizer,
    readonly bosId: number,
    readonly eosId: number,
    readonly padId: number,
    /** eos_token_id of the text model config: 2 selects argmax pooling (see `clipPoolPositions`). */
    readonly modelEosTokenId: number,
    readonly source: string,
  ) {}

  /**
   * Load from a Hugging Face CLIP folder: tokenizer.json if present, else vocab.json +
   * merges.txt; special tokens from tokenizer_config.json / special_tokens_map.json; the pooling
   * rule from config.json unless `modelEosTokenId` is given.
   */
  static async fromFolder(dir: string, opts: { modelEosTokenId?: number } = {}): Promise<ClipTokenizer> {
    return ClipTokenizer.fromFolderSync(dir, opts);
  }

  static fromFolderSync(dir: string, opts: { modelEosTokenId?: number } = {}): ClipTokenizer {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw new TokenizerFileError(dir, 'not a folder; expected a CLIP tokenizer folder with tokenizer.json or vocab.json + merges.txt');
    }
    const { settings, files } = readTokenizerSettings(dir);
    const where = files.length ? files.join(' + ') : dir;
    const d = CLIP_DEFAULT_SPECIAL_TOKENS;
    const special: ClipSpecialTokens = {
      bos: specialTokenText(settings, 'bos_token', where) ?? d.bos,
      eos: specialTokenText(settings, 'eos_token', where) ?? d.eos,
      pad: specialTokenText(settings, 'pad_token', where) ?? d.pad,
      unk: specialTokenText(settings, 'unk_token', where) ?? d.unk,
    };
    const jsonFile = path.join(dir, 'tokenizer.json');
    const vocabFile = path.join(dir, 'vocab.json');
    const mergesFile = path.join(dir, 'merges.txt');
    let json: JsonObject;
    let source: string;
    if (fs.existsSync(jsonFile)) {
      json = readJsonObject(jsonFile, 'a Hugging Face tokenizers tokenizer.json');
      source = jsonFile;
    } else if (fs.existsSync(vocabFile) || fs.existsSync(mergesFile)) {
      const vocab = readJsonObject(vocabFile, 'a CLIP BPE vocabulary (token -> id)');
      const merges = parseClipMerges(readTokenizerFile(mergesFile, 'the CLIP BPE merges (merges.txt)').toString('utf8'), mergesFile);
      source = `${vocabFile} + ${mergesFile}`;
      json = clipTokenizerJsonFromVocab(vocab, merges, source, special);
    } else {
      throw new TokenizerFileError(dir, 'has neither tokenizer.json nor vocab.json + merges.txt; expected a CLIP tokenizer folder');
    }
    const eosTokenId = opts.modelEosTokenId ?? clipModelEosTokenId(dir);
    return ClipTokenizer.fromTokenizerJson(json, source, special, eosTokenId);
  }

  /** Build from a tokenizer.json object; `source` names it in errors. */
  static fromTokenizerJson(
    json: JsonObject, source: string, special: ClipSpecialTokens = CLIP_DEFAULT_SPECIAL_TOKENS,
    modelEosTokenId: number = CLIP_LEGACY_EOS_TOKEN_ID,
  ): ClipTokenizer {
    if (isJsonObject(json.model) && json.model.end_of_word_suffix !== '</w>') {
      throw new TokenizerFileError(source, `model.end_of_word_suffix is ${JSON.stringify(json.model.end_of_word_suffix ?? null)}; a CLIP BPE model uses "</w>"`);
    }
    const tok = createHfTokenizer(json, source, 'BPE', special.eos);
    return new ClipTokenizer(
      tok, requireTokenId(tok, special.bos, 'bos', source), requireTokenId(tok, special.eos, 'eos', source),
      requireTokenId(tok, special.pad, 'pad', source), modelEosTokenId, source,
    );
  }

  /** Token ids of the prompt without special tokens and without length limit. */
  contentIds(prompt: string): number[] {
    return this.tokenizer.encode(prompt, { add_special_tokens: false }).ids;
  }

  /** Token strings of the prompt without special tokens (for diagnostics and tests). */
  tokens(prompt: string): string[] {
    return this.tokenizer.tokenize(prompt, { add_special_tokens: false });
  }

  /** Ids exactly as UNO's HFEmbedder gets them, and the pooled position. */
  encode(prompt: string, maxLength: number = CLIP_MAX_LENGTH): ClipEncoding {
    if (!Number.isInteger(maxLength) || maxLength < 2) throw new Error(`CLIP maxLength must be an integer >= 2, got ${maxLength}`);
    const content = this.contentIds(prompt).slice(0, maxLength - 2);
    const ids = padToLength([this.bosId, ...content, this.eosId], maxLength, this.padId);
    const [poolIndex] = clipPoolPositions(ids, 1, maxLength, this.modelEosTokenId);
    return { ids, poolIndex };
  }
}
