// torch's CPU generator (`torch.Generator('cpu').manual_seed(seed)`): a 32-bit Mersenne Twister
// seeded with the low 32 bits of the seed, plus the cached second normal sample that
// `at::normal_distribution<double>` keeps. Hand-written: no npm package reproduces torch's stream.

const N = 624;
const M = 397;

export class TorchGenerator {
  private readonly mt = new Uint32Array(N);
  private index = N;
  /** Second Box–Muller sample cached by torch's scalar normal path. */
  nextDoubleNormal: number | null = null;

  constructor(readonly seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new Error(`seed must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER} (got ${seed})`);
    }
    // torch seeds mt19937 with the seed truncated to 32 bits.
    this.mt[0] = seed % 0x100000000;
    for (let i = 1; i < N; i++) {
      const prev = this.mt[i - 1] ^ (this.mt[i - 1] >>> 30);
      this.mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
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

  /** Two outputs combined high then low (`random64()`), as a BigInt. */
  random64(): bigint {
    const hi = this.random();
    const lo = this.random();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }
}
