// Neighborhood windows, transcribed line by line from docs/design.md §5. This file is the oracle's only
// definition of "neighbor"; fused.ts and unfused.ts take their keys from here.
//
// Per spatial axis of length L, kernel size k >= 2, stride 1 <= s <= k, dilation d >= 1 with k*d <= L,
// causal flag c. Query index i:
// - dilation group g = i mod d, local index i' = floor(i/d), group length L_g = floor(L/d) + (g < L mod d).
// - left = floor(k/2), right = floor(k/2) + (k mod 2) - 1.
// - non-causal: leader = min(floor(i'/s)*s + floor(s/2), L_g - 1);
//   start = max(leader - left, 0) + (leader + right >= L_g ? L_g - right - leader - 1 : 0); end = start + k.
// - causal: leader = min(floor(i'/s)*s + s - 1, L_g - 1); start = max(leader - k + 1, 0);
//   end = min(i' + 1, L_g).
// - keys are j = j'*d + g for j' in [start, end).
// Multi-dimensional windows are the AND (cartesian product) over axes.

import { prod } from './util';

/** Per-axis window options, as the public API takes them (a scalar applies to every axis). */
export interface NAOptions {
  kernelSize: number | readonly number[];
  /** default 1 */
  stride?: number | readonly number[];
  /** default 1 */
  dilation?: number | readonly number[];
  /** default false */
  isCausal?: boolean | readonly boolean[];
}

/** NAOptions with every field expanded to one entry per spatial axis. */
export interface ResolvedWindow {
  spatial: number[];
  kernelSize: number[];
  stride: number[];
  dilation: number[];
  isCausal: boolean[];
}

/** Everything section 5 computes for one query on one axis. start/end are group-local, [start, end). */
export interface AxisWindowInfo {
  group: number; // g
  local: number; // i'
  groupLength: number; // L_g
  leader: number;
  start: number;
  end: number;
}

