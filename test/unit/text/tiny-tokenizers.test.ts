import { describe, expect, it } from 'vitest';
import { writeTinyClipTokenizer, writeTinyT5Tokenizer } from '../../../electron/engine/kit/tiny-tokenizers.js';
import { T5Tokenizer } from '../../../electron/engine/text/t5-tokenizer.js';
import { ClipTokenizer } from '../../../electron/engine/text/clip-tokenizer.js';
import { tempDir } from './tokenizer-fixtures.js';

describe('tiny kit tokenizers', () => {
  it('write folders the real loaders read; every id fits the returned vocabulary size', async () => {
    const t5Dir = tempDir('kitt5');
    const t5Vocab = await writeTinyT5Tokenizer(t5Dir);
    const t5 = await T5Tokenizer.fromFolder(t5Dir);
    expect(t5.tokens('a photo of a man wearing a red hat')).toEqual(['▁a', '▁photo', '▁of', '▁a', '▁man', '▁wearing', '▁a', '▁red', '▁hat']);
    const ids = t5.encode('A Photo, 日本 <extra_id_0>!');
    expect(Math.max(...[...ids].map(Number))).toBe(t5Vocab - 1); // <extra_id_0> is the last id
    expect(ids.length).toBe(512);

    const clipDir = tempDir('kitclip');
    const clip = await writeTinyClipTokenizer(clipDir);
    const ct = await ClipTokenizer.fromFolder(clipDir);
    expect(ct.tokens('A photo of the CAT')).toEqual(['a</w>', 'photo</w>', 'of</w>', 'the</w>', 'cat</w>']);
    const enc = ct.encode('a portrait of a woman, 日本 😀');
    expect(enc.ids[0]).toBe(BigInt(clip.bosId));
    expect(Math.max(...[...enc.ids].map(Number))).toBe(clip.eosId);
    expect(clip.eosId).toBe(clip.vocabSize - 1);
  });
});
