// OmniGen2's prompt for its Qwen2.5-VL conditioning: the chat template the pipeline applies
// (`_apply_chat_template`: system + user message, no generation prompt) and the Qwen tokenizer from
// the `processor/` folder's tokenizer.json, called as `processor.tokenizer(prompts,
// padding="longest", max_length=…, truncation=True)`.
//
// The Qwen tokenizer adds no BOS/EOS; the chat markers `<|im_start|>` / `<|im_end|>` are added
// tokens of the tokenizer.json, matched in the text before BPE. Truncation keeps the first
// `maxLength` ids; padding goes on the side `tokenizer_config.json` names (default right) with its
// pad token (default `<|endoftext|>`).
import fs from 'node:fs';
import path from 'node:path';
import {
  type HfTokenizer, type JsonObject, TokenizerFileError, createHfTokenizer, readJsonObject, readTokenizerSettings,
  requireTokenId, specialTokenText,
} from './tokenizer-files.js';

/** The system prompt OmniGen2's generation pipeline uses. */
export const OMNIGEN2_SYSTEM_PROMPT = 'You are a helpful assistant that generates high-quality images based on user instructions.';

/** The apps' `max_sequence_length`. */
export const OMNIGEN2_MAX_SEQUENCE_LENGTH = 1024;

const IM_START = '<|im_start|>';
const IM_END = '<|im_end|>';
const DEFAULT_PAD = '<|endoftext|>';

/** Qwen's chat template for [system, user] with string contents and no generation prompt. */
export function qwenChatPrompt(prompt: string, system: string = OMNIGEN2_SYSTEM_PROMPT): string {
  return `${IM_START}system\n${system}${IM_END}\n${IM_START}user\n${prompt}${IM_END}\n`;
}

export interface QwenTokenBatch {
  /** [batch, length] int64, padded to the longest row. */
  ids: BigInt64Array;
  /** [batch, length]: 1 for tokens, 0 for padding. */
  mask: Uint8Array;
  batch: number;
  length: number;
  /** Rows whose ids were cut at maxLength. */
  truncated: number[];
}

export class QwenTokenizer {
  private constructor(
    private readonly tokenizer: HfTokenizer,
    readonly padId: number,
    readonly paddingSide: 'left' | 'right',
    readonly source: string,
  ) {}

  /** From a Qwen2.5-VL `processor/` folder (tokenizer.json required; tokenizer_config.json optional). */
  static fromFolderSync(dir: string): QwenTokenizer {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw new TokenizerFileError(dir, 'not a folder; expected the Qwen2.5-VL processor folder with tokenizer.json');
    }
    const jsonFile = path.join(dir, 'tokenizer.json');
    if (!fs.existsSync(jsonFile)) throw new TokenizerFileError(dir, 'has no tokenizer.json; expected the Qwen2.5-VL processor folder');
    const { settings, files } = readTokenizerSettings(dir);
    const where = files.length ? files.join(' + ') : dir;
    const pad = specialTokenText(settings, 'pad_token', where) ?? DEFAULT_PAD;
    const side = settings.padding_side ?? 'right';
    if (side !== 'left' && side !== 'right') throw new TokenizerFileError(where, `"padding_side" must be "left" or "right", got ${JSON.stringify(side)}`);
    return QwenTokenizer.fromTokenizerJson(readJsonObject(jsonFile, 'a Hugging Face tokenizers tokenizer.json'), jsonFile, { pad, paddingSide: side });
  }

  /** Build from a tokenizer.json object; `source` names it in errors. */
  static fromTokenizerJson(json: JsonObject, source: string, opts: { pad?: string; paddingSide?: 'left' | 'right' } = {}): QwenTokenizer {
    const pad = opts.pad ?? DEFAULT_PAD;
    const tok = createHfTokenizer(json, source, 'BPE', pad);
    for (const [t, role] of [[IM_START, 'chat start'], [IM_END, 'chat end']] as const) {
      const id = requireTokenId(tok, t, role, source);
      const ids = tok.encode(t).ids;
      if (ids.length !== 1 || ids[0] !== id) {
        throw new TokenizerFileError(source, `${JSON.stringify(t)} is not an added token (it encodes to ${ids.length} ids); a Qwen tokenizer.json lists it in "added_tokens"`);
      }
    }
    return new QwenTokenizer(tok, requireTokenId(tok, pad, 'pad', source), opts.paddingSide ?? 'right', source);
  }

  /** Token ids of `text` (no length limit). */
  ids(text: string): number[] {
    return this.tokenizer.encode(text).ids;
  }

  /** Token strings of `text` (diagnostics and tests). */
  tokens(text: string): string[] {
    return this.tokenizer.tokenize(text);
  }

  /** Tokenise already templated texts: truncate each to maxLength, pad to the longest. */
  encodeTexts(texts: readonly string[], maxLength: number = OMNIGEN2_MAX_SEQUENCE_LENGTH): QwenTokenBatch {
    if (texts.length === 0) throw new Error('QwenTokenizer: no texts to encode');
    if (!Number.isInteger(maxLength) || maxLength < 1) throw new Error(`QwenTokenizer: maxLength must be a positive integer, got ${maxLength}`);
    const rows = texts.map((t) => this.ids(t));
    const truncated = rows.flatMap((r, i) => (r.length > maxLength ? [i] : []));
    const cut = rows.map((r) => r.slice(0, maxLength));
    const length = Math.max(1, ...cut.map((r) => r.length));
    const ids = new BigInt64Array(texts.length * length).fill(BigInt(this.padId));
    const mask = new Uint8Array(texts.length * length);
    cut.forEach((r, b) => {
      const start = b * length + (this.paddingSide === 'left' ? length - r.length : 0);
      r.forEach((id, i) => { ids[start + i] = BigInt(id); });
      mask.fill(1, start, start + r.length);
    });
    return { ids, mask, batch: texts.length, length, truncated };
  }

  /** OmniGen2's `_apply_chat_template` + tokenizer call for a list of user prompts. */
  encodePrompts(prompts: readonly string[], opts: { maxLength?: number; system?: string } = {}): QwenTokenBatch {
    return this.encodeTexts(prompts.map((p) => qwenChatPrompt(p, opts.system)), opts.maxLength);
  }
}
