/**
 * Layout ops (docs/design.md §6 "Tensor ops"): `permute`, `contiguous`, `split`, `chunk`, `concat`, and the
 * two NA layout conversions `toHeadsFirst` / `toHeadsLast`. Tensors are contiguous row-major: a permute or a
 * concatenation is a copy; a part of `split`/`chunk` that is one contiguous run of its input (every axis
 * before the split axis of size 1, as `chunk(t, 3, 0)`) is a view sharing the input's storage, when it
 * starts on a 256-byte boundary (the alignment every kernel may assume); other parts are copies.
 */
import { native } from '../native';
import { dtypeSize } from '../dtype';
import { argTypeError, describe, rangeError } from '../errors';
import { Tensor } from '../tensor';
import { allocOutput, prod, writing } from './problem';
import { copyStrided, stridesOf } from './strided';
import { checkSameDtypeDevice, matchingPair, tensorArg } from './validate';

const shapeStr = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** An axis index in [-rank, rank), normalised to [0, rank). */
function axisArg(fn: string, axis: unknown, rank: number, name = 'axis'): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis)) throw argTypeError(`${fn}: ${name}`, 'an integer', axis);
  if (axis < -rank || axis >= rank)
    throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `${fn}: ${name} must be in [${-rank}, ${rank}), got ${axis}`);
  return axis < 0 ? axis + rank : axis;
}

/** A new tensor holding t's elements with its axes reordered: axis i of the result is axis dims[i] of t. */
export function permute(t: Tensor, dims: readonly number[]): Tensor {
  const fn = 'permute';
  const x = tensorArg(fn, t, 't');
  if (!Array.isArray(dims)) throw argTypeError(`${fn}: dims`, `an array of ${x.ndim} axis indices`, dims);
  const axes = dims.map((d, i) => axisArg(fn, d, x.ndim, `dims[${i}]`));
  if (axes.length !== x.ndim || new Set(axes).size !== x.ndim) {
    throw rangeError(
      'ERR_NATTEN_INVALID_ARG_VALUE',
      `${fn}: dims must be a permutation of the ${x.ndim} axes of t ${shapeStr(x.shape)}, got ${describe(dims)}`,
    );
  }
  const shape = axes.map((a) => x.shape[a]);
  const inStrides = stridesOf(x.shape);
  const out = allocOutput(shape, x.dtype, x);
  writing([out], () =>
    copyStrided(fn, x, out, { shape, srcStrides: axes.map((a) => inStrides[a]), dstStrides: stridesOf(shape) }),
  );
  return out;
}

/** t in contiguous row-major order: every tensor already is, so this is a second handle to the same storage
 * (like {@link Tensor.reshape}; dispose each separately). */
export function contiguous(t: Tensor): Tensor {
  return tensorArg('contiguous', t, 't').reshape(t.shape);
}

/** Part [start, start + len) of axis `axis` of x: a view when it is one aligned contiguous run, else a copy. */
function slice(fn: string, x: Tensor, axis: number, start: number, len: number): Tensor {
  const shape = [...x.shape];
  shape[axis] = len;
  const inner = prod(x.shape.slice(axis + 1));
  const offsetBytes = start * inner * dtypeSize(x.dtype);
  if (prod(x.shape.slice(0, axis)) === 1 && offsetBytes % 256 === 0) {
    const h = native.view({ tensor: x.handle('t'), offset: offsetBytes, bytes: prod(shape) * dtypeSize(x.dtype) });
    return new Tensor(h, shape, x.dtype, x.device);
  }
  const out = allocOutput(shape, x.dtype, x);
  const outer = prod(x.shape.slice(0, axis));
  const walk = { shape: [outer, len * inner], srcStrides: [x.shape[axis] * inner, 1], dstStrides: [len * inner, 1] };
  writing([out], () => copyStrided(fn, x, out, walk, start * inner));
  return out;
}

/**
 * The blocks of t along axis 0, each seen with `shape` (of the same size as one block): views sharing t's
 * storage where each block starts on a 256-byte boundary, else copies (as {@link split}). One native call per
 * block where split then reshape would take two. @internal
 */
export function unstack(t: Tensor, shape: readonly number[]): Tensor[] {
  const n = t.shape[0];
  const bytes = (t.numel / n) * dtypeSize(t.dtype);
  if (prod(shape) * n !== t.numel)
    throw rangeError('ERR_NATTEN_INVALID_SHAPE', `unstack: [${shape.join(', ')}] is not the size of a block of t`);
  if (bytes % 256 !== 0) return split(t, 1, 0).map((p) => reshapeOwned(p, shape));
  const h = t.handle('t');
  return Array.from(
    { length: n },
    (_, i) => new Tensor(native.view({ tensor: h, offset: i * bytes, bytes }), shape, t.dtype, t.device),
  );
}

/** p seen with `shape`, p's own handle released. */
function reshapeOwned(p: Tensor, shape: readonly number[]): Tensor {
  const r = p.reshape(shape);
  p.dispose();
  return r;
}

/**
 * Splits t along `axis` (default 0): `sizes` a number (parts of that size, the last one smaller) or the
 * list of part sizes (summing to the axis length), as PyTorch's `split`.
 */
