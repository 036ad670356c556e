// `torch.randn` on the CPU as torch 1.13.1 computes it on an x86-64 AVX2 machine, bit for bit:
// uniforms from the generator, then Box–Muller exactly as torch's kernels do it.
// - float32, >= 16 elements (contiguous): `normal_fill_AVX2`. Its log/sin/cos are avx_mathfun's
//   cephes float polynomials (not libm, not SLEEF), emulated here in float32 step by step, with the
//   multiply-adds fused the way GCC contracts them (the golden tells the fused and unfused forms apart).
// - bfloat16, >= 16 elements: `normal_fill` / `normal_fill_16` in c10::BFloat16 arithmetic, where
//   every operator and every std:: maths function returns a bfloat16 (so each step rounds), on
//   8-bit uniforms.
// - fewer than 16 elements, any dtype: the scalar `at::normal_distribution<double>` path on 53-bit
//   uniforms, which caches its second sample in the generator.
//
// Stream order (what a later draw from the same generator sees), as in torch:
// - >= 16 elements: exactly `size` 32-bit outputs, plus 16 more when `size % 16 != 0` (the last 16
//   values are recomputed from fresh uniforms). The generator's normal cache is neither used nor set.
// - < 16 elements: each value first takes the cached sample if there is one; otherwise it draws two
//   64-bit uniforms (4 outputs), returns r·cos θ and caches r·sin θ for the next scalar draw.
// So `torchRandn(g, a)` followed by `torchRandn(g, b)` continues the stream exactly as two
// consecutive `torch.randn(..., generator=g)` calls do (UNO: the bf16 noise, then one float32
// posterior eps per reference, in reference order).
import { TorchGenerator, type TorchSeed } from './torch-generator.js';
import { roundToBf16 } from './bf16.js';

const f = Math.fround;
/** Fused multiply-add in float32: the product of two floats is exact in a double. */
const fma = (a: number, b: number, c: number): number => f(a * b + c);

export type RandnDType = 'float32' | 'bfloat16';

/** float32 uniform in [0, 1): 24 random bits (`uniform_real_distribution<float>`). */
function uniformF32(g: TorchGenerator): number {
  return (g.random() & 0xffffff) / 16777216;
}

/** bfloat16 uniform in [0, 1): 8 random bits. */
function uniformBf16(g: TorchGenerator): number {
  return (g.random() & 0xff) / 256;
}

/** double uniform in [0, 1): 53 bits of random64(). */
function uniformF64(g: TorchGenerator): number {
  const v = g.random64() & ((1n << 53n) - 1n);
  return Number(v) / 9007199254740992;
}

// ---- avx_mathfun float polynomials (cephes coefficients) -----------------------------------

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

function bitsOf(x: number): number {
  f32buf[0] = x;
  return u32buf[0];
}

function fromBits(b: number): number {
  u32buf[0] = b >>> 0;
  return f32buf[0];
}

const SQRTHF = f(Math.SQRT1_2);
const LOG_P = [7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
  -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1].map(f);
const LOG_Q1 = f(-2.12194440e-4);
const LOG_Q2 = f(0.693359375);

/** log of a float in (0, 1], as avx_mathfun's log256_ps computes it. */
export function avxLogF32(xIn: number): number {
  let x = f(Math.max(xIn, 1.17549435e-38));
  const bits = bitsOf(x);
  let e = f(((bits >>> 23) & 0xff) - 127);
  x = fromBits((bits & ~0x7f800000) | 0x3f000000);
  e = f(e + 1);
  const lt = x < SQRTHF;
  const tmp = lt ? x : 0;
  x = f(x - 1);
  if (lt) e = f(e - 1);
  x = f(x + tmp);
  const z = f(x * x);
  let y = LOG_P[0];
  // torch builds these kernels with FMA enabled, and GCC contracts a multiply into the add that
  // uses it, taking the multiplies in program order (so `y*z + e*q1` fuses y*z, not e*q1).
  for (let k = 1; k < LOG_P.length; k++) y = fma(y, x, LOG_P[k]);
  y = f(y * x);
  y = fma(y, z, f(e * LOG_Q1));
  y = fma(-z, 0.5, y);
  x = f(x + y);
  x = fma(e, LOG_Q2, x);
  return x;
}

const FOPI = f(1.27323954473516);
const DP1 = f(-0.78515625);
const DP2 = f(-2.4187564849853515625e-4);
const DP3 = f(-3.774894977445941e-8);
const COS_P = [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2].map(f);
const SIN_P = [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1].map(f);

/** [sin, cos] of a non-negative float, as avx_mathfun's sincos256_ps computes them. */
export function avxSinCosF32(xIn: number): [number, number] {
  let x = f(Math.abs(xIn));
  let signSin = xIn < 0;
  let j = Math.trunc(f(x * FOPI));
  j = (j + 1) & ~1;
  const y = f(j);
  const swapSin = (j & 4) !== 0;
  const polyMask = (j & 2) === 0;
  x = fma(y, DP1, x);
  x = fma(y, DP2, x);
  x = fma(y, DP3, x);
  const signCos = ((~(j - 2)) & 4) !== 0;
  signSin = signSin !== swapSin;
  const z = f(x * x);
  let yc = COS_P[0];
  yc = fma(yc, z, COS_P[1]);
  yc = fma(yc, z, COS_P[2]);
  yc = f(yc * z);
  yc = fma(yc, z, -f(z * 0.5));
  yc = f(yc + 1);
  let ys = SIN_P[0];
  ys = fma(ys, z, SIN_P[1]);
  ys = fma(ys, z, SIN_P[2]);
  ys = f(ys * z);
  ys = fma(ys, x, x);
  const s = polyMask ? ys : yc;
  const c = polyMask ? yc : ys;
  return [signSin ? -s : s, signCos ? -c : c];
}

