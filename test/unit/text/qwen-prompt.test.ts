// OmniGen2's Qwen prompt: the chat template string, and tokenisation through a hand-made byte-level
// BPE tokenizer.json built like Qwen2's (NFC, Qwen's split regex, ByteLevel, added chat tokens).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  OMNIGEN2_SYSTEM_PROMPT, QwenTokenizer, qwenChatPrompt,
} from '../../../electron/engine/text/qwen-prompt.js';

/** GPT-2 / Qwen byte-to-unicode table: printable bytes map to themselves, the rest to 256+n. */
function byteChars(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(printable(b) ? b : 256 + n++);
  return out;
}
const BYTE_CHARS = byteChars();

/** Qwen2's pre-tokenisation regex, as its tokenizer.json stores it. */
const QWEN_SPLIT = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

const MERGES: Array<[string, string]> = [['c', 'a'], ['ca', 't'], ['Ġ', 'cat'], ["'", 'S'], ["'", 's']];
const PAD = 300;
const IM_START = 301;
const IM_END = 302;

function tinyQwenTokenizerJson(opts: { withChatTokens?: boolean } = {}): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  BYTE_CHARS.forEach((c, i) => { vocab[c] = i; });
  MERGES.forEach(([a, b], i) => { vocab[a + b] = 256 + i; });
  const added = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added(PAD, '<|endoftext|>'), ...(opts.withChatTokens === false ? [] : [added(IM_START, '<|im_start|>'), added(IM_END, '<|im_end|>')])],
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: QWEN_SPLIT }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: MERGES.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/** The text a byte-level token sequence stands for (special tokens kept as written). */
function detokenize(tokens: string[]): string {
  const back = new Map(BYTE_CHARS.map((c, b) => [c, b]));
  const parts: string[] = [];
  for (const t of tokens) {
    if (t.startsWith('<|')) { parts.push(t); continue; }
    parts.push(Buffer.from([...t].map((c) => back.get(c)!)).toString('latin1'));
  }
  return Buffer.from(parts.join(''), 'latin1').toString('utf8');
}

let tmp: string;
beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'umo-qwen-tok-')));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function folder(name: string, json: unknown, config?: unknown): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  if (json !== undefined) fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
  if (config !== undefined) fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  return dir;
}

describe('chat template', () => {
  it('is exactly OmniGen2\'s system + user template without a generation prompt', () => {
    expect(qwenChatPrompt('a cat')).toBe(
      '<|im_start|>system\nYou are a helpful assistant that generates high-quality images based on user instructions.<|im_end|>\n'
      + '<|im_start|>user\na cat<|im_end|>\n');
    expect(qwenChatPrompt('')).toBe(`<|im_start|>system\n${OMNIGEN2_SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n<|im_end|>\n`);
  });
});

describe('Qwen tokenizer (tiny byte-level BPE)', () => {
  const tok = QwenTokenizer.fromTokenizerJson(tinyQwenTokenizerJson(), 'tiny tokenizer.json');

  it('chat markers are single added tokens; BPE merges apply inside regex chunks', () => {
    expect(tok.tokens('<|im_start|>user\na cat<|im_end|>\n')).toEqual(['<|im_start|>', 'u', 's', 'e', 'r', 'Ċ', 'a', 'Ġcat', '<|im_end|>', 'Ċ']);
    expect(tok.ids('<|im_start|>a cat<|im_end|>')).toEqual([IM_START, 'a'.charCodeAt(0), 258, IM_END]);
  });

  it('contractions split case-insensitively, as Qwen\'s (?i:...) group does', () => {
    expect(tok.tokens("IT'S it's")).toEqual(['I', 'T', "'S", 'Ġ', 'i', 't', "'s"]);
  });

  it('normalises to NFC before byte-level encoding', () => {
    expect(tok.tokens('e\u0301')).toEqual(['Ã', '©']);
  });

  it('the templated prompt round-trips through the tokens with no special tokens added', () => {
    const text = qwenChatPrompt('A portrait, 35mm — “quoted” 日本 2 cats');
    const tokens = tok.tokens(text);
    expect(detokenize(tokens)).toBe(text);
    const ids = tok.ids(text);
    expect(ids[0]).toBe(IM_START);
    expect(ids.filter((i) => i === IM_START)).toHaveLength(2);
    expect(ids.filter((i) => i === IM_END)).toHaveLength(2);
    expect(ids.at(-1)).toBe(BYTE_CHARS.indexOf('Ċ'));
  });

  it('pads a batch to the longest row on the right with the pad token, with a mask', () => {
    const one = tok.encodePrompts(['a cat']);
    const two = tok.encodePrompts(['a cat', 'a cat and a much longer description']);
    expect(one.batch).toBe(1);
    expect(one.mask.every((m) => m === 1)).toBe(true);
    expect(two.length).toBeGreaterThan(one.length);
    const row0 = Array.from(two.ids.subarray(0, two.length), Number);
    expect(row0.slice(0, one.length)).toEqual(Array.from(one.ids, Number));
    expect(row0.slice(one.length).every((i) => i === PAD)).toBe(true);
    expect(Array.from(two.mask.subarray(0, two.length))).toEqual([...new Array(one.length).fill(1), ...new Array(two.length - one.length).fill(0)]);
    expect(two.mask.subarray(two.length).every((m) => m === 1)).toBe(true);
    expect(two.truncated).toEqual([]);
  });

  it('truncates to maxLength keeping the start, and reports which rows were cut', () => {
    const full = tok.encodePrompts(['a cat']);
    const cut = tok.encodePrompts(['a cat'], { maxLength: 10 });
    expect(cut.length).toBe(10);
    expect(Array.from(cut.ids)).toEqual(Array.from(full.ids.subarray(0, 10)));
    expect(cut.truncated).toEqual([0]);
  });
});

describe('processor folder', () => {
  it('reads pad token and padding side from tokenizer_config.json', () => {
    const dir = folder('left', tinyQwenTokenizerJson(), { pad_token: '<|endoftext|>', padding_side: 'left' });
    const tok = QwenTokenizer.fromFolderSync(dir);
    expect(tok.paddingSide).toBe('left');
    const two = tok.encodePrompts(['a cat', 'a cat and more words']);
    const short = tok.encodePrompts(['a cat']);
    const pad = two.length - short.length;
    expect(Array.from(two.ids.subarray(0, pad), Number).every((i) => i === PAD)).toBe(true);
    expect(Array.from(two.ids.subarray(pad, two.length))).toEqual(Array.from(short.ids));
    expect(two.mask[0]).toBe(0);
    expect(two.mask[two.length - 1]).toBe(1);
  });

  it('clear errors: no tokenizer.json, chat tokens missing, bad padding side', () => {
    expect(() => QwenTokenizer.fromFolderSync(folder('empty', undefined))).toThrow(/has no tokenizer\.json/);
    expect(() => QwenTokenizer.fromFolderSync(folder('no-chat', tinyQwenTokenizerJson({ withChatTokens: false }))))
      .toThrow(/the chat start token "<\|im_start\|>" is not in the vocabulary/);
    expect(() => QwenTokenizer.fromFolderSync(folder('bad-side', tinyQwenTokenizerJson(), { padding_side: 'middle' })))
      .toThrow(/"padding_side" must be "left" or "right", got "middle"/);
    expect(() => QwenTokenizer.fromFolderSync(folder('bad-pad', tinyQwenTokenizerJson(), { pad_token: '<pad>' })))
      .toThrow(/the pad token "<pad>" is not in the vocabulary/);
  });
});