export function split(t: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const fn = 'split';
  const x = tensorArg(fn, t, 't');
  if (x.ndim < 1) throw rangeError('ERR_NATTEN_INVALID_SHAPE', `${fn}: t must have at least one axis, got a scalar`);
  const ax = axisArg(fn, axis, x.ndim);
  const L = x.shape[ax];
  let parts: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes < 1)
      throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `${fn}: sizes must be a positive integer, got ${sizes}`);
    parts = [];
    for (let s = 0; s < L; s += sizes) parts.push(Math.min(sizes, L - s));
    if (parts.length === 0) parts.push(0);
  } else if (Array.isArray(sizes)) {
    sizes.forEach((s, i) => {
      if (typeof s !== 'number' || !Number.isInteger(s) || s < 0)
        throw argTypeError(`${fn}: sizes[${i}]`, 'a non-negative integer', s);
    });
    if (sizes.length === 0 || sizes.reduce((a, b) => a + b, 0) !== L) {
      throw rangeError(
        'ERR_NATTEN_INVALID_ARG_VALUE',
        `${fn}: sizes must sum to the length ${L} of axis ${ax} of t ${shapeStr(x.shape)}, got ${describe(sizes)}`,
      );
    }
    parts = [...sizes];
  } else {
    throw argTypeError(`${fn}: sizes`, 'a positive integer or an array of non-negative integers', sizes);
  }
  const out: Tensor[] = [];
  let start = 0;
  try {
    for (const len of parts) {
      out.push(slice(fn, x, ax, start, len));
      start += len;
    }
  } catch (e) {
    for (const p of out) p.dispose();
    throw e;
  }
  return out;
}

/** Splits t into `n` parts of ceil(length / n) along `axis` (default 0), the last one smaller (fewer parts
 * when the axis is too short), as PyTorch's `chunk`. */
export function chunk(t: Tensor, n: number, axis = 0): Tensor[] {
  const fn = 'chunk';
  const x = tensorArg(fn, t, 't');
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw argTypeError(`${fn}: n`, 'a positive integer', n);
  if (x.ndim < 1) throw rangeError('ERR_NATTEN_INVALID_SHAPE', `${fn}: t must have at least one axis, got a scalar`);
  const L = x.shape[axisArg(fn, axis, x.ndim)];
  return split(x, Math.max(1, Math.ceil(L / n)), axis);
}

/** Concatenates tensors of one dtype and device along `axis` (default 0); their shapes must agree on every
 * other axis. Returns a new tensor. */
export function concat(list: readonly Tensor[], axis = 0): Tensor {
  const fn = 'concat';
  if (!Array.isArray(list) || list.length === 0)
    throw argTypeError(`${fn}: list`, 'a non-empty array of tensors', list);
  const ts = list.map((t, i) => tensorArg(fn, t, `list[${i}]`));
  checkSameDtypeDevice(
    fn,
    ts.map((t, i) => [t, `list[${i}]`] as const),
  );
  const ref = ts[0];
  if (ref.ndim < 1)
    throw rangeError('ERR_NATTEN_INVALID_SHAPE', `${fn}: list[0] must have at least one axis, got a scalar`);
  const ax = axisArg(fn, axis, ref.ndim);
  ts.forEach((t, i) => {
    if (t.ndim !== ref.ndim || t.shape.some((d, a) => a !== ax && d !== ref.shape[a])) {
      throw rangeError(
        'ERR_NATTEN_INVALID_SHAPE',
        `${fn}: list[${i}] ${shapeStr(t.shape)} must match list[0] ${shapeStr(ref.shape)} on every axis but ${ax}`,
      );
    }
  });
  const L = ts.reduce((a, t) => a + t.shape[ax], 0);
  const shape = [...ref.shape];
  shape[ax] = L;
  const out = allocOutput(shape, ref.dtype, ref);
  const outer = prod(ref.shape.slice(0, ax)),
    inner = prod(ref.shape.slice(ax + 1));
  writing([out], () => {
    let start = 0;
    for (const t of ts) {
      const run = t.shape[ax] * inner;
      copyStrided(
        fn,
        t,
        out,
        { shape: [outer, run], srcStrides: [run, 1], dstStrides: [L * inner, 1] },
        0,
        start * inner,
      );
      start += t.shape[ax];
    }
  });
  return out;
}

/** Checks the rank of a heads-layout tensor. */
function headsLayout(fn: string, t: Tensor, layout: string): Tensor {
  const x = tensorArg(fn, t, 't');
  if (x.ndim < 3)
    throw rangeError(
      'ERR_NATTEN_INVALID_SHAPE',
      `${fn}: t must be ${layout} (at least 3 axes), got ${shapeStr(x.shape)}`,
    );
  return x;
}

/** `[B, ...spatial, H, D]` (the fused ops' layout) -> `[B, H, ...spatial, D]` (the unfused ops'). */
export function toHeadsFirst(t: Tensor): Tensor {
  const x = headsLayout('toHeadsFirst', t, '[batch, ...spatial, heads, headDim]');
  const r = x.ndim;
  return permute(x, [0, r - 2, ...Array.from({ length: r - 3 }, (_, i) => i + 1), r - 1]);
}

/** `[B, H, ...spatial, D]` -> `[B, ...spatial, H, D]`: the inverse of {@link toHeadsFirst}. */
export function toHeadsLast(t: Tensor): Tensor {
  const x = headsLayout('toHeadsLast', t, '[batch, heads, ...spatial, headDim]');
  const r = x.ndim;
  return permute(x, [0, ...Array.from({ length: r - 3 }, (_, i) => i + 2), 1, r - 1]);
}

/**
 * Copies src's values into dst in place (same shape, dtype and device), queued like any op: how new data
 * enters a tensor a captured graph reads ({@link captureGraph}), or a preallocated buffer is refilled.
 * Returns dst.
 */
export function copyInto<T extends Tensor>(dst: T, src: Tensor): T {
  const fn = 'copyInto';
  const [d, s] = matchingPair(fn, dst, 'dst', src, 'src');
  copyStrided(fn, s, d, { shape: [d.numel], srcStrides: [1], dstStrides: [1] });
  return dst;
}
