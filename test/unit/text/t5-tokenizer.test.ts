import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { T5Tokenizer, t5TokenizerJsonFromSentencePiece } from '../../../electron/engine/text/t5-tokenizer.js';
import { PieceType, parseSentencePieceModel, encodeSentencePieceModel } from '../../../electron/engine/text/sentencepiece-model.js';
import { PrecompiledCharsmap } from '../../../electron/engine/text/precompiled-charsmap.js';
import { TokenizerFileError } from '../../../electron/engine/text/tokenizer-files.js';
import {
  CONTROL, TINY_CHARSMAP_RULES, TINY_T5_PIECES, UNKNOWN, buildCharsmap, encodeSpieceModel, piece, tempDir, writeFiles,
} from './tokenizer-fixtures.js';

/** The parts of a converted tokenizer.json the tests look at. */
interface T5Json {
  model: { vocab: Array<[string, number]>; unk_id: number };
  normalizer: { normalizers: Array<{ type: string }> };
  pre_tokenizer: object;
  added_tokens: Array<{ id: number; content: string }>;
  post_processor: { special_tokens: Record<string, { ids: number[] }> };
}

const EXTRA_IDS = 3;
const V = TINY_T5_PIECES.length;
const EOS = 1;
const PAD = 0;
const UNK = 2;

/** A tokenizer.json written the way the Hub's T5 files are (older converter layout, different from ours). */
function handWrittenTokenizerJson(charsmap?: Uint8Array): object {
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const extra = Array.from({ length: EXTRA_IDS }, (_, i) => special(V + i, `<extra_id_${EXTRA_IDS - 1 - i}>`));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<pad>'), special(1, '</s>'), special(2, '<unk>'), ...extra],
    normalizer: charsmap ? { type: 'Precompiled', precompiled_charsmap: Buffer.from(charsmap).toString('base64') } : null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Metaspace', replacement: '▁', add_prefix_space: true }],
    },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: '▁', add_prefix_space: true },
    model: {
      type: 'Unigram',
      unk_id: 2,
      vocab: [...TINY_T5_PIECES.map((p) => [p.piece, p.score]), ...extra.map((t) => [t.content, 0])],
    },
  };
}

