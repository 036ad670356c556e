// A SentencePiece `precompiled_charsmap` (NormalizerSpec field 2; base64 in tokenizer.json's
// `Precompiled` normalizer) and the normalization it defines, as the sentencepiece library
// applies it (normalizer.cc `NormalizePrefix`).
//
// Blob layout: uint32 little-endian byte size of the trie, the trie (a darts-clone double array of
// uint32 units), then the replacement strings, each NUL-terminated. Keys are UTF-8 byte strings;
// the value of a key is the byte offset of its replacement.
//
// Normalization walks the UTF-8 bytes of the text: at each position the LONGEST key that is a
// prefix of the rest is replaced by its string and consumed; with no key, one UTF-8 character is
// copied unchanged.

const HAS_LEAF_BIT = 1 << 8;
const MAX_RESULTS = 32; // sentencepiece keeps at most this many prefix matches per position

function unitOffset(u: number): number {
  return (u >>> 10) << ((u & (1 << 9)) >>> 6);
}
function unitLabel(u: number): number {
  return (u & (0x80000000 | 0xff)) >>> 0;
}
function unitValue(u: number): number {
  return u & 0x7fffffff;
}

export class PrecompiledCharsmap {
  private constructor(
    private readonly units: Uint32Array,
    private readonly strings: Uint8Array,
  ) {}

  /** Parse a charsmap blob; `source` names where it came from, for errors. */
  static parse(blob: Uint8Array, source: string): PrecompiledCharsmap {
    if (blob.length <= 4) throw new Error(`${source}: precompiled charsmap of ${blob.length} bytes is too short (expected a 4-byte trie size, the trie and the strings)`);
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieBytes = view.getUint32(0, true);
    if (trieBytes > blob.length - 4) {
      throw new Error(`${source}: precompiled charsmap trie size ${trieBytes} exceeds the blob (${blob.length} bytes)`);
    }
    if (trieBytes % 4 !== 0 || trieBytes === 0) throw new Error(`${source}: precompiled charsmap trie size ${trieBytes} is not a positive multiple of 4 bytes`);
    const units = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < units.length; i++) units[i] = view.getUint32(4 + 4 * i, true);
    const strings = blob.slice(4 + trieBytes);
    return new PrecompiledCharsmap(units, strings);
  }

  /**
   * Darts-clone common-prefix search over `bytes[start..]`: the longest matching key as
   * [length in bytes, value], or null.
   */
  longestMatch(bytes: Uint8Array, start: number): [number, number] | null {
    const a = this.units;
    let id = unitOffset(a[0]);
    let found = 0;
    let best: [number, number] | null = null;
    for (let i = start; i < bytes.length; i++) {
      id ^= bytes[i];
      if (id >= a.length) return best;
      const u = a[id];
      if (unitLabel(u) !== bytes[i]) return best;
      id ^= unitOffset(u);
      if (u & HAS_LEAF_BIT) {
        if (id >= a.length) return best;
        if (found < MAX_RESULTS) {
          const len = i - start + 1;
          if (best === null || len > best[0]) best = [len, unitValue(a[id])];
        }
        found++;
      }
    }
    return best;
  }

  /** The NUL-terminated replacement string stored at `offset`. */
  private replacement(offset: number): Uint8Array {
    if (offset >= this.strings.length) return new Uint8Array(0);
    let end = offset;
    while (end < this.strings.length && this.strings[end] !== 0) end++;
    return this.strings.subarray(offset, end);
  }

  /** Apply the charsmap to a whole string. */
  normalize(text: string): string {
    const bytes = new TextEncoder().encode(text);
    const out: number[] = [];
    let i = 0;
    while (i < bytes.length) {
      const m = this.longestMatch(bytes, i);
      if (m) {
        for (const b of this.replacement(m[1])) out.push(b);
        i += m[0];
      } else {
        const n = utf8Length(bytes[i]);
        for (let k = 0; k < n && i < bytes.length; k++) out.push(bytes[i++]);
      }
    }
    return new TextDecoder().decode(new Uint8Array(out));
  }
}

/** Length of the UTF-8 sequence starting with `lead` (TextEncoder output is always valid). */
function utf8Length(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  return 4;
}
