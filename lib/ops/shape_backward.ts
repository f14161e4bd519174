/**
 * Backward of the layout ops (docs/design.md §6 "Training"): each is the layout op that undoes its forward
 * (a permute by the inverse permutation, a split of a concatenation, a concatenation of split parts, the other
 * heads layout). Gradients are in dOut's dtype.
 */
import { describe, rangeError } from '../errors';
import { Tensor } from '../tensor';
import { concat, contiguous, permute, split, toHeadsFirst, toHeadsLast } from './shape_ops';
import { tensorArg } from './validate';

/** Backward of {@link permute} by `dims`: dOut permuted by the inverse permutation. */
export function permuteBackward(dOut: Tensor, dims: readonly number[]): Tensor {
  const fn = 'permuteBackward';
  const g = tensorArg(fn, dOut, 'dOut');
  const r = g.ndim;
  const axes = Array.isArray(dims) ? dims.map((d) => (typeof d === 'number' && d < 0 ? d + r : d)) : [];
  if (axes.length !== r || axes.some((d) => !Number.isInteger(d) || d < 0 || d >= r) || new Set(axes).size !== r)
    throw rangeError(
      'ERR_NATTEN_INVALID_ARG_VALUE',
      `${fn}: dims must be a permutation of the ${r} axes of dOut [${g.shape.join(', ')}], got ${describe(dims)}`,
    );
  const inverse = new Array<number>(r);
  axes.forEach((a, i) => (inverse[a] = i));
  return permute(g, inverse);
}

/** Backward of {@link split} along `axis` (default 0): the parts' gradients concatenated. */
export function splitBackward(dParts: readonly Tensor[], axis = 0): Tensor {
  return concat(dParts, axis);
}

/** Backward of {@link chunk} along `axis` (default 0): the parts' gradients concatenated. */
export function chunkBackward(dParts: readonly Tensor[], axis = 0): Tensor {
  return concat(dParts, axis);
}

/** Backward of {@link concat} along `axis` (default 0) of inputs whose lengths on that axis were `sizes`:
 * dOut split into their gradients. */
export function concatBackward(dOut: Tensor, sizes: readonly number[], axis = 0): Tensor[] {
  return split(tensorArg('concatBackward', dOut, 'dOut'), sizes, axis);
}

/** Backward of {@link contiguous}: dOut itself (a second handle to its storage, as contiguous returns). */
export function contiguousBackward(dOut: Tensor): Tensor {
  return contiguous(tensorArg('contiguousBackward', dOut, 'dOut'));
}

/** Backward of {@link toHeadsFirst}: dOut `[B, H, ...spatial, D]` back to `[B, ...spatial, H, D]`. */
export function toHeadsFirstBackward(dOut: Tensor): Tensor {
  return toHeadsLast(tensorArg('toHeadsFirstBackward', dOut, 'dOut'));
}

/** Backward of {@link toHeadsLast}: dOut `[B, ...spatial, H, D]` back to `[B, H, ...spatial, D]`. */
export function toHeadsLastBackward(dOut: Tensor): Tensor {
  return toHeadsFirst(tensorArg('toHeadsLastBackward', dOut, 'dOut'));
}
