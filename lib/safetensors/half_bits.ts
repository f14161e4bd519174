/**
 * Bit patterns of float16 and bfloat16 values. Tensors read back as float32; writing a half tensor to a
 * file needs its 16-bit pattern, which these give exactly for every value the format holds (and round
 * others to nearest, ties to even).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** bfloat16 bits of a float32 value: its top 16 bits, rounded to nearest even (NaN stays a quiet NaN). */
export function bf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if (Number.isNaN(x)) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** IEEE binary16 bits of a float32 value (round to nearest even; overflow to infinity). */
export function halfBits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal (or zero): the value in units of 2^-24, rounded to nearest even.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    const q = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    return sign | (rest > half || (rest === half && q & 1) ? q + 1 : q);
  }
  const q = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa moves to the next exponent, and from the largest to infinity.
  return sign | (rest > 0x1000 || (rest === 0x1000 && q & 1) ? q + 1 : q);
}