const CONFIG = { eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>', extra_ids: EXTRA_IDS, model_max_length: 512 };

function spmFolder(charsmap?: Uint8Array): string {
  return writeFiles(tempDir('t5spm'), { 'spiece.model': encodeSpieceModel(TINY_T5_PIECES, { charsmap, extraTrainerField: true }), 'tokenizer_config.json': CONFIG });
}
function jsonFolder(charsmap?: Uint8Array): string {
  return writeFiles(tempDir('t5json'), { 'tokenizer.json': handWrittenTokenizerJson(charsmap), 'tokenizer_config.json': CONFIG });
}

/** The expected ids: content, EOS, pads to 512. */
function padded(content: number[], len = 512): bigint[] {
  const out = [...content, EOS];
  while (out.length < len) out.push(PAD);
  return out.map(BigInt);
}

const PROMPTS = [
  'a cat', 'the cat on the mat.', '  the   cat  ', '', '   ', 'cats, dogs!', 'café au lait', '日本 x😀y', 'hello world',
  'Hello World', 'a red dog,the dog.', 'the<extra_id_0>cat', 'the cat</s>', 'x'.repeat(40), 'the '.repeat(700),
];

describe('SentencePiece model protobuf', () => {
  it('parses pieces, scores, types, trainer and normalizer specs (hand-encoded bytes, unknown fields skipped)', () => {
    const cm = buildCharsmap(TINY_CHARSMAP_RULES);
    const m = parseSentencePieceModel(encodeSpieceModel(TINY_T5_PIECES, { charsmap: cm, extraTrainerField: true }), 'tiny.model');
    expect(m.pieces.length).toBe(V);
    expect(m.pieces[0]).toEqual({ piece: '<pad>', score: 0, type: PieceType.CONTROL });
    expect(m.pieces[2]).toEqual({ piece: '<unk>', score: 0, type: PieceType.UNKNOWN });
    // type omitted on the wire -> proto2 default NORMAL
    expect(m.pieces[piece('▁cat')]).toEqual({ piece: '▁cat', score: -4, type: PieceType.NORMAL });
    expect(m.trainer).toMatchObject({ modelType: 1, vocabSize: V, unkId: 2, bosId: -1, eosId: 1, padId: 0, byteFallback: false, unkPiece: '<unk>' });
    expect(m.normalizer).toMatchObject({ name: 'nmt_nfkc', addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true });
    expect([...m.normalizer.precompiledCharsmap]).toEqual([...cm]);
    expect(m.denormalizer).toBeNull();
  });

  it('round-trips through encodeSentencePieceModel', () => {
    const bytes = encodeSentencePieceModel({ pieces: TINY_T5_PIECES.map((p) => ({ piece: p.piece, score: p.score, type: (p.type ?? 1) as 1 })), trainer: { unkId: 2, eosId: 1, padId: 0, bosId: -1 }, normalizer: { addDummyPrefix: false } });
    const m = parseSentencePieceModel(bytes, 'x');
    expect(m.pieces.map((p) => p.piece)).toEqual(TINY_T5_PIECES.map((p) => p.piece));
    expect(m.normalizer.addDummyPrefix).toBe(false);
    expect(m.normalizer.removeExtraWhitespaces).toBe(true);
    expect(m.trainer.bosId).toBe(-1);
  });

  it('rejects corrupt and inconsistent models with the file name', () => {
    expect(() => parseSentencePieceModel(new Uint8Array(0), 'a.model')).toThrow(/a\.model: empty file; expected a SentencePiece model/);
    const good = encodeSpieceModel(TINY_T5_PIECES);
    expect(() => parseSentencePieceModel(good.slice(0, good.length - 7), 'b.model')).toThrow(/b\.model: cannot decode .*expected a SentencePiece model/);
    expect(() => parseSentencePieceModel(new TextEncoder().encode('{"model": "json"}'), 'c.model')).toThrow(TokenizerFileError);
    const twoUnk = [...TINY_T5_PIECES, { piece: '<unk2>', score: 0, type: UNKNOWN }];
    expect(() => parseSentencePieceModel(encodeSpieceModel(twoUnk), 'd.model')).toThrow(/d\.model: has 2 UNKNOWN pieces/);
    const dup = [...TINY_T5_PIECES, { piece: '▁cat', score: -9 }];
    expect(() => parseSentencePieceModel(encodeSpieceModel(dup), 'e.model')).toThrow(/"▁cat" appears twice/);
    const unkMoved = TINY_T5_PIECES.map((p, i) => (i === 2 ? { ...p, type: CONTROL } : i === 3 ? { ...p, type: UNKNOWN } : p));
    expect(() => parseSentencePieceModel(encodeSpieceModel(unkMoved), 'f.model')).toThrow(/unk_id is 2 but the UNKNOWN piece is id 3/);
  });
});

describe('precompiled charsmap', () => {
  it('finds every key, prefers the longest, copies unmatched characters', () => {
    const cm = PrecompiledCharsmap.parse(buildCharsmap(TINY_CHARSMAP_RULES), 'test');
    expect(cm.normalize('ｃｃ ｃ ａ\tb\u200bc cafe\u0301 ﬀ e 日本')).toBe('cat c a bc café ff e 日本');
    expect(cm.normalize('')).toBe('');
    expect(() => PrecompiledCharsmap.parse(new Uint8Array([255, 255, 0, 0, 1, 2]), 'blob')).toThrow(/blob: precompiled charsmap trie size 65535 exceeds the blob/);
    expect(() => PrecompiledCharsmap.parse(new Uint8Array([1, 0]), 'blob')).toThrow(/too short/);
  });
  it('decodes an independently laid-out darts array (test vector of huggingface/spm_precompiled)', () => {
    // 256 units; root offset 0. "a" at unit 97 (leaf, offset 1 -> value unit 96 = string 0 "x");
    // "ab": unit 96^98=2 (leaf, offset 1 -> value unit 3 = string 2 "y"); "a"+U+0300 (CC 80):
    // unit 96^0xCC=172 (offset 1 -> 173), unit 173^0x80=45 (leaf, offset 1 -> value unit 44 = "y").
    // Value units here carry no bit 31, unlike darts-clone's own builder.
    const units = new Uint32Array(256);
    const unit = (label: number, leaf: boolean, offset: number) => label | (leaf ? 1 << 8 : 0) | (offset << 10);
    units[97] = unit(97, true, 1);
    units[96] = 0;
    units[2] = unit(98, true, 1);
    units[3] = 2;
    units[172] = unit(0xcc, false, 1);
    units[45] = unit(0x80, true, 1);
    units[44] = 2;
    const blob = new Uint8Array(4 + 1024 + 4);
    new DataView(blob.buffer).setUint32(0, 1024, true);
    units.forEach((u, i) => new DataView(blob.buffer).setUint32(4 + 4 * i, u, true));
    blob.set([0x78, 0, 0x79, 0], 4 + 1024);
    const cm = PrecompiledCharsmap.parse(blob, 'vector');
    expect(cm.normalize('ab')).toBe('y');
    expect(cm.normalize('abc')).toBe('yc');
    expect(cm.normalize('a\u0300')).toBe('y');
    expect(cm.normalize('a\u0300z')).toBe('yz');
    expect(cm.normalize('a')).toBe('x');
    expect(cm.normalize('ba')).toBe('bx');
  });
});

describe('T5Tokenizer', () => {
  it('converts spiece.model like HF T5Converter (vocab + extra_ids, normalizers, Metaspace, </s> template)', () => {
    const model = parseSentencePieceModel(encodeSpieceModel(TINY_T5_PIECES), 'spiece.model');
    const json = t5TokenizerJsonFromSentencePiece(model, 'spiece.model', { extraIds: 2 }) as unknown as T5Json;
    expect(json.model.vocab.slice(-2)).toEqual([['<extra_id_1>', 0], ['<extra_id_0>', 0]]);
    expect(json.model.unk_id).toBe(2);
    expect(json.normalizer.normalizers.map((n) => n.type)).toEqual(['Strip', 'Replace']);
    expect(json.pre_tokenizer).toMatchObject({ type: 'Metaspace', replacement: '▁', prepend_scheme: 'always' });
    expect(json.added_tokens.map((t) => [t.id, t.content])).toEqual([[0, '<pad>'], [1, '</s>'], [2, '<unk>'], [V, '<extra_id_1>'], [V + 1, '<extra_id_0>']]);
    expect(json.post_processor.special_tokens['</s>'].ids).toEqual([1]);
    const withMap = t5TokenizerJsonFromSentencePiece(parseSentencePieceModel(encodeSpieceModel(TINY_T5_PIECES, { charsmap: buildCharsmap({ a: 'b' }) }), 'x'), 'x') as unknown as T5Json;
    expect(withMap.normalizer.normalizers[0].type).toBe('Precompiled');
    expect(withMap.model.vocab.length).toBe(V + 100); // T5Tokenizer's default extra_ids
  });

  it('encodes hand-checked prompts (Viterbi over the piece scores, unknowns fused, EOS, pad 0)', async () => {
    const tok = await T5Tokenizer.fromFolder(spmFolder());
    const cases: Array<[string, number[]]> = [
      ['a cat', [piece('▁a'), piece('▁cat')]],
      ['  the   cat  ', [piece('▁the'), piece('▁cat')]],
      ['cats', [piece('▁cat'), piece('s')]],
      ['café', [piece('▁café')]],
      ['日本', [piece('▁日本')]],
      ['x😀y', [piece('▁x'), UNK]],
      ['the dog.', [piece('▁the'), piece('▁dog'), piece('.')]],
      ['', []],
      ['the<extra_id_0>cat', [piece('▁the'), V + EXTRA_IDS - 1, piece('▁cat')]],
    ];
    for (const [prompt, content] of cases) expect([...tok.encode(prompt)], prompt).toEqual(padded(content));
    expect(tok.tokens('cats, dogs!')).toEqual(['▁cat', 's', ',', '▁dog', 's', '!']);
    // slow T5Tokenizer: no second </s> when the text already ends with it
    expect([...tok.encode('the cat</s>')]).toEqual(padded([piece('▁the'), piece('▁cat')]));
  });

  it('spiece.model and an equivalent hand-written tokenizer.json give identical ids (no charsmap)', async () => {
    const a = await T5Tokenizer.fromFolder(spmFolder());
    const b = await T5Tokenizer.fromFolder(jsonFolder());
    expect(a.source.endsWith('spiece.model')).toBe(true);
    expect(b.source.endsWith('tokenizer.json')).toBe(true);
    for (const p of PROMPTS) {
      const ids = a.encode(p);
      expect(ids.length).toBe(512);
      expect([...ids], JSON.stringify(p.slice(0, 40))).toEqual([...b.encode(p)]);
    }
  });

  it('spiece.model and tokenizer.json agree with a precompiled charsmap, applied exactly (not NFKC)', async () => {
    const cm = buildCharsmap(TINY_CHARSMAP_RULES);
    const a = await T5Tokenizer.fromFolder(spmFolder(cm));
    const b = await T5Tokenizer.fromFolder(jsonFolder(cm));
    const prompts = [...PROMPTS, 'the\tcat\non\u3000the mat', 'ｃｃ ｃａｔ', 'cafe\u0301', 'the\u200b cat', '\n\nthe cat\t'];
    for (const p of prompts) expect([...a.encode(p)], JSON.stringify(p.slice(0, 40))).toEqual([...b.encode(p)]);
    // "ｃｃ" -> "cat" by the longest rule; NFKC would give "cc"
    expect(a.tokens('ｃｃ')).toEqual(['▁cat']);
    expect([...a.encode('the\tcat\non\u3000the mat')].slice(0, 6)).toEqual(padded([piece('▁the'), piece('▁cat'), piece('▁on'), piece('▁the'), piece('▁mat')]).slice(0, 6));
    expect(a.tokens('cafe\u0301')).toEqual(['▁café']);
  });

  it('truncates to maxLength with EOS last; honours other lengths', async () => {
    const tok = await T5Tokenizer.fromFolder(spmFolder());
    const long = 'the cat '.repeat(400);
    const content = tok.contentIds(long);
    expect(content.length).toBe(800);
    const ids = tok.encode(long);
    expect(ids.length).toBe(512);
    expect(ids[511]).toBe(BigInt(EOS));
    expect([...ids.slice(0, 511)]).toEqual(content.slice(0, 511).map(BigInt));
    const short = tok.encode('the cat on the mat', 4);
    expect([...short]).toEqual([piece('▁the'), piece('▁cat'), piece('▁on'), EOS].map(BigInt));
    expect([...tok.encode('a cat', 16)]).toEqual(padded([piece('▁a'), piece('▁cat')], 16));
    expect(() => tok.encode('a', 0)).toThrow(/maxLength/);
  });

  it('reads pad/eos from special_tokens_map.json (AddedToken objects) and legacy=false', async () => {
    const dir = writeFiles(tempDir('t5cfg'), {
      'spiece.model': encodeSpieceModel(TINY_T5_PIECES),
      'tokenizer_config.json': { extra_ids: 0, legacy: false },
      'special_tokens_map.json': { eos_token: { content: '</s>', lstrip: false }, pad_token: { content: '<pad>' } },
    });
    const tok = await T5Tokenizer.fromFolder(dir);
    expect(tok.padId).toBe(0);
    expect(tok.eosId).toBe(1);
    // legacy=false: the text after a special token gets no dummy prefix
    expect(tok.tokens('the</s>cat')).toEqual(['▁the', '</s>', 'c', 'a', 't']);
    expect((await T5Tokenizer.fromFolder(spmFolder())).tokens('the</s>cat')).toEqual(['▁the', '</s>', '▁cat']);
  });

  it('reports missing and corrupt files clearly', async () => {
    const empty = tempDir('t5empty');
    await expect(T5Tokenizer.fromFolder(empty)).rejects.toThrow(/has neither tokenizer\.json nor spiece\.model/);
    await expect(T5Tokenizer.fromFolder(path.join(empty, 'nope'))).rejects.toThrow(/not a folder/);
    const corrupt = writeFiles(tempDir('t5bad'), { 'spiece.model': new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f, 1, 2]) });
    await expect(T5Tokenizer.fromFolder(corrupt)).rejects.toThrow(/spiece\.model: cannot decode/);
    const lfs = writeFiles(tempDir('t5lfs'), { 'spiece.model': 'version https://git-lfs.github.com/spec/v1\noid sha256:4e28ff6ebdf584f5372d9de68867399142435d9\nsize 791656\n' });
    await expect(T5Tokenizer.fromFolder(lfs)).rejects.toThrow(/spiece\.model: cannot decode .*expected a SentencePiece model/);
    const badJson = writeFiles(tempDir('t5badjson'), { 'tokenizer.json': '{"model": ' });
    await expect(T5Tokenizer.fromFolder(badJson)).rejects.toThrow(/tokenizer\.json: not valid JSON/);
    const bpe = writeFiles(tempDir('t5bpe'), { 'tokenizer.json': { model: { type: 'BPE', vocab: { a: 0 }, merges: [] } } });
    await expect(T5Tokenizer.fromFolder(bpe)).rejects.toThrow(/tokenizer\.json: model type is "BPE"; expected a Unigram model/);
    const noPad = writeFiles(tempDir('t5nopad'), { 'spiece.model': encodeSpieceModel(TINY_T5_PIECES), 'tokenizer_config.json': { pad_token: '<padding>' } });
    await expect(T5Tokenizer.fromFolder(noPad)).rejects.toThrow(/the pad token "<padding>" is not in the vocabulary/);
    const badCfg = writeFiles(tempDir('t5badcfg'), { 'spiece.model': encodeSpieceModel(TINY_T5_PIECES), 'tokenizer_config.json': '[1]' });
    await expect(T5Tokenizer.fromFolder(badCfg)).rejects.toThrow(/tokenizer_config\.json: expected the tokenizer_config .*got an array/);
    const badMap = writeFiles(tempDir('t5badmap'), { 'tokenizer.json': handWrittenTokenizerJson(new Uint8Array([9, 9, 9, 9, 9])) });
    await expect(T5Tokenizer.fromFolder(badMap)).rejects.toThrow(/tokenizer\.json \(precompiled_charsmap\): precompiled charsmap trie size/);
    expect(fs.existsSync(path.join(empty, 'spiece.model'))).toBe(false);
  });
});
