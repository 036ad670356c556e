// torch's CPU generator (`torch.Generator('cpu').manual_seed(seed)`, also the global generator
// after `torch.manual_seed(seed)`): a 32-bit Mersenne Twister (MT19937) seeded with the low 32 bits
// of the 64-bit seed, plus the cached second Box–Muller sample that `at::normal_distribution<double>`
// keeps between calls. Seeding a generator clears that cache, as `set_current_seed` does in torch.
// Hand-written from the MT19937 definition: no npm package reproduces torch's stream.

const N = 624;
const M = 397;
const MAX_SEED = (1n << 64n) - 1n;

/** A seed as torch accepts it: a whole number in [0, 2^64). Numbers must be safe integers. */
export type TorchSeed = number | bigint;

/** The low 32 bits of a seed, after checking it; throws a clear error for anything torch would not take. */
export function torchSeedLow32(seed: TorchSeed): number {
  if (typeof seed === 'bigint') {
    if (seed < 0n || seed > MAX_SEED) throw new RangeError(`seed must be a whole number from 0 to 2^64 - 1 (got ${seed})`);
    return Number(BigInt.asUintN(32, seed));
  }
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(
      `seed must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER} (got ${String(seed)}); pass a bigint for larger 64-bit seeds`,
    );
  }
  return seed % 0x100000000;
}

export class TorchGenerator {
  private readonly mt = new Uint32Array(N);
  private index = N;
  /**
   * Second Box–Muller sample cached by torch's scalar normal path (tensors with fewer than 16
   * elements). `null` when empty. The vectorised paths (>= 16 elements) neither read nor write it.
   */
  nextDoubleNormal: number | null = null;

  constructor(readonly seed: TorchSeed) {
    this.mt[0] = torchSeedLow32(seed);
    for (let i = 1; i < N; i++) {
      const prev = this.mt[i - 1] ^ (this.mt[i - 1] >>> 30);
      this.mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  /** An independent copy of the full state (twister words, position and normal cache). */
  clone(): TorchGenerator {
    const c = new TorchGenerator(this.seed);
    c.mt.set(this.mt);
    c.index = this.index;
    c.nextDoubleNormal = this.nextDoubleNormal;
    return c;
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < N; i++) {
      const y = (mt[i] & 0x80000000) | (mt[(i + 1) % N] & 0x7fffffff);
      let v = mt[(i + M) % N] ^ (y >>> 1);
      if (y & 1) v ^= 0x9908b0df;
      mt[i] = v >>> 0;
    }
    this.index = 0;
  }

  /** Next 32-bit output (`CPUGeneratorImpl::random()`). */
  random(): number {
    if (this.index >= N) this.twist();
    let y = this.mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** Advance the stream by `count` 32-bit outputs. */
  skip(count: number): void {
    for (let i = 0; i < count; i++) this.random();
  }

  /** Two outputs combined, the first as the high word (`random64()`), as a BigInt. */
  random64(): bigint {
    const hi = this.random();
    const lo = this.random();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }
}