function checkInt(name: string, x: number, min: number): void {
  if (!Number.isInteger(x) || x < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${x}`);
}

/** Validates one axis's parameters against section 5's preconditions. Throws RangeError. */
export function checkAxisParams(L: number, k: number, s: number, d: number): void {
  checkInt('length', L, 1);
  checkInt('kernelSize', k, 2);
  checkInt('stride', s, 1);
  checkInt('dilation', d, 1);
  if (s > k) throw new RangeError(`stride ${s} must be <= kernelSize ${k}`);
  if (k * d > L) throw new RangeError(`kernelSize*dilation = ${k}*${d} must be <= length ${L}`);
}

/** Section 5 for one query index i on one axis. */
export function axisWindowRange(
  L: number,
  k: number,
  s: number,
  d: number,
  causal: boolean,
  i: number,
): AxisWindowInfo {
  checkAxisParams(L, k, s, d);
  if (!Number.isInteger(i) || i < 0 || i >= L) throw new RangeError(`query index ${i} out of range [0, ${L})`);

  const g = i % d;
  const iLocal = Math.floor(i / d);
  const Lg = Math.floor(L / d) + (g < L % d ? 1 : 0);
  const left = Math.floor(k / 2);
  const right = Math.floor(k / 2) + (k % 2) - 1;

  let leader: number;
  let start: number;
  let end: number;
  if (!causal) {
    leader = Math.min(Math.floor(iLocal / s) * s + Math.floor(s / 2), Lg - 1);
    start = Math.max(leader - left, 0) + (leader + right >= Lg ? Lg - right - leader - 1 : 0);
    end = start + k;
  } else {
    leader = Math.min(Math.floor(iLocal / s) * s + s - 1, Lg - 1);
    start = Math.max(leader - k + 1, 0);
    end = Math.min(iLocal + 1, Lg);
  }
  return { group: g, local: iLocal, groupLength: Lg, leader, start, end };
}

/** Global key indices j = j'*d + g, j' in [start, end), ascending, for query i on one axis. */
export function axisWindow(L: number, k: number, s: number, d: number, causal: boolean, i: number): number[] {
  const w = axisWindowRange(L, k, s, d, causal, i);
  const keys: number[] = [];
  for (let jLocal = w.start; jLocal < w.end; jLocal++) keys.push(jLocal * d + w.group);
  return keys;
}

/**
 * The k window positions of query i on one axis (for the unfused ops): position p in [0, k) maps to the
 * group-local key start + p, which is valid iff start + p < end; entry p is the global key index
 * (start + p)*d + g, or null where invalid (only possible on a causal axis).
 */
export function axisSlots(L: number, k: number, s: number, d: number, causal: boolean, i: number): (number | null)[] {
  const w = axisWindowRange(L, k, s, d, causal, i);
  const slots: (number | null)[] = [];
  for (let p = 0; p < k; p++) {
    const jLocal = w.start + p;
    slots.push(jLocal < w.end ? jLocal * d + w.group : null);
  }
  return slots;
}

function perAxis<T>(name: string, v: T | readonly T[], n: number): T[] {
  if (Array.isArray(v)) {
    const arr = v as readonly T[];
    if (arr.length !== n)
      throw new RangeError(`${name}: expected ${n} entries (one per spatial axis), got ${arr.length}`);
    return [...arr];
  }
  return new Array<T>(n).fill(v as T);
}

/** Expands scalar options to per-axis arrays and validates every axis. */
export function resolveWindow(spatial: readonly number[], opts: NAOptions): ResolvedWindow {
  const n = spatial.length;
  if (n < 1) throw new RangeError('at least one spatial axis is required');
  const r: ResolvedWindow = {
    spatial: [...spatial],
    kernelSize: perAxis('kernelSize', opts.kernelSize, n),
    stride: perAxis('stride', opts.stride ?? 1, n),
    dilation: perAxis('dilation', opts.dilation ?? 1, n),
    isCausal: perAxis('isCausal', opts.isCausal ?? false, n),
  };
  for (let a = 0; a < n; a++) checkAxisParams(spatial[a], r.kernelSize[a], r.stride[a], r.dilation[a]);
  return r;
}

function resolveArgs(
  spatial: readonly number[],
  kernel: number | readonly number[],
  stride: number | readonly number[],
  dilation: number | readonly number[],
  causal: boolean | readonly boolean[],
  queryCoord: readonly number[],
): ResolvedWindow {
  if (queryCoord.length !== spatial.length) {
    throw new RangeError(`query coordinate has ${queryCoord.length} axes, spatial has ${spatial.length}`);
  }
  return resolveWindow(spatial, { kernelSize: kernel, stride, dilation, isCausal: causal });
}

/** Row-major cartesian product of per-axis lists. */
function cartesian<T>(lists: readonly (readonly T[])[]): T[][] {
  let acc: T[][] = [[]];
  for (const list of lists) {
    const next: T[][] = [];
    for (const prefix of acc) for (const x of list) next.push([...prefix, x]);
    acc = next;
  }
  return acc;
}

/**
 * Key coordinates attended by the query at `queryCoord`, in row-major order over the kernel window
 * (the cartesian product of the per-axis windows). A causal axis may contribute fewer than k keys.
 */
export function neighbors(
  spatial: readonly number[],
  kernel: number | readonly number[],
  stride: number | readonly number[],
  dilation: number | readonly number[],
  causal: boolean | readonly boolean[],
  queryCoord: readonly number[],
): number[][] {
  const r = resolveArgs(spatial, kernel, stride, dilation, causal, queryCoord);
  const perAxisKeys = spatial.map((L, a) =>
    axisWindow(L, r.kernelSize[a], r.stride[a], r.dilation[a], r.isCausal[a], queryCoord[a]),
  );
  return cartesian(perAxisKeys);
}

/**
 * The prod(kernelSize) window positions of the query at `queryCoord`, in row-major order over the kernel
 * (position w = sum_a p_a * prod(k_{a+1..})), as the unfused ops number their attention columns.
 * Entry w is the key coordinate, or null when any axis's position is outside that axis's (causal) window.
 */
export function windowSlots(
  spatial: readonly number[],
  kernel: number | readonly number[],
  stride: number | readonly number[],
  dilation: number | readonly number[],
  causal: boolean | readonly boolean[],
  queryCoord: readonly number[],
): (number[] | null)[] {
  const r = resolveArgs(spatial, kernel, stride, dilation, causal, queryCoord);
  const perAxis = spatial.map((L, a) =>
    axisSlots(L, r.kernelSize[a], r.stride[a], r.dilation[a], r.isCausal[a], queryCoord[a]),
  );
  const combos = cartesian(perAxis);
  if (combos.length !== prod(r.kernelSize)) throw new Error('internal: slot count mismatch');
  return combos.map((c) => (c.some((x) => x === null) ? null : (c as number[])));
}

/** neighbors() with a ResolvedWindow. */
export function neighborsOf(w: ResolvedWindow, queryCoord: readonly number[]): number[][] {
  return neighbors(w.spatial, w.kernelSize, w.stride, w.dilation, w.isCausal, queryCoord);
}

/** windowSlots() with a ResolvedWindow. */
export function windowSlotsOf(w: ResolvedWindow, queryCoord: readonly number[]): (number[] | null)[] {
  return windowSlots(w.spatial, w.kernelSize, w.stride, w.dilation, w.isCausal, queryCoord);
}
