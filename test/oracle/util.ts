// Small helpers for the fp64 oracle: tensors as row-major Float64Array + shape, a seeded RNG, index
// arithmetic, layout permutes, head expansion for GQA, comparisons and central finite differences.
// Written for obviousness, not speed.

/** A row-major fp64 tensor. `data.length` must equal the product of `shape`. */
export interface Tensor {
  data: Float64Array;
  shape: readonly number[];
}

/** Product of a list of sizes (1 for the empty list). */
export function prod(sizes: readonly number[]): number {
  let p = 1;
  for (const s of sizes) p *= s;
  return p;
}

/** Row-major strides of a shape, in elements. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let acc = 1;
  for (let a = shape.length - 1; a >= 0; a--) {
    strides[a] = acc;
    acc *= shape[a];
  }
  return strides;
}

/** Flat row-major offset of `coord` in `shape` (bounds-checked). */
export function flatIndex(shape: readonly number[], coord: readonly number[]): number {
  if (coord.length !== shape.length) {
    throw new RangeError(`flatIndex: coord has rank ${coord.length}, shape has rank ${shape.length}`);
  }
  let off = 0;
  for (let a = 0; a < shape.length; a++) {
    const c = coord[a];
    if (!Number.isInteger(c) || c < 0 || c >= shape[a]) {
      throw new RangeError(`flatIndex: coord[${a}] = ${c} out of range [0, ${shape[a]})`);
    }
    off = off * shape[a] + c;
  }
  return off;
}

/** Inverse of flatIndex. */
export function unravelIndex(flat: number, shape: readonly number[]): number[] {
  const coord = new Array<number>(shape.length);
  let rest = flat;
  for (let a = shape.length - 1; a >= 0; a--) {
    coord[a] = rest % shape[a];
    rest = Math.floor(rest / shape[a]);
  }
  return coord;
}

/** Calls `fn` for every coordinate of `shape` in row-major order (once for a rank-0 shape). */
export function forEachIndex(shape: readonly number[], fn: (coord: number[], flat: number) => void): void {
  const n = prod(shape);
  for (let flat = 0; flat < n; flat++) fn(unravelIndex(flat, shape), flat);
}

/** All coordinates of `shape` in row-major order. */
export function allIndices(shape: readonly number[]): number[][] {
  const out: number[][] = [];
  forEachIndex(shape, (c) => out.push(c));
  return out;
}

/** Wraps data and shape, checking that the sizes agree. */
export function tensor(data: Float64Array | readonly number[], shape: readonly number[]): Tensor {
  const arr = data instanceof Float64Array ? data : Float64Array.from(data);
  if (arr.length !== prod(shape)) {
    throw new RangeError(`tensor: data has ${arr.length} elements, shape [${shape.join(', ')}] needs ${prod(shape)}`);
  }
  return { data: arr, shape: [...shape] };
}

export function zeros(shape: readonly number[]): Tensor {
  return { data: new Float64Array(prod(shape)), shape: [...shape] };
}

export function cloneTensor(t: Tensor): Tensor {
  return { data: Float64Array.from(t.data), shape: [...t.shape] };
}

