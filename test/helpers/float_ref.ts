/**
 * Independent JS reference for rounding a double to a binary floating-point format (round to nearest,
 * ties to even), used to check the native float16/bfloat16 conversions bit for bit.
 */

/** A binary format: significand bits after the point, minimum normal exponent, maximum exponent. */
export interface Format {
  mant: number;
  emin: number;
  emax: number;
}
export const HALF: Format = { mant: 10, emin: -14, emax: 15 };
export const BF16: Format = { mant: 7, emin: -126, emax: 127 };

/** Rounds x (any double) to the format; returns the exact value of the result (±Infinity, NaN kept). */
export function roundTo(x: number, f: Format): number {
  if (Number.isNaN(x) || !Number.isFinite(x) || x === 0) return x;
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  const unitExp = Math.max(e, f.emin) - f.mant; // value of the last kept bit
  const q = a / 2 ** unitExp; // exact: scaling by a power of two
  const fl = Math.floor(q);
  const rest = q - fl;
  const r = rest > 0.5 || (rest === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
  const v = r * 2 ** unitExp;
  const max = (2 - 2 ** -f.mant) * 2 ** f.emax;
  return v > max ? sign * Infinity : sign * v;
}

/** Decodes IEEE binary16 bits exactly. */
export function decodeHalf(bits: number): number {
  const s = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Decodes bfloat16 bits exactly. */
export function decodeBf16(bits: number): number {
  const f = new Float32Array(new Uint32Array([bits << 16]).buffer);
  return f[0];
}
