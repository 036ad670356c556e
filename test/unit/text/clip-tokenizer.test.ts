import { describe, expect, it } from 'vitest';
import { ClipTokenizer, clipTokenizerJsonFromVocab, parseClipMerges } from '../../../electron/engine/text/clip-tokenizer.js';
import { TINY_CLIP_MERGES, bytesToUnicode, mergesTxt, tempDir, tinyClipVocab, writeFiles } from './tokenizer-fixtures.js';

const VOCAB = tinyClipVocab();
const BOS = VOCAB['<|startoftext|>'];
const EOS = VOCAB['<|endoftext|>'];
const id = (t: string): number => {
  const v = VOCAB[t];
  if (v === undefined) throw new Error(`no token ${t}`);
  return v;
};

/** A tokenizer.json laid out like openai/clip-vit-large-patch14's (specials in the split regex too). */
function handWrittenTokenizerJson(vocab: Record<string, number>, merges: Array<[string, string]>): object {
  const special = (content: string) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special('<|startoftext|>'), special('<|endoftext|>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }] },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: ['<|endoftext|>', vocab['<|endoftext|>']], cls: ['<|startoftext|>', vocab['<|startoftext|>']], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: '<|endoftext|>', continuing_subword_prefix: '', end_of_word_suffix: '</w>', fuse_unk: false,
      vocab, merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

const OPENAI_CONFIG = {
  tokenizer_config: { unk_token: { content: '<|endoftext|>', __type: 'AddedToken' }, bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', model_max_length: 77 },
  special_tokens_map: { bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: '<|endoftext|>' },
  model_config: { architectures: ['CLIPModel'], text_config: { eos_token_id: 2, bos_token_id: 0, pad_token_id: 1 } },
};

function vocabFolder(extra: Record<string, object | string> = {}, vocab = VOCAB, merges = TINY_CLIP_MERGES): string {
  return writeFiles(tempDir('clipvocab'), {
    'vocab.json': vocab, 'merges.txt': mergesTxt(merges),
    'tokenizer_config.json': OPENAI_CONFIG.tokenizer_config, 'special_tokens_map.json': OPENAI_CONFIG.special_tokens_map,
    'config.json': OPENAI_CONFIG.model_config, ...extra,
  });
}
function jsonFolder(vocab = VOCAB, merges = TINY_CLIP_MERGES): string {
  return writeFiles(tempDir('clipjson'), {
    'tokenizer.json': handWrittenTokenizerJson(vocab, merges),
    'tokenizer_config.json': OPENAI_CONFIG.tokenizer_config, 'special_tokens_map.json': OPENAI_CONFIG.special_tokens_map,
    'config.json': OPENAI_CONFIG.model_config,
  });
}

function padded(content: number[], pad = EOS, len = 77): bigint[] {
  const out = [BOS, ...content, EOS];
  while (out.length < len) out.push(pad);
  return out.map(BigInt);
}

const PROMPTS = [
  'a photo of a cat', 'Hello   World!!', '', '  ', "it's a CAT's hat", 'café 日本 😀', 'photo1 2 3', 'HELLO\tworld\nhello',
  'cats, cats!', 'a <|endoftext|> b', 'x'.repeat(300), 'a photo of a cat, '.repeat(30),
];

describe('ClipTokenizer', () => {
  it('parses merges.txt (header, blank lines) and rejects malformed lines with the line number', () => {
    expect(parseClipMerges('#version: 0.2\nh e\n\nl l\n', 'm.txt')).toEqual([['h', 'e'], ['l', 'l']]);
    expect(() => parseClipMerges('#version: 0.2\nh e\nbad\n', 'm.txt')).toThrow(/m\.txt: line 3: expected a merge "left right", got "bad"/);
  });

  it('encodes hand-checked prompts: lowercase, </w> words, BOS/EOS, pad with <|endoftext|>', async () => {
    const tok = await ClipTokenizer.fromFolder(vocabFolder());
    expect(tok.tokens('a photo of a cat')).toEqual(['a</w>', 'photo</w>', 'of</w>', 'a</w>', 'cat</w>']);
    expect(tok.tokens('Hello   World!!')).toEqual(['hello</w>', 'world</w>', '!!</w>']);
    expect(tok.tokens("CAT's")).toEqual(['cat</w>', "'s</w>"]);
    expect(tok.tokens('cats')).toEqual(['ca', 't', 's</w>']); // rank of "c a" beats "a t"; "ca t" is no merge
    const c = bytesToUnicode();
    expect(tok.tokens('é')).toEqual([c[0xc3], `${c[0xa9]}</w>`]); // UTF-8 C3 A9 as byte-level characters
    const enc = tok.encode('a photo of a cat');
    expect([...enc.ids]).toEqual(padded(['a</w>', 'photo</w>', 'of</w>', 'a</w>', 'cat</w>'].map(id)));
    expect(enc.poolIndex).toBe(6);
    const empty = tok.encode('');
    expect([...empty.ids]).toEqual(padded([]));
    expect(empty.poolIndex).toBe(1);
  });

  it('vocab.json + merges.txt and an equivalent hand-written tokenizer.json give identical ids and pool positions', async () => {
    const a = await ClipTokenizer.fromFolder(vocabFolder());
    const b = await ClipTokenizer.fromFolder(jsonFolder());
    expect(a.source).toMatch(/vocab\.json \+ .*merges\.txt$/);
    expect(b.source).toMatch(/tokenizer\.json$/);
    for (const p of PROMPTS) {
      const ea = a.encode(p);
      const eb = b.encode(p);
      expect(ea.ids.length).toBe(77);
      expect([...ea.ids], JSON.stringify(p.slice(0, 40))).toEqual([...eb.ids]);
      expect(ea.poolIndex).toBe(eb.poolIndex);
    }
  });

  it('truncates to 77 keeping EOS last', async () => {
    const tok = await ClipTokenizer.fromFolder(vocabFolder());
    const long = 'a photo of a cat, '.repeat(30);
    const content = tok.contentIds(long);
    expect(content.length).toBe(180);
    const { ids, poolIndex } = tok.encode(long);
    expect(ids[0]).toBe(BigInt(BOS));
    expect(ids[76]).toBe(BigInt(EOS));
    expect([...ids.slice(1, 76)]).toEqual(content.slice(0, 75).map(BigInt));
    expect(poolIndex).toBe(76);
    const exact = tok.encode('cat '.repeat(75));
    expect(exact.ids[76]).toBe(BigInt(EOS));
    expect(exact.ids[75]).toBe(BigInt(id('cat</w>')));
  });

  it('pools like HF: legacy eos_token_id 2 -> argmax of ids, otherwise the first EOS', async () => {
    // a token with an id above EOS makes the two rules differ
    const vocab = tinyClipVocab(['zz</w>']);
    const merges: Array<[string, string]> = [...TINY_CLIP_MERGES, ['z', 'z</w>']];
    const legacy = await ClipTokenizer.fromFolder(vocabFolder({}, vocab, merges));
    expect(legacy.modelEosTokenId).toBe(2);
    const e1 = legacy.encode('a zz cat');
    expect(e1.ids[2]).toBe(BigInt(vocab['zz</w>']));
    expect(e1.poolIndex).toBe(2); // argmax: the top id, not the EOS at 4
    const modern = await ClipTokenizer.fromFolder(vocabFolder({ 'config.json': { text_config: { eos_token_id: vocab['<|endoftext|>'] } } }, vocab, merges));
    expect(modern.encode('a zz cat').poolIndex).toBe(4);
    // a literal <|endoftext|> in the prompt is the special token, and it is the first EOS
    expect(modern.encode('a <|endoftext|> cat').poolIndex).toBe(2);
    const noConfig = writeFiles(tempDir('clipnocfg'), { 'vocab.json': vocab, 'merges.txt': mergesTxt(merges) });
    expect((await ClipTokenizer.fromFolder(noConfig)).modelEosTokenId).toBe(2);
    expect((await ClipTokenizer.fromFolder(noConfig, { modelEosTokenId: 7 })).modelEosTokenId).toBe(7);
  });

  it('pads with the pad token the repo declares', async () => {
    const dir = vocabFolder({ 'special_tokens_map.json': { pad_token: '!' } });
    const tok = await ClipTokenizer.fromFolder(dir);
    expect(tok.padId).toBe(id('!'));
    const { ids, poolIndex } = tok.encode('a cat');
    expect([...ids]).toEqual(padded([id('a</w>'), id('cat</w>')], id('!')));
    expect(poolIndex).toBe(3); // EOS is still the largest id
  });

  it('builds the same tokenizer.json structure as HF CLIPConverter', () => {
    const json = clipTokenizerJsonFromVocab(VOCAB, TINY_CLIP_MERGES, 'x') as { model: object; post_processor: object; added_tokens: Array<{ content: string }> };
    expect(json.model).toMatchObject({ type: 'BPE', end_of_word_suffix: '</w>', continuing_subword_prefix: '', unk_token: '<|endoftext|>', fuse_unk: false });
    expect(json.post_processor).toMatchObject({ type: 'RobertaProcessing', cls: ['<|startoftext|>', BOS], sep: ['<|endoftext|>', EOS] });
    expect(json.added_tokens.map((t) => t.content)).toEqual(['<|startoftext|>', '<|endoftext|>']);
  });

  it('reports missing and corrupt files clearly', async () => {
    await expect(ClipTokenizer.fromFolder(tempDir('clipempty'))).rejects.toThrow(/has neither tokenizer\.json nor vocab\.json \+ merges\.txt/);
    const noMerges = writeFiles(tempDir('clipnomerges'), { 'vocab.json': VOCAB });
    await expect(ClipTokenizer.fromFolder(noMerges)).rejects.toThrow(/merges\.txt: file not found; expected the CLIP BPE merges/);
    const badVocab = writeFiles(tempDir('clipbadvocab'), { 'vocab.json': '{"a": 0,', 'merges.txt': '#version: 0.2\n' });
    await expect(ClipTokenizer.fromFolder(badVocab)).rejects.toThrow(/vocab\.json: not valid JSON .*expected a CLIP BPE vocabulary/);
    const unknownMerge = writeFiles(tempDir('clipbadmerge'), { 'vocab.json': VOCAB, 'merges.txt': '#version: 0.2\nq zq\n' });
    await expect(ClipTokenizer.fromFolder(unknownMerge)).rejects.toThrow(/merge 1 "q zq": token "zq" is not in the vocabulary/);
    const noBos = { ...VOCAB };
    delete (noBos as Record<string, number>)['<|startoftext|>'];
    await expect(ClipTokenizer.fromFolder(vocabFolder({}, noBos))).rejects.toThrow(/the bos token "<\|startoftext\|>" is not in the vocabulary/);
    const unigram = writeFiles(tempDir('clipunigram'), { 'tokenizer.json': { model: { type: 'Unigram', unk_id: 0, vocab: [['a', 0]] } } });
    await expect(ClipTokenizer.fromFolder(unigram)).rejects.toThrow(/tokenizer\.json: model\.end_of_word_suffix is null; a CLIP BPE model uses "<\/w>"/);
    const badPad = vocabFolder({ 'special_tokens_map.json': { pad_token: 5 } });
    await expect(ClipTokenizer.fromFolder(badPad)).rejects.toThrow(/special_tokens_map\.json: "pad_token" must be a token string/);
  });
});
