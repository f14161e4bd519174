/**
 * The layout copy under permute, split and concat: a strided copy between two tensors of one dtype, with
 * the axes merged first (size-1 axes dropped, neighbours that are contiguous in both tensors joined), so a
 * copy of any rank usually reaches the addon as one to three axes.
 * @internal
 */
import { native } from '../native';
import { dtypeCode } from '../dtype';
import { rangeError } from '../errors';
import { Tensor } from '../tensor';

/** Row-major strides (in elements) of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** A strided walk over `shape` in two tensors at once. */
export interface CopyWalk {
  shape: number[];
  srcStrides: number[];
  dstStrides: number[];
}

/** The walk with size-1 axes dropped and mergeable neighbours joined (same elements, same order). */
export function mergeAxes(w: CopyWalk): CopyWalk {
  const out: CopyWalk = { shape: [], srcStrides: [], dstStrides: [] };
  w.shape.forEach((n, i) => {
    if (n === 1) return;
    const last = out.shape.length - 1;
    if (last >= 0 && out.srcStrides[last] === w.srcStrides[i] * n && out.dstStrides[last] === w.dstStrides[i] * n) {
      out.shape[last] *= n;
      out.srcStrides[last] = w.srcStrides[i];
      out.dstStrides[last] = w.dstStrides[i];
      return;
    }
    out.shape.push(n);
    out.srcStrides.push(w.srcStrides[i]);
    out.dstStrides.push(w.dstStrides[i]);
  });
  return out;
}

/** The most axes the addon's strided copy takes after merging. */
const MAX_COPY_AXES = 8;

/** Enqueues dst[dstOffset + walk] = src[srcOffset + walk] (`fn` names the op in errors). */
export function copyStrided(fn: string, src: Tensor, dst: Tensor, walk: CopyWalk, srcOffset = 0, dstOffset = 0): void {
  if (walk.shape.some((n) => n === 0)) return;
  const m = mergeAxes(walk);
  if (m.shape.length > MAX_COPY_AXES) {
    throw rangeError(
      'ERR_NATTEN_UNSUPPORTED',
      `${fn}: this layout change needs a copy over ${m.shape.length} axes, at most ${MAX_COPY_AXES} are supported`,
    );
  }
  native.stridedCopy({
    dtype: dtypeCode(src.dtype),
    shape: m.shape,
    srcStrides: m.srcStrides,
    dstStrides: m.dstStrides,
    srcOffset,
    dstOffset,
    src: src.handle(),
    dst: dst.handle(),
  });
}