const TWO_PI_F = f(2 * Math.PI);

function normalFill16F32(d: Float32Array, o: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = f(1 - d[o + j]);
    const u2 = d[o + j + 8];
    const radius = f(Math.sqrt(f(-2 * avxLogF32(u1))));
    const theta = f(TWO_PI_F * u2);
    const [s, c] = avxSinCosF32(theta);
    d[o + j] = f(radius * c);
    d[o + j + 8] = f(radius * s);
  }
}

function normalFill16Bf16(d: Float32Array, o: number): void {
  // c10::BFloat16 maths: every std:: function and every operator returns a bfloat16.
  const b = roundToBf16;
  for (let j = 0; j < 8; j++) {
    const u1 = b(1 - d[o + j]);
    const u2 = d[o + j + 8];
    const radius = b(Math.sqrt(b(-2 * b(Math.log(u1)))));
    const theta = b(f(2 * Math.PI * u2));
    d[o + j] = b(b(radius * b(Math.cos(theta))) * 1) + 0;
    d[o + j + 8] = b(b(radius * b(Math.sin(theta))) * 1) + 0;
  }
}

/**
 * The scalar path: `at::normal_distribution<double>` (mean 0, std 1) with its cached second sample.
 * `x * 1 + 0` is torch's `x * std + mean` (it turns -0 into +0).
 */
function scalarNormal(g: TorchGenerator): number {
  if (g.nextDoubleNormal !== null) {
    const v = g.nextDoubleNormal;
    g.nextDoubleNormal = null;
    return v * 1 + 0;
  }
  const u1 = uniformF64(g);
  const u2 = uniformF64(g);
  // torch 1.13 writes log(1 - u2); 1 - u2 is exact for a 53-bit uniform (later torch uses log1p(-u2)).
  const r = Math.sqrt(-2 * Math.log(1 - u2));
  const theta = 2 * Math.PI * u1;
  g.nextDoubleNormal = r * Math.sin(theta);
  return r * Math.cos(theta) * 1 + 0;
}

function elementCountOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`torchRandn: shape [${shape.join(', ')}] must hold non-negative whole numbers`);
    n *= d;
  }
  if (!Number.isSafeInteger(n) || n > 0x7fffffff) throw new RangeError(`torchRandn: shape [${shape.join(', ')}] has too many elements (${n})`);
  return n;
}

/**
 * `torch.randn(shape, generator=g, dtype=dtype)` on the CPU (contiguous result), advancing `g` as
 * torch does. bfloat16 results come back as float32 values that are exactly bf16-representable.
 */
export function torchRandn(g: TorchGenerator, shape: readonly number[], dtype: RandnDType): Float32Array {
  if (dtype !== 'float32' && dtype !== 'bfloat16') throw new Error(`torchRandn: dtype must be 'float32' or 'bfloat16' (got ${String(dtype)})`);
  const size = elementCountOf(shape);
  const d = new Float32Array(size);
  if (size < 16) {
    for (let i = 0; i < size; i++) d[i] = dtype === 'float32' ? f(scalarNormal(g)) : roundToBf16(scalarNormal(g));
    return d;
  }
  const uniform = dtype === 'float32' ? uniformF32 : uniformBf16;
  const fill = dtype === 'float32' ? normalFill16F32 : normalFill16Bf16;
  for (let i = 0; i < size; i++) d[i] = uniform(g);
  for (let i = 0; i + 16 <= size; i += 16) fill(d, i);
  if (size % 16 !== 0) {
    const o = size - 16;
    for (let i = 0; i < 16; i++) d[o + i] = uniform(g);
    fill(d, o);
  }
  return d;
}

/** Shape of UNO's noise for a request: [1, 16, 2·ceil(h/16), 2·ceil(w/16)]. */
export function unoNoiseShape(width: number, height: number): [number, number, number, number] {
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`UNO noise: ${name} must be a positive whole number of pixels (got ${v})`);
  }
  return [1, 16, 2 * Math.ceil(height / 16), 2 * Math.ceil(width / 16)];
}

export interface UnoNoise {
  shape: [number, number, number, number];
  /** bfloat16 values held as float32 (each exactly representable in bf16). */
  bf16: Float32Array;
  /** The generator after the draw, for the draws that follow (e.g. reference posterior eps). */
  generator: TorchGenerator;
}

/**
 * UNO's `get_noise(1, height, width, device='cpu', dtype=torch.bfloat16, seed)` from a freshly
 * seeded generator. Keep drawing from `generator` to continue torch's stream.
 */
export function unoNoise(seed: TorchSeed, width: number, height: number): UnoNoise {
  const shape = unoNoiseShape(width, height);
  const generator = new TorchGenerator(seed);
  return { shape, bf16: torchRandn(generator, shape, 'bfloat16'), generator };
}
