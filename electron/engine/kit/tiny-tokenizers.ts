// Tokenizer files for the tiny model kit, in the layouts the real repos ship: a T5 folder with
// only `spiece.model` + tokenizer_config.json (like xlabs-ai/xflux_text_encoders) and a CLIP
// folder with vocab.json + merges.txt + tokenizer_config.json + special_tokens_map.json (like
// openai/clip-vit-large-patch14, minus its tokenizer.json). Small vocabularies, so the tiny
// encoders' embedding tables stay small; every prompt still tokenizes (unknown characters map to
// <unk> in T5; CLIP is byte-level and has every byte).
import fs from 'node:fs';
import path from 'node:path';
import { PieceType, type SentencePiece, encodeSentencePieceModel } from '../text/sentencepiece-model.js';

const WORDS = [
  'a', 'an', 'the', 'of', 'in', 'on', 'at', 'with', 'and', 'by', 'photo', 'picture', 'portrait', 'man', 'woman', 'person',
  'people', 'girl', 'boy', 'cat', 'dog', 'red', 'blue', 'green', 'white', 'black', 'wearing', 'holding', 'sitting', 'standing',
  'street', 'park', 'beach', 'city', 'room', 'table', 'shirt', 'dress', 'hat', 'style', 'light', 'two', 'three',
];
const T5_EXTRA_IDS = 8;

function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Writes spiece.model + tokenizer_config.json; returns the vocabulary size (pieces + extra_ids). */
export async function writeTinyT5Tokenizer(dir: string): Promise<number> {
  fs.mkdirSync(dir, { recursive: true });
  const pieces: SentencePiece[] = [
    { piece: '<pad>', score: 0, type: PieceType.CONTROL },
    { piece: '</s>', score: 0, type: PieceType.CONTROL },
    { piece: '<unk>', score: 0, type: PieceType.UNKNOWN },
    { piece: '\u2581', score: -3, type: PieceType.NORMAL },
  ];
  for (const w of WORDS) pieces.push({ piece: `\u2581${w}`, score: -4 - w.length / 8, type: PieceType.NORMAL });
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?\'"-:;()';
  for (const c of chars) pieces.push({ piece: c, score: -8, type: PieceType.NORMAL });
  fs.writeFileSync(path.join(dir, 'spiece.model'), encodeSentencePieceModel({
    pieces,
    trainer: { modelType: 1, vocabSize: pieces.length, unkId: 2, bosId: -1, eosId: 1, padId: 0 },
    normalizer: { name: 'identity', addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true },
  }));
  writeJson(path.join(dir, 'tokenizer_config.json'), {
    tokenizer_class: 'T5Tokenizer', eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>',
    extra_ids: T5_EXTRA_IDS, model_max_length: 512,
  });
  return pieces.length + T5_EXTRA_IDS;
}

/** GPT-2 / CLIP byte-to-character table. */
function bytesToUnicode(): string[] {
  const map: string[] = new Array(256);
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let n = 0;
  for (let b = 0; b < 256; b++) map[b] = printable(b) ? String.fromCharCode(b) : String.fromCharCode(256 + n++);
  return map;
}

/** Byte-pair encoding of an ASCII word with CLIP's `</w>` suffix (lowest rank merges first). */
function bpe(word: string, rank: Map<string, number>): string[] {
  const parts = [...word];
  parts[parts.length - 1] += '</w>';
  for (;;) {
    let best = -1;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = rank.get(`${parts[i]} ${parts[i + 1]}`);
      if (r !== undefined && (best < 0 || r < rank.get(`${parts[best]} ${parts[best + 1]}`)!)) best = i;
    }
    if (best < 0) return parts;
    parts.splice(best, 2, parts[best] + parts[best + 1]);
  }
}

/**
 * Writes vocab.json, merges.txt, tokenizer_config.json and special_tokens_map.json; returns the
 * vocabulary size and the special ids (EOS is the largest id, as in openai's vocabulary).
 */
export async function writeTinyClipTokenizer(dir: string): Promise<{ vocabSize: number; bosId: number; eosId: number }> {
  fs.mkdirSync(dir, { recursive: true });
  const vocab: Record<string, number> = {};
  const add = (t: string) => { if (!(t in vocab)) vocab[t] = Object.keys(vocab).length; };
  const chars = bytesToUnicode();
  chars.forEach(add);
  chars.forEach((c) => add(`${c}</w>`));
  // Merges that make each word one token: for each word, BPE it with the merges so far and
  // append merges of its leftmost pieces until it is whole. A later (lower-priority) merge never
  // changes an earlier word, whose own merges always apply first.
  const merges: Array<[string, string]> = [];
  const rank = new Map<string, number>();
  for (const w of WORDS) {
    for (;;) {
      const pieces = bpe(w, rank);
      if (pieces.length === 1) break;
      const [a, b] = [pieces[0], pieces[1]];
      rank.set(`${a} ${b}`, merges.length);
      merges.push([a, b]);
      add(a + b);
    }
  }
  add('<|startoftext|>');
  add('<|endoftext|>');
  writeJson(path.join(dir, 'vocab.json'), vocab);
  fs.writeFileSync(path.join(dir, 'merges.txt'), `#version: 0.2\n${merges.map(([a, b]) => `${a} ${b}`).join('\n')}\n`);
  const special = { bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', pad_token: '<|endoftext|>' };
  writeJson(path.join(dir, 'tokenizer_config.json'), { tokenizer_class: 'CLIPTokenizer', model_max_length: 77, do_lower_case: true, ...special });
  writeJson(path.join(dir, 'special_tokens_map.json'), special);
  return { vocabSize: Object.keys(vocab).length, bosId: vocab['<|startoftext|>'], eosId: vocab['<|endoftext|>'] };
}
