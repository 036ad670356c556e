// Hand-made tokenizer files for the tokenizer tests: a SentencePiece model encoded byte by byte
// (independent of protobufjs), a darts-clone charsmap builder, and a tiny byte-level CLIP BPE.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// ---- protobuf wire format --------------------------------------------------------------------

function varint(v: bigint): number[] {
  let x = BigInt.asUintN(64, v);
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x !== 0n) b |= 0x80;
    out.push(b);
  } while (x !== 0n);
  return out;
}
const key = (field: number, wire: number): number[] => varint(BigInt((field << 3) | wire));
export const pbInt = (field: number, v: number): number[] => [...key(field, 0), ...varint(BigInt(v))];
export const pbBool = (field: number, v: boolean): number[] => pbInt(field, v ? 1 : 0);
export const pbBytes = (field: number, b: Uint8Array | number[]): number[] => [...key(field, 2), ...varint(BigInt(b.length)), ...b];
export const pbString = (field: number, s: string): number[] => pbBytes(field, [...new TextEncoder().encode(s)]);
export function pbFloat(field: number, v: number): number[] {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return [...key(field, 5), ...b];
}

export interface TinyPiece { piece: string; score: number; type?: number }

/** A T5-style SentencePiece model: <pad>=0, </s>=1, <unk>=2 like google's spiece.model. */
export function encodeSpieceModel(pieces: TinyPiece[], opts: { charsmap?: Uint8Array; extraTrainerField?: boolean } = {}): Uint8Array {
  const out: number[] = [];
  for (const p of pieces) {
    const body = [...pbString(1, p.piece), ...pbFloat(2, p.score), ...(p.type === undefined ? [] : pbInt(3, p.type))];
    out.push(...pbBytes(1, body));
  }
  const trainer = [
    ...pbInt(3, 1), ...pbInt(4, pieces.length), ...pbInt(40, 2), ...pbInt(41, -1), ...pbInt(42, 1), ...pbInt(43, 0),
    ...(opts.extraTrainerField ? pbInt(57, 12345) : []),
  ];
  out.push(...pbBytes(2, trainer));
  const normalizer = [
    ...pbString(1, opts.charsmap ? 'nmt_nfkc' : 'identity'),
    ...(opts.charsmap ? pbBytes(2, opts.charsmap) : []),
    ...pbBool(3, true), ...pbBool(4, true), ...pbBool(5, true),
  ];
  out.push(...pbBytes(3, normalizer));
  return new Uint8Array(out);
}

export const CONTROL = 3;
export const UNKNOWN = 2;

/** A few dozen pieces with unigram log-probabilities (scores are float32-exact). */
export const TINY_T5_PIECES: TinyPiece[] = [
  { piece: '<pad>', score: 0, type: CONTROL },
  { piece: '</s>', score: 0, type: CONTROL },
  { piece: '<unk>', score: 0, type: UNKNOWN },
  ...([
    ['▁', -2], ['▁a', -3], ['▁cat', -4], ['▁the', -3.5], ['▁dog', -4.25], ['s', -3.75], ['▁on', -4.125], ['▁mat', -4.5],
    ['.', -3.25], [',', -3.375], ['c', -5], ['a', -5], ['t', -5], ['d', -5.125], ['o', -5.25], ['g', -5.375], ['h', -5.5],
    ['e', -5.625], ['m', -5.75], ['n', -5.875], ['▁ca', -4.75], ['é', -6], ['▁café', -5], ['▁日本', -6], ['日', -7], ['本', -7],
    ['▁red', -4.375], ['r', -5.8125], ['!', -4], ['▁hello', -4], ['▁world', -4], ['l', -6], ['w', -6.125], ['▁x', -6.25],
  ] as Array<[string, number]>).map(([piece, score]) => ({ piece, score })),
];
export const piece = (p: string): number => {
  const i = TINY_T5_PIECES.findIndex((x) => x.piece === p);
  if (i < 0) throw new Error(`no piece ${p}`);
  return i;
};

// ---- darts-clone double array (the precompiled_charsmap trie) ---------------------------------

interface TrieNode { children: Map<number, TrieNode>; value?: number }