/** Checks that `t` is a well-formed tensor of the given rank (or any rank if omitted). */
export function checkTensor(name: string, t: Tensor, rank?: number): void {
  if (!(t.data instanceof Float64Array)) throw new TypeError(`${name}: data must be a Float64Array`);
  for (const s of t.shape) {
    if (!Number.isInteger(s) || s < 0) throw new RangeError(`${name}: bad shape [${t.shape.join(', ')}]`);
  }
  if (t.data.length !== prod(t.shape)) {
    throw new RangeError(
      `${name}: data has ${t.data.length} elements, shape [${t.shape.join(', ')}] needs ${prod(t.shape)}`,
    );
  }
  if (rank !== undefined && t.shape.length !== rank) {
    throw new RangeError(`${name}: expected rank ${rank}, got shape [${t.shape.join(', ')}]`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Seeded random numbers

/** mulberry32: a tiny 32-bit seeded PRNG. Returns a function giving uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` standard normal samples (Box-Muller over mulberry32(seed)). Deterministic in (n, seed). */
export function randn(n: number, seed: number): Float64Array {
  const u = mulberry32(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    let u1 = u();
    while (u1 === 0) u1 = u();
    const u2 = u();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** `n` uniform samples in [lo, hi). */
export function randu(n: number, seed: number, lo = 0, hi = 1): Float64Array {
  const u = mulberry32(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * u();
  return out;
}

/** A tensor of standard normal samples times `scale`. */
export function randnTensor(shape: readonly number[], seed: number, scale = 1): Tensor {
  const data = randn(prod(shape), seed);
  for (let i = 0; i < data.length; i++) data[i] *= scale;
  return { data, shape: [...shape] };
}

// ---------------------------------------------------------------------------------------------------
// Layout helpers

/** out[c] = t[c permuted]: out.shape[a] = t.shape[perm[a]] (like torch.permute / numpy.transpose). */
export function permute(t: Tensor, perm: readonly number[]): Tensor {
  const r = t.shape.length;
  if (perm.length !== r || [...perm].sort((x, y) => x - y).some((p, a) => p !== a)) {
    throw new RangeError(`permute: [${perm.join(', ')}] is not a permutation of rank ${r}`);
  }
  const outShape = perm.map((p) => t.shape[p]);
  const out = zeros(outShape);
  forEachIndex(outShape, (oc, flat) => {
    const ic = new Array<number>(r);
    for (let a = 0; a < r; a++) ic[perm[a]] = oc[a];
    out.data[flat] = t.data[flatIndex(t.shape, ic)];
  });
  return out;
}

/** Fused layout [B, ...spatial, H, D] -> unfused layout [B, H, ...spatial, D]. */
export function fusedToUnfused(t: Tensor): Tensor {
  const r = t.shape.length;
  const perm = [0, r - 2];
  for (let a = 1; a < r - 2; a++) perm.push(a);
  perm.push(r - 1);
  return permute(t, perm);
}

/** Unfused layout [B, H, ...spatial, D] -> fused layout [B, ...spatial, H, D]. */
export function unfusedToFused(t: Tensor): Tensor {
  const r = t.shape.length;
  const perm = [0];
  for (let a = 2; a < r - 1; a++) perm.push(a);
  perm.push(1, r - 1);
  return permute(t, perm);
}

/** The key/value head read by query head h (GQA/MQA): floor(h * Hkv / H). */
export function kvHeadOf(h: number, numHeads: number, numKvHeads: number): number {
  return Math.floor((h * numKvHeads) / numHeads);
}

/**
 * Expands the head axis `axis` of `t` from Hkv to `numHeads` heads: out[.., h, ..] = t[.., kvHeadOf(h), ..].
 * (With Hkv dividing H this is repeat_interleave.)
 */
export function expandHeads(t: Tensor, axis: number, numHeads: number): Tensor {
  const hkv = t.shape[axis];
  const outShape = [...t.shape];
  outShape[axis] = numHeads;
  const out = zeros(outShape);
  forEachIndex(outShape, (oc, flat) => {
    const ic = [...oc];
    ic[axis] = kvHeadOf(oc[axis], numHeads, hkv);
    out.data[flat] = t.data[flatIndex(t.shape, ic)];
  });
  return out;
}

/** Adjoint of expandHeads: sums the heads of axis `axis` that map to each of `numKvHeads` kv heads. */
export function reduceHeads(t: Tensor, axis: number, numKvHeads: number): Tensor {
  const h = t.shape[axis];
  const outShape = [...t.shape];
  outShape[axis] = numKvHeads;
  const out = zeros(outShape);
  forEachIndex(t.shape, (ic, flat) => {
    const oc = [...ic];
    oc[axis] = kvHeadOf(ic[axis], h, numKvHeads);
    out.data[flatIndex(outShape, oc)] += t.data[flat];
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Comparisons

/** max |a_i - b_i|; Infinity if any pair differs in NaN-ness or in an infinite value. Throws on length mismatch. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`maxAbsDiff: lengths differ (${a.length} vs ${b.length})`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue; // also equal infinities
    const d = Math.abs(x - y);
    if (Number.isNaN(d)) return Infinity;
    if (d > m) m = d;
  }
  return m;
}

/** max |a_i| over finite entries. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i]) && Math.abs(a[i]) > m) m = Math.abs(a[i]);
  return m;
}

/** maxAbsDiff(actual, expected) / max(1, maxAbs(expected)): a relative error that is absolute near 0. */
export function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  return maxAbsDiff(actual, expected) / Math.max(1, maxAbs(expected));
}

/** sum_i a_i * b_i. */
export function dotAll(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`dotAll: lengths differ (${a.length} vs ${b.length})`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Central finite-difference gradient of the scalar function `f` with respect to the entries of `x`
 * (`x` is perturbed in place and restored; `f` must read `x` afresh on every call).
 */
export function finiteDifferenceGrad(f: () => number, x: Float64Array, eps = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i];
    x[i] = x0 + eps;
    const fp = f();
    x[i] = x0 - eps;
    const fm = f();
    x[i] = x0;
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}
