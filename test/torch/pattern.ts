/**
 * The fixed values of the safetensors round trip between Node and Python, the twin of
 * test/torch/pattern.py (both must compute the same numbers): special values, then m / 64 * 2^e for
 * m in [-500, 500] and e in [-20, 11]. Every value is exact in float32 and float64, so rounding to
 * float16 or bfloat16 happens once, to nearest even, on both sides.
 */
import * as natten from '../../lib';

const SPECIALS = [0, -0, 1, -1, 65504, 65520, 2 ** -24, 2 ** -25, 3 * 2 ** -25, Infinity, -Infinity];

/** name -> dtype and shape, as pattern.py's ROUND_TRIP. */
export const ROUND_TRIP: ReadonlyMap<string, { dtype: natten.DType; shape: number[] }> = new Map([
  ['f64', { dtype: 'float64', shape: [3, 7] }],
  ['f32', { dtype: 'float32', shape: [5, 2, 3] }],
  ['f16', { dtype: 'float16', shape: [43] }],
  ['bf16', { dtype: 'bfloat16', shape: [2, 3, 2, 4] }],
  ['bf16.more', { dtype: 'bfloat16', shape: [97] }],
  ['f16.more', { dtype: 'float16', shape: [6, 9] }],
]);

/** The metadata both writers put in the round-trip files. */
export const METADATA: Readonly<Record<string, string>> = { natten_round_trip: 'test/torch/pattern.py' };

/** Element i of the pattern (float64, exact). */
export function patternValue(i: number): number {
  if (i < SPECIALS.length) return SPECIALS[i];
  const r = i - SPECIALS.length;
  const m = ((r * 37) % 1001) - 500;
  const e = ((r * 11) % 32) - 20;
  return (m / 64) * 2 ** e;
}

/** The pattern's first prod(shape) values as a CPU tensor, rounded once to `dtype`. */
export function patternTensor(dtype: natten.DType, shape: readonly number[]): natten.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return natten.tensor(
    Float64Array.from({ length: n }, (_, i) => patternValue(i)),
    [...shape],
    { dtype },
  );
}