/** Build a charsmap blob (uint32 trie size, darts-clone units, NUL-terminated strings). */
export function buildCharsmap(rules: Record<string, string>): Uint8Array {
  const enc = new TextEncoder();
  const strings: number[] = [];
  const root: TrieNode = { children: new Map() };
  for (const [from, to] of Object.entries(rules)) {
    const value = strings.length;
    strings.push(...enc.encode(to), 0);
    let node = root;
    for (const b of enc.encode(from)) {
      let next = node.children.get(b);
      if (!next) node.children.set(b, (next = { children: new Map() }));
      node = next;
    }
    node.value = value;
  }
  const units: number[] = [0];
  const used = new Set<number>([0]);
  const bases = new Set<number>();
  const queue: Array<[TrieNode, number]> = [[root, 0]];
  while (queue.length) {
    const [node, index] = queue.shift()!;
    const labels = [...node.children.keys()];
    if (node.value !== undefined) labels.push(0);
    if (labels.length === 0) continue;
    let base = 1;
    while (bases.has(base) || labels.some((l) => used.has(base ^ l))) base++;
    bases.add(base);
    const offset = index ^ base;
    if (offset >= 1 << 21) throw new Error('test charsmap too large for the simple offset encoding');
    units[index] = ((units[index] ?? 0) | (offset << 10) | (node.value !== undefined ? 1 << 8 : 0)) >>> 0;
    for (const l of labels) {
      const pos = base ^ l;
      used.add(pos);
      while (units.length <= pos) units.push(0);
      if (l === 0) units[pos] = (node.value! | 0x80000000) >>> 0;
      else {
        units[pos] = l;
        queue.push([node.children.get(l)!, pos]);
      }
    }
  }
  const blob = new Uint8Array(4 + 4 * units.length + strings.length);
  const view = new DataView(blob.buffer);
  view.setUint32(0, 4 * units.length, true);
  units.forEach((u, i) => view.setUint32(4 + 4 * i, u, true));
  blob.set(strings, 4 + 4 * units.length);
  return blob;
}

/** nmt_nfkc-like rules; "ｃ" and "ｃｃ" share a prefix to check that the longest key wins. */
export const TINY_CHARSMAP_RULES: Record<string, string> = {
  '\t': ' ', '\n': ' ', '\u3000': ' ', '\u200b': '', 'ａ': 'a', 'ｃ': 'c', 'ｃｃ': 'cat', 'e\u0301': 'é', 'ﬀ': 'ff',
};

// ---- byte-level CLIP BPE ---------------------------------------------------------------------

/** GPT-2 / CLIP `bytes_to_unicode`. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const map: string[] = new Array(256);
  bs.forEach((b) => { map[b] = String.fromCharCode(b); });
  let n = 0;
  for (let b = 0; b < 256; b++) if (map[b] === undefined) map[b] = String.fromCharCode(256 + n++);
  return map;
}

export const TINY_CLIP_MERGES: Array<[string, string]> = [
  ['h', 'e'], ['l', 'l'], ['he', 'll'], ['hell', 'o</w>'], ['c', 'a'], ['ca', 't</w>'], ['p', 'h'], ['o', 't'],
  ['ph', 'ot'], ['phot', 'o</w>'], ['o', 'f</w>'], ['w', 'o'], ['r', 'l'], ['wo', 'rl'], ['worl', 'd</w>'],
  ['!', '!</w>'], ["'", 's</w>'], ['c', 'at'], ['a', 't'],
];

/** vocab.json of the tiny CLIP: like openai's layout (bytes, bytes+</w>, merges, then the two specials). */
export function tinyClipVocab(extraTop: string[] = []): Record<string, number> {
  const vocab: Record<string, number> = {};
  const add = (t: string) => { if (!(t in vocab)) vocab[t] = Object.keys(vocab).length; };
  const chars = bytesToUnicode();
  chars.forEach(add);
  chars.forEach((c) => add(`${c}</w>`));
  for (const [a, b] of TINY_CLIP_MERGES) add(a + b);
  add('<|startoftext|>');
  add('<|endoftext|>');
  extraTop.forEach(add);
  return vocab;
}

export function mergesTxt(merges: Array<[string, string]>): string {
  return `#version: 0.2\n${merges.map(([a, b]) => `${a} ${b}`).join('\n')}\n`;
}

// ---- folders ---------------------------------------------------------------------------------

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `umo-tok-${prefix}-`));
}

export function writeFiles(dir: string, files: Record<string, string | Uint8Array | object>): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const data = typeof content === 'string' || content instanceof Uint8Array ? content : JSON.stringify(content);
    fs.writeFileSync(path.join(dir, name), data);
  }
  return dir;
}
