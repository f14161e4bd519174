/** Element types (docs/design.md §3). Half types are stored as 16-bit patterns; reads return Float32Array. */

/** A tensor element type. `float64` exists on the CPU only (for checks). */
export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64';

/** The typed array `toArray()` returns for a dtype. */
export type ArrayFor<D extends DType> = D extends 'float64' ? Float64Array : Float32Array;

/** Every dtype, in native code order. */
export const DTYPES: readonly DType[] = ['float32', 'float16', 'bfloat16', 'float64'];

/** Native code of a dtype (mirrors kernels/common/dtype.h). @internal */
export function dtypeCode(d: DType): number {
  return DTYPES.indexOf(d);
}

/** Bytes per element. */
export function dtypeSize(d: DType): number {
  return d === 'float64' ? 8 : d === 'float32' ? 4 : 2;
}

/** True for the 16-bit types. */
export function isHalf(d: DType): boolean {
  return d === 'float16' || d === 'bfloat16';
}
