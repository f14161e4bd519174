// Tests of the fp64 oracle itself (test/oracle/*): hand-computed windows, brute-force window properties,
// fused forward vs dense attention, unfused chain vs fused, and every backward vs finite differences.

import { naBackward, naForward, type FusedOptions } from './oracle/fused';
import { naAV, naAVBackward, naQK, naQKBackward, softmax, softmaxBackward } from './oracle/unfused';
import {
  allIndices,
  dotAll,
  expandHeads,
  finiteDifferenceGrad,
  flatIndex,
  fusedToUnfused,
  maxAbsDiff,
  randnTensor,
  reduceHeads,
  relError,
  type Tensor,
  tensor,
  unfusedToFused,
  zeros,
} from './oracle/util';
import { axisSlots, axisWindow, axisWindowRange, neighbors, windowSlots } from './oracle/window';

const FD_EPS = 1e-6;
const FD_TOL = 1e-6;

function expectClose(actual: Tensor | Float64Array, expected: Tensor | Float64Array, tol: number): void {
  const a = actual instanceof Float64Array ? actual : actual.data;
  const e = expected instanceof Float64Array ? expected : expected.data;
  if (!(actual instanceof Float64Array) && !(expected instanceof Float64Array)) {
    expect(actual.shape).toEqual(expected.shape);
  }
  expect(a.length).toBe(e.length);
  expect(relError(a, e)).toBeLessThanOrEqual(tol);
}

function table(L: number, k: number, s: number, d: number, causal: boolean): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < L; i++) rows.push(axisWindow(L, k, s, d, causal, i));
  return rows;
}

// -------------------------------------------------------------------------------------------------
// 1. Hand-computed windows (worked out on paper from docs/design.md §5)

describe('window: hand-computed 1-D tables', () => {
  test('L=5 k=3 s=1 d=1 non-causal (classic NA, shifted at the borders)', () => {
    // left = right = 1, L_g = 5. i=0: leader 0, start max(-1,0)=0. i=4: leader 4, 4+1>=5 so
    // start = 3 + (5-1-4-1) = 2.
    expect(table(5, 3, 1, 1, false)).toEqual([
      [0, 1, 2],
      [0, 1, 2],
      [1, 2, 3],
      [2, 3, 4],
      [2, 3, 4],
    ]);
  });

  test('L=5 k=4 s=1 (even kernel: two keys left, one right)', () => {
    // left = 2, right = 1. i=2: start 0. i=3: start 1. i=4: leader 4, start 2 + (5-1-4-1) = 1.
    expect(table(5, 4, 1, 1, false)).toEqual([
      [0, 1, 2, 3],
      [0, 1, 2, 3],
      [0, 1, 2, 3],
      [1, 2, 3, 4],
      [1, 2, 3, 4],
    ]);
  });

  test('L=5 k=2 d=2 (ragged groups: L_0 = 3, L_1 = 2)', () => {
    // group 0 = {0,2,4}, group 1 = {1,3}; k=2: left 1, right 0.
    // i=4: i'=2, leader 2, start 1 -> local [1,2] -> global [2,4].
    expect(table(5, 2, 1, 2, false)).toEqual([
      [0, 2],
      [1, 3],
      [0, 2],
      [1, 3],
      [2, 4],
    ]);
    const r = axisWindowRange(5, 2, 1, 2, false, 4);
    expect(r).toEqual({ group: 0, local: 2, groupLength: 3, leader: 2, start: 1, end: 3 });
    expect(axisWindowRange(5, 2, 1, 2, false, 3).groupLength).toBe(2);
  });

  test('L=7 k=3 d=2 (ragged groups: L_0 = 4, L_1 = 3)', () => {
    // i=6: i'=3, leader 3, 3+1>=4 so start = 2 + (4-1-3-1) = 1 -> local [1,3] -> [2,4,6].
    // i=5: i'=2 in group 1 (L_1=3): leader 2, start = 1 + (3-1-2-1) = 0 -> [1,3,5].
    expect(table(7, 3, 1, 2, false)).toEqual([
      [0, 2, 4],
      [1, 3, 5],
      [0, 2, 4],
      [1, 3, 5],
      [2, 4, 6],
      [1, 3, 5],
      [2, 4, 6],
    ]);
  });

  test('L=5 k=3 s=2 non-causal', () => {
    // i=0,1: leader 1 -> start 0. i=2,3: leader 3 -> start 2. i=4: leader min(5,4)=4 -> start 2.
    expect(table(5, 3, 2, 1, false)).toEqual([
      [0, 1, 2],
      [0, 1, 2],
      [2, 3, 4],
      [2, 3, 4],
      [2, 3, 4],
    ]);
    expect(axisWindowRange(5, 3, 2, 1, false, 2).leader).toBe(3);
  });

  test('L=5 k=3 s=3 (blocked; the last, partial tile takes the last k keys)', () => {
    expect(table(5, 3, 3, 1, false)).toEqual([
      [0, 1, 2],
      [0, 1, 2],
      [0, 1, 2],
      [2, 3, 4],
      [2, 3, 4],
    ]);
  });

  test('L=5 k=3 s=1 causal', () => {
    expect(table(5, 3, 1, 1, true)).toEqual([[0], [0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 4]]);
  });

  test('L=5 k=3 s=2 causal', () => {
    // i=2: leader 3, start 1, end 3 -> [1,2]. i=3: end 4 -> [1,2,3]. i=4: leader 4, start 2.
    expect(table(5, 3, 2, 1, true)).toEqual([[0], [0, 1], [1, 2], [1, 2, 3], [2, 3, 4]]);
    expect(axisWindowRange(5, 3, 2, 1, true, 2)).toEqual({
      group: 0,
      local: 2,
      groupLength: 5,
      leader: 3,
      start: 1,
      end: 3,
    });
  });

  test('L=5 k=2 d=2 causal', () => {
    expect(table(5, 2, 1, 2, true)).toEqual([[0], [1], [0, 2], [1, 3], [2, 4]]);
  });

  test('axisSlots: causal positions beyond the window are null', () => {
    // L=5 k=3 s=2 causal, i=2: start 1, end 3: positions 0 -> 1, 1 -> 2, 2 -> invalid.
    expect(axisSlots(5, 3, 2, 1, true, 2)).toEqual([1, 2, null]);
    expect(axisSlots(5, 3, 2, 1, true, 0)).toEqual([0, null, null]);
    expect(axisSlots(7, 3, 1, 2, false, 6)).toEqual([2, 4, 6]);
  });

  test('2-D neighbors and windowSlots, row-major over the kernel', () => {
    // axis 0: L=5 k=3 causal s=1, i=1 -> [0,1] (position 2 invalid); axis 1: L=4 k=2, i=3 -> [2,3].
    expect(neighbors([5, 4], [3, 2], 1, 1, [true, false], [1, 3])).toEqual([
      [0, 2],
      [0, 3],
      [1, 2],
      [1, 3],
    ]);
    expect(windowSlots([5, 4], [3, 2], 1, 1, [true, false], [1, 3])).toEqual([
      [0, 2],
      [0, 3],
      [1, 2],
      [1, 3],
      null,
      null,
    ]);
  });

  test('invalid parameters throw RangeError', () => {
    expect(() => axisWindow(5, 3, 1, 2, false, 0)).toThrow(RangeError); // k*d > L
    expect(() => axisWindow(5, 3, 4, 1, false, 0)).toThrow(RangeError); // s > k
    expect(() => axisWindow(5, 1, 1, 1, false, 0)).toThrow(RangeError); // k < 2
    expect(() => axisWindow(5, 3, 1, 1, false, 5)).toThrow(RangeError); // i out of range
    expect(() => neighbors([5, 5], [3, 3, 3], 1, 1, false, [0, 0])).toThrow(RangeError);
  });
});

// -------------------------------------------------------------------------------------------------
// 2. Window properties by brute force

describe('window: brute-force properties (L <= 12)', () => {
  test('every (L, k, s, d, causal) and every query', () => {
    const failures: string[] = [];
    let configs = 0;
    for (let L = 2; L <= 12; L++) {
      for (let k = 2; k <= L; k++) {
        for (let s = 1; s <= k; s++) {
          for (let d = 1; k * d <= L; d++) {
            for (const causal of [false, true]) {
              configs++;
              const tag = `L=${L} k=${k} s=${s} d=${d} causal=${causal}`;
              const fail = (i: number, what: string): void => {
                failures.push(`${tag} i=${i}: ${what}`);
              };
              const info = Array.from({ length: L }, (_, i) => axisWindowRange(L, k, s, d, causal, i));
              const keys = Array.from({ length: L }, (_, i) => axisWindow(L, k, s, d, causal, i));
              for (let i = 0; i < L; i++) {
                const w = info[i];
                const ks = keys[i];
                const g = i % d;
                const il = Math.floor(i / d);
                const Lg = Math.floor(L / d) + (g < L % d ? 1 : 0);
                // keys in range, in the query's group, ascending, as many as end - start, between 1 and k
                if (ks.some((j) => j < 0 || j >= L)) fail(i, `key outside [0, L): ${ks}`);
                if (ks.some((j) => j % d !== g)) fail(i, `key outside dilation group ${g}: ${ks}`);
                if (ks.some((j, t) => t > 0 && j <= ks[t - 1])) fail(i, `keys not ascending: ${ks}`);
                if (ks.length !== w.end - w.start) fail(i, 'key count != end - start');
                if (ks.length < 1 || ks.length > k) fail(i, `window size ${ks.length} not in [1, k]`);
                if (w.start < 0 || w.end > Lg) fail(i, `[${w.start}, ${w.end}) outside group of length ${Lg}`);
                // axisSlots agrees: valid prefix of length end - start, then nulls
                const slots = axisSlots(L, k, s, d, causal, i);
                const expectedSlots = Array.from({ length: k }, (_, p) => (p < ks.length ? ks[p] : null));
                if (JSON.stringify(slots) !== JSON.stringify(expectedSlots))
                  fail(i, `axisSlots ${JSON.stringify(slots)}`);

                if (!causal) {
                  if (ks.length !== k) fail(i, `non-causal window has ${ks.length} keys, want ${k}`);
                  if (!ks.includes(i)) fail(i, `non-causal window ${ks} misses the query`);
                  if (s === 1) {
                    // classic NA: centred (left = floor(k/2) keys before) unless clamped at a border
                    const left = Math.floor(k / 2);
                    const right = Math.floor(k / 2) + (k % 2) - 1;
                    const want = il - left < 0 ? 0 : il + right >= Lg ? Lg - k : il - left;
                    if (w.start !== want) fail(i, `s=1 start ${w.start}, want ${want}`);
                  }
                  if (s === k) {
                    const tile = Math.floor(il / k);
                    const want = (tile + 1) * k <= Lg ? tile * k : Lg - k; // full tile, or last k keys
                    if (w.start !== want) fail(i, `blocked start ${w.start}, want ${want}`);
                  }
                  if (k === L) {
                    if (JSON.stringify(ks) !== JSON.stringify(Array.from({ length: L }, (_, j) => j)))
                      fail(i, 'k=L is not dense');
                  }
                } else {
                  if (ks.some((j) => j > i)) fail(i, `causal window ${ks} has a future key`);
                  if (!ks.includes(i)) fail(i, `causal window ${ks} misses the query`);
                  if (w.end !== il + 1) fail(i, `causal end ${w.end} != i'+1`);
                  if (s === 1 && ks.length !== Math.min(k, il + 1)) fail(i, `s=1 causal size ${ks.length}`);
                  if (s === k && (Math.floor(il / k) + 1) * k <= Lg && w.start !== Math.floor(il / k) * k) {
                    fail(i, `blocked causal start ${w.start}`);
                  }
                  if (k === L && JSON.stringify(ks) !== JSON.stringify(Array.from({ length: i + 1 }, (_, j) => j))) {
                    fail(i, 'k=L causal is not dense causal');
                  }
                }
              }
              // within a dilation group: monotone start/end, equal windows (non-causal) or starts
              // (causal) within a stride block, and every key's set of queries is an interval
              for (let g = 0; g < d; g++) {
                const members: number[] = [];
                for (let i = g; i < L; i += d) members.push(i);
                for (let t = 1; t < members.length; t++) {
                  const a = info[members[t - 1]];
                  const b = info[members[t]];
                  if (b.start < a.start || b.end < a.end) fail(members[t], 'start/end not monotone');
                  if (Math.floor((t - 1) / s) === Math.floor(t / s)) {
                    if (!causal && (a.start !== b.start || a.end !== b.end))
                      fail(members[t], 'stride block windows differ');
                    if (causal && a.start !== b.start) fail(members[t], 'stride block causal starts differ');
                  }
                }
                for (const j of members) {
                  const seenBy = members.map((i, t) => (keys[i].includes(j) ? t : -1)).filter((t) => t >= 0);
                  if (seenBy.length > 0 && seenBy[seenBy.length - 1] - seenBy[0] + 1 !== seenBy.length) {
                    failures.push(`${tag} key ${j}: queries ${seenBy} not contiguous`);
                  }
                }
              }
            }
          }
        }
      }
    }
    expect(configs).toBeGreaterThan(500);
    expect(failures.slice(0, 20)).toEqual([]);
  });

  test('multi-dim neighbors are the row-major product of the per-axis windows', () => {
    const cases: { spatial: number[]; k: number[]; s: number[]; d: number[]; c: boolean[] }[] = [
      { spatial: [5, 7], k: [3, 2], s: [1, 2], d: [1, 3], c: [false, true] },
      { spatial: [6, 4], k: [4, 2], s: [4, 1], d: [1, 2], c: [true, false] },
      { spatial: [3, 5, 4], k: [2, 3, 2], s: [2, 3, 1], d: [1, 1, 2], c: [true, false, true] },
    ];
    for (const cs of cases) {
      for (const x of allIndices(cs.spatial)) {
        const perAxis = cs.spatial.map((L, a) => axisWindow(L, cs.k[a], cs.s[a], cs.d[a], cs.c[a], x[a]));
        let product: number[][] = [[]];
        for (const list of perAxis) product = product.flatMap((pre) => list.map((j) => [...pre, j]));
        const nb = neighbors(cs.spatial, cs.k, cs.s, cs.d, cs.c, x);
        expect(nb).toEqual(product);
        const slots = windowSlots(cs.spatial, cs.k, cs.s, cs.d, cs.c, x);
        expect(slots.length).toBe(cs.k.reduce((p, q) => p * q, 1));
        expect(slots.filter((e): e is number[] => e !== null)).toEqual(nb);
        // slot w <-> per-axis positions p_a (row-major); valid iff every p_a is inside its axis window
        slots.forEach((e, w) => {
          let rest = w;
          const pos = new Array<number>(cs.k.length);
          for (let a = cs.k.length - 1; a >= 0; a--) {
            pos[a] = rest % cs.k[a];
            rest = Math.floor(rest / cs.k[a]);
          }
          const valid = pos.every((p, a) => p < perAxis[a].length);
          expect(e === null).toBe(!valid);
          if (e !== null) expect(e).toEqual(pos.map((p, a) => perAxis[a][p]));
        });
      }
    }
  });
});

// -------------------------------------------------------------------------------------------------
// 3. Fused forward vs an independent dense softmax attention (kernel covers the whole input)

/** Dense attention in the fused layout: every key, except future keys along causal axes, plus extras. */
function denseAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  causal: boolean[],
  scale: number,
  extraK?: Tensor,
  extraV?: Tensor,
): { output: Tensor; lse: Tensor } {
  const r = q.shape.length;
  const B = q.shape[0];
  const spatial = q.shape.slice(1, r - 2);
  const H = q.shape[r - 2];
  const D = q.shape[r - 1];
  const Hkv = k.shape[r - 2];
  const Dv = v.shape[r - 1];
  const nExtra = extraK ? extraK.shape[1] : 0;
  const output = zeros([B, ...spatial, H, Dv]);
  const lse = zeros([B, ...spatial, H]);
  const coords = allIndices(spatial);
  for (let b = 0; b < B; b++) {
    for (const x of coords) {
      for (let h = 0; h < H; h++) {
        const hk = Math.floor((h * Hkv) / H);
        const qv = Array.from({ length: D }, (_, c) => q.data[flatIndex(q.shape, [b, ...x, h, c])]);
        const scores: number[] = [];
        const values: number[][] = [];
        for (const y of coords) {
          if (y.some((yc, a) => causal[a] && yc > x[a])) continue;
          let sc = 0;
          for (let c = 0; c < D; c++) sc += qv[c] * k.data[flatIndex(k.shape, [b, ...y, hk, c])];
          scores.push(scale * sc);
          values.push(Array.from({ length: Dv }, (_, c) => v.data[flatIndex(v.shape, [b, ...y, hk, c])]));
        }
        for (let e = 0; e < nExtra && extraK && extraV; e++) {
          let sc = 0;
          for (let c = 0; c < D; c++) sc += qv[c] * extraK.data[flatIndex(extraK.shape, [b, e, hk, c])];
          scores.push(scale * sc);
          values.push(Array.from({ length: Dv }, (_, c) => extraV.data[flatIndex(extraV.shape, [b, e, hk, c])]));
        }
        const m = Math.max(...scores);
        const z = scores.reduce((acc, sc) => acc + Math.exp(sc - m), 0);
        lse.data[flatIndex(lse.shape, [b, ...x, h])] = m + Math.log(z);
        for (let c = 0; c < Dv; c++) {
          let o = 0;
          scores.forEach((sc, t) => (o += (Math.exp(sc - m) / z) * values[t][c]));
          output.data[flatIndex(output.shape, [b, ...x, h, c])] = o;
        }
      }
    }
  }
  return { output, lse };
}

interface Problem {
  B: number;
  spatial: number[];
  H: number;
  Hkv: number;
  D: number;
  Dv: number;
  nExtra: number;
  kernelSize: number[];
  stride: number[];
  dilation: number[];
  isCausal: boolean[];
  scale?: number;
}

interface ProblemData {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  ek?: Tensor;
  ev?: Tensor;
  opts: FusedOptions;
}

function makeProblem(p: Problem, seed: number): ProblemData {
  const q = randnTensor([p.B, ...p.spatial, p.H, p.D], seed + 1);
  const k = randnTensor([p.B, ...p.spatial, p.Hkv, p.D], seed + 2);
  const v = randnTensor([p.B, ...p.spatial, p.Hkv, p.Dv], seed + 3);
  const ek = p.nExtra > 0 ? randnTensor([p.B, p.nExtra, p.Hkv, p.D], seed + 4) : undefined;
  const ev = p.nExtra > 0 ? randnTensor([p.B, p.nExtra, p.Hkv, p.Dv], seed + 5) : undefined;
  const opts: FusedOptions = {
    kernelSize: p.kernelSize,
    stride: p.stride,
    dilation: p.dilation,
    isCausal: p.isCausal,
    scale: p.scale,
    additionalKeys: ek,
    additionalValues: ev,
  };
  return { q, k, v, ek, ev, opts };
}

describe('fused forward vs dense attention (kernel = whole input)', () => {
  const cases: Problem[] = [
    {
      B: 2,
      spatial: [7],
      H: 2,
      Hkv: 1,
      D: 4,
      Dv: 3,
      nExtra: 0,
      kernelSize: [7],
      stride: [1],
      dilation: [1],
      isCausal: [false],
    },
    {
      B: 1,
      spatial: [7],
      H: 2,
      Hkv: 2,
      D: 4,
      Dv: 4,
      nExtra: 0,
      kernelSize: [7],
      stride: [3],
      dilation: [1],
      isCausal: [true],
    },
    {
      B: 1,
      spatial: [3, 4],
      H: 2,
      Hkv: 2,
      D: 3,
      Dv: 5,
      nExtra: 0,
      kernelSize: [3, 4],
      stride: [2, 4],
      dilation: [1, 1],
      isCausal: [false, false],
    },
    {
      B: 2,
      spatial: [3, 4],
      H: 4,
      Hkv: 2,
      D: 3,
      Dv: 2,
      nExtra: 0,
      kernelSize: [3, 4],
      stride: [1, 1],
      dilation: [1, 1],
      isCausal: [false, true],
    },
    {
      B: 1,
      spatial: [2, 3, 2],
      H: 2,
      Hkv: 1,
      D: 3,
      Dv: 3,
      nExtra: 0,
      kernelSize: [2, 3, 2],
      stride: [1, 2, 2],
      dilation: [1, 1, 1],
      isCausal: [false, false, false],
    },
    {
      B: 1,
      spatial: [2, 3, 2],
      H: 2,
      Hkv: 2,
      D: 2,
      Dv: 3,
      nExtra: 0,
      kernelSize: [2, 3, 2],
      stride: [1, 1, 1],
      dilation: [1, 1, 1],
      isCausal: [true, false, true],
    },
  ];
  for (const base of cases) {
    for (const nExtra of [0, 3]) {
      const p: Problem = { ...base, nExtra, scale: nExtra > 0 ? 0.7 : undefined };
      test(`${p.spatial.length}-D spatial=[${p.spatial}] causal=[${p.isCausal}] H=${p.H}/${p.Hkv} nExtra=${nExtra}`, () => {
        const { q, k, v, ek, ev, opts } = makeProblem(p, 100 + nExtra);
        const got = naForward(q, k, v, opts);
        const want = denseAttention(q, k, v, p.isCausal, p.scale ?? 1 / Math.sqrt(p.D), ek, ev);
        expectClose(got.output, want.output, 1e-12);
        expectClose(got.lse, want.lse, 1e-12);
      });
    }
  }

  test('hand-computed 1-D L=2: scores [1, 0] -> weights e/(e+1), 1/(e+1)', () => {
    const q = tensor([1, 0], [1, 2, 1, 1]);
    const k = tensor([1, 0], [1, 2, 1, 1]);
    const v = tensor([2, 4], [1, 2, 1, 1]);
    const { output, lse } = naForward(q, k, v, { kernelSize: 2, scale: 1 });
    const e = Math.E;
    // query 0: scores [1*1, 1*0] = [1, 0]; query 1: scores [0, 0]
    expect(output.data[0]).toBeCloseTo((2 * e + 4) / (e + 1), 14);
    expect(output.data[1]).toBeCloseTo(3, 14);
    expect(lse.data[0]).toBeCloseTo(Math.log(e + 1), 14);
    expect(lse.data[1]).toBeCloseTo(Math.log(2), 14);
    // causal: query 0 sees only key 0
    const c = naForward(q, k, v, { kernelSize: 2, isCausal: true, scale: 1 });
    expect(c.output.data[0]).toBeCloseTo(2, 14);
    expect(c.lse.data[0]).toBeCloseTo(1, 14);
  });
});

// -------------------------------------------------------------------------------------------------
// 4. Unfused chain (naQK, scale, softmax, naAV) vs fused naForward

function toUnfusedExtra(t: Tensor, H: number): Tensor {
  // fused extra [B, nExtra, Hkv, D] -> unfused [B, H, nExtra, D]
  return expandHeads(fusedToUnfused(t), 1, H);
}

interface UnfusedInputs {
  qu: Tensor;
  ku: Tensor;
  vu: Tensor;
  eku?: Tensor;
  evu?: Tensor;
  scale: number;
}

function unfusedInputs(d: ProblemData, p: Problem): UnfusedInputs {
  return {
    qu: fusedToUnfused(d.q),
    ku: expandHeads(fusedToUnfused(d.k), 1, p.H),
    vu: expandHeads(fusedToUnfused(d.v), 1, p.H),
    eku: d.ek ? toUnfusedExtra(d.ek, p.H) : undefined,
    evu: d.ev ? toUnfusedExtra(d.ev, p.H) : undefined,
    scale: p.scale ?? 1 / Math.sqrt(p.D),
  };
}

function scaled(t: Tensor, s: number): Tensor {
  return { data: t.data.map((x) => x * s), shape: [...t.shape] };
}

const chainCases: Problem[] = [
  {
    B: 2,
    spatial: [9],
    H: 2,
    Hkv: 2,
    D: 4,
    Dv: 4,
    nExtra: 0,
    kernelSize: [3],
    stride: [1],
    dilation: [2],
    isCausal: [false],
  },
  {
    B: 1,
    spatial: [9],
    H: 2,
    Hkv: 1,
    D: 4,
    Dv: 3,
    nExtra: 2,
    kernelSize: [3],
    stride: [2],
    dilation: [2],
    isCausal: [true],
  },
  {
    B: 1,
    spatial: [10],
    H: 3,
    Hkv: 3,
    D: 3,
    Dv: 3,
    nExtra: 0,
    kernelSize: [4],
    stride: [2],
    dilation: [2],
    isCausal: [true],
  },
  {
    B: 1,
    spatial: [8],
    H: 1,
    Hkv: 1,
    D: 5,
    Dv: 2,
    nExtra: 1,
    kernelSize: [4],
    stride: [4],
    dilation: [1],
    isCausal: [false],
  },
  {
    B: 2,
    spatial: [5, 6],
    H: 4,
    Hkv: 2,
    D: 3,
    Dv: 4,
    nExtra: 2,
    kernelSize: [3, 2],
    stride: [2, 1],
    dilation: [1, 3],
    isCausal: [true, false],
  },
  {
    B: 1,
    spatial: [4, 3, 5],
    H: 2,
    Hkv: 1,
    D: 3,
    Dv: 2,
    nExtra: 1,
    kernelSize: [2, 3, 2],
    stride: [1, 3, 2],
    dilation: [2, 1, 2],
    isCausal: [false, true, true],
  },
];

function describeCase(p: Problem): string {
  return `spatial=[${p.spatial}] k=[${p.kernelSize}] s=[${p.stride}] d=[${p.dilation}] causal=[${p.isCausal}] H=${p.H}/${p.Hkv} nExtra=${p.nExtra}`;
}

describe('unfused chain equals fused forward', () => {
  chainCases.forEach((p, idx) => {
    test(describeCase(p), () => {
      const d = makeProblem(p, 200 + 10 * idx);
      const u = unfusedInputs(d, p);
      const win = { kernelSize: p.kernelSize, stride: p.stride, dilation: p.dilation, isCausal: p.isCausal };
      const attn = naQK(u.qu, u.ku, { ...win, additionalKeys: u.eku });
      const kProd = p.kernelSize.reduce((a, b) => a * b, 1);
      expect(attn.shape).toEqual([p.B, p.H, ...p.spatial, kProd + p.nExtra]);
      const logits = scaled(attn, u.scale);
      const probs = softmax(logits);
      const outU = naAV(probs, u.vu, { ...win, additionalValues: u.evu });
      const fused = naForward(d.q, d.k, d.v, d.opts);
      expectClose(unfusedToFused(outU), fused.output, 1e-12);

      // lse = logsumexp of each scaled attention row (masked entries are -Infinity)
      const cols = kProd + p.nExtra;
      const lseU = new Float64Array(logits.data.length / cols);
      for (let r = 0; r < lseU.length; r++) {
        const row = Array.from(logits.data.subarray(r * cols, (r + 1) * cols));
        const m = Math.max(...row);
        lseU[r] = m + Math.log(row.reduce((acc, x) => acc + Math.exp(x - m), 0));
      }
      // lseU is [B, H, ...spatial]; the fused lse is [B, ...spatial, H]
      const lseUT = unfusedToFused({ data: lseU, shape: [p.B, p.H, ...p.spatial, 1] });
      expectClose(lseUT.data, fused.lse.data, 1e-12);

      // the number of finite columns per row equals the number of neighbors (+ extras)
      let finite = 0;
      for (const x of attn.data) if (Number.isFinite(x)) finite++;
      let expected = 0;
      for (const x of allIndices(p.spatial)) {
        expected += neighbors(p.spatial, p.kernelSize, p.stride, p.dilation, p.isCausal, x).length + p.nExtra;
      }
      expect(finite).toBe(expected * p.B * p.H);
    });
  });

  test('naAV ignores weights at masked positions', () => {
    const spatial = [5];
    const win = { kernelSize: 3, stride: 2, isCausal: true };
    const v = randnTensor([1, 1, 5, 2], 7);
    const attn = randnTensor([1, 1, 5, 3], 8);
    const base = naAV(attn, v, win);
    const poisoned = { data: Float64Array.from(attn.data), shape: attn.shape };
    for (const [i, x] of allIndices(spatial).entries()) {
      windowSlots(spatial, 3, 2, 1, true, x).forEach((e, w) => {
        if (e === null) poisoned.data[i * 3 + w] = w % 2 === 0 ? -Infinity : 1e30;
      });
    }
    expect(maxAbsDiff(naAV(poisoned, v, win).data, base.data)).toBe(0);
  });

  test("rpb adds rpb[h, j'-i'+k-1] (hand-checked 1-D)", () => {
    // L=7 k=3 d=2: query 6 (i'=3) sees keys [2,4,6] (j'=1,2,3) -> offsets -2,-1,0 -> rpb idx 0,1,2;
    // query 0 (i'=0) sees [0,2,4] (j'=0,1,2) -> idx 2,3,4.
    const q = randnTensor([1, 2, 7, 3], 11);
    const k = randnTensor([1, 2, 7, 3], 12);
    const rpb = tensor([10, 20, 30, 40, 50, 100, 200, 300, 400, 500], [2, 5]);
    const opts = { kernelSize: 3, dilation: 2 };
    const a0 = naQK(q, k, opts);
    const a1 = naQK(q, k, { ...opts, rpb });
    const diff = (h: number, i: number, w: number): number => {
      const o = flatIndex(a0.shape, [0, h, i, w]);
      return a1.data[o] - a0.data[o];
    };
    expect([0, 1, 2].map((w) => diff(0, 6, w))).toEqual([10, 20, 30].map((x) => expect.closeTo(x, 12)));
    expect([0, 1, 2].map((w) => diff(1, 0, w))).toEqual([300, 400, 500].map((x) => expect.closeTo(x, 12)));
    expect(() => naQK(q, k, { kernelSize: 3, dilation: 2, isCausal: true, rpb })).toThrow(RangeError);
  });

  test('naQK hand-computed causal s=2: D=1, q=1, k_j=j+1', () => {
    const q = tensor([1, 1, 1, 1, 1], [1, 1, 5, 1]);
    const k = tensor([1, 2, 3, 4, 5], [1, 1, 5, 1]);
    const attn = naQK(q, k, { kernelSize: 3, stride: 2, isCausal: true });
    const I = -Infinity;
    expect(Array.from(attn.data)).toEqual([1, I, I, 1, 2, I, 2, 3, I, 2, 3, 4, 3, 4, 5]);
  });
});

// -------------------------------------------------------------------------------------------------
// 5. Backward vs central finite differences (fp64), and unfused-chain backward vs fused backward

const fdCases: Problem[] = [
  {
    B: 1,
    spatial: [6],
    H: 2,
    Hkv: 1,
    D: 3,
    Dv: 2,
    nExtra: 2,
    kernelSize: [3],
    stride: [2],
    dilation: [2],
    isCausal: [true],
  },
  {
    B: 2,
    spatial: [5],
    H: 1,
    Hkv: 1,
    D: 2,
    Dv: 3,
    nExtra: 0,
    kernelSize: [2],
    stride: [1],
    dilation: [2],
    isCausal: [false],
  },
  {
    B: 1,
    spatial: [3, 4],
    H: 2,
    Hkv: 2,
    D: 2,
    Dv: 3,
    nExtra: 1,
    kernelSize: [2, 3],
    stride: [2, 1],
    dilation: [1, 1],
    isCausal: [false, true],
  },
  {
    B: 1,
    spatial: [2, 2, 3],
    H: 2,
    Hkv: 1,
    D: 2,
    Dv: 2,
    nExtra: 1,
    kernelSize: [2, 2, 2],
    stride: [1, 2, 1],
    dilation: [1, 1, 1],
    isCausal: [true, false, false],
  },
];

describe('fused backward vs finite differences', () => {
  fdCases.forEach((p, idx) => {
    test(describeCase(p), () => {
      const d = makeProblem({ ...p, scale: idx % 2 === 0 ? undefined : 0.8 }, 300 + 10 * idx);
      const fwd = naForward(d.q, d.k, d.v, d.opts);
      const dOut = randnTensor(fwd.output.shape, 399 + idx);
      const g = naBackward(dOut, d.q, d.k, d.v, fwd.output, fwd.lse, d.opts);
      const loss = (): number => dotAll(dOut.data, naForward(d.q, d.k, d.v, d.opts).output.data);
      expectClose(g.dq, finiteDifferenceGrad(loss, d.q.data, FD_EPS), FD_TOL);
      expectClose(g.dk, finiteDifferenceGrad(loss, d.k.data, FD_EPS), FD_TOL);
      expectClose(g.dv, finiteDifferenceGrad(loss, d.v.data, FD_EPS), FD_TOL);
      if (d.ek && d.ev) {
        expect(g.dAdditionalKeys).toBeDefined();
        expect(g.dAdditionalValues).toBeDefined();
        expectClose(g.dAdditionalKeys!, finiteDifferenceGrad(loss, d.ek.data, FD_EPS), FD_TOL);
        expectClose(g.dAdditionalValues!, finiteDifferenceGrad(loss, d.ev.data, FD_EPS), FD_TOL);
      } else {
        expect(g.dAdditionalKeys).toBeUndefined();
        expect(g.dAdditionalValues).toBeUndefined();
      }
    });
  });
});

describe('unfused backward vs finite differences', () => {
  /** loss = sum over unmasked entries of dAttn * attn */
  const maskedDot = (dAttn: Float64Array, attn: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < attn.length; i++) if (Number.isFinite(attn[i])) s += dAttn[i] * attn[i];
    return s;
  };

  test('naQKBackward with rpb (1-D dilated, 2-D strided)', () => {
    const cases = [
      { spatial: [7], kernelSize: [3], stride: [1], dilation: [2] },
      { spatial: [4, 5], kernelSize: [3, 2], stride: [2, 1], dilation: [1, 2] },
    ];
    cases.forEach((c, idx) => {
      const H = 2;
      const q = randnTensor([2, H, ...c.spatial, 3], 400 + idx);
      const k = randnTensor([2, H, ...c.spatial, 3], 410 + idx);
      const rpb = randnTensor([H, ...c.kernelSize.map((x) => 2 * x - 1)], 420 + idx);
      const ek = randnTensor([2, H, 2, 3], 430 + idx);
      const opts = { kernelSize: c.kernelSize, stride: c.stride, dilation: c.dilation, rpb, additionalKeys: ek };
      const attn = naQK(q, k, opts);
      const dAttn = randnTensor(attn.shape, 440 + idx);
      const g = naQKBackward(dAttn, q, k, opts);
      const loss = (): number => maskedDot(dAttn.data, naQK(q, k, opts).data);
      expectClose(g.dq, finiteDifferenceGrad(loss, q.data, FD_EPS), FD_TOL);
      expectClose(g.dk, finiteDifferenceGrad(loss, k.data, FD_EPS), FD_TOL);
      expectClose(g.drpb!, finiteDifferenceGrad(loss, rpb.data, FD_EPS), FD_TOL);
      expectClose(g.dAdditionalKeys!, finiteDifferenceGrad(loss, ek.data, FD_EPS), FD_TOL);
    });
  });

  test('naQKBackward causal (masked dAttn entries ignored)', () => {
    const spatial = [3, 5];
    const q = randnTensor([1, 2, ...spatial, 2], 450);
    const k = randnTensor([1, 2, ...spatial, 2], 451);
    const opts = { kernelSize: [2, 3], stride: [1, 2], isCausal: [true, true] };
    const attn = naQK(q, k, opts);
    expect(attn.data.some((x) => x === -Infinity)).toBe(true);
    const dAttn = randnTensor(attn.shape, 452);
    const g = naQKBackward(dAttn, q, k, opts);
    expect(g.drpb).toBeUndefined();
    expect(g.dAdditionalKeys).toBeUndefined();
    const loss = (): number => maskedDot(dAttn.data, naQK(q, k, opts).data);
    expectClose(g.dq, finiteDifferenceGrad(loss, q.data, FD_EPS), FD_TOL);
    expectClose(g.dk, finiteDifferenceGrad(loss, k.data, FD_EPS), FD_TOL);
  });

  test('naAVBackward (causal, extra values)', () => {
    const spatial = [4, 3];
    const kernelSize = [3, 2];
    const opts0 = { kernelSize, stride: [2, 1], dilation: [1, 1], isCausal: [true, false] };
    const v = randnTensor([2, 2, ...spatial, 3], 460);
    const ev = randnTensor([2, 2, 2, 3], 461);
    const opts = { ...opts0, additionalValues: ev };
    const attn = randnTensor([2, 2, ...spatial, 6 + 2], 462);
    const dOut = randnTensor([2, 2, ...spatial, 3], 463);
    const g = naAVBackward(dOut, attn, v, opts);
    const loss = (): number => dotAll(dOut.data, naAV(attn, v, opts).data);
    expectClose(g.dAttn, finiteDifferenceGrad(loss, attn.data, FD_EPS), FD_TOL);
    expectClose(g.dv, finiteDifferenceGrad(loss, v.data, FD_EPS), FD_TOL);
    expectClose(g.dAdditionalValues!, finiteDifferenceGrad(loss, ev.data, FD_EPS), FD_TOL);
    // masked positions get exactly 0
    const mask = naQK(randnTensor([2, 2, ...spatial, 1], 1), randnTensor([2, 2, ...spatial, 1], 2), opts0);
    for (let b = 0; b < 2 * 2; b++) {
      for (let r = 0; r < 12; r++) {
        for (let w = 0; w < 6; w++) {
          const o = (b * 12 + r) * 8 + w;
          const m = mask.data[(b * 12 + r) * 6 + w];
          if (m === -Infinity) expect(g.dAttn.data[o]).toBe(0);
        }
      }
    }
  });

  test('softmaxBackward (rows with -Infinity entries)', () => {
    const x = randnTensor([3, 5], 470);
    x.data[1] = -Infinity;
    x.data[7] = -Infinity;
    x.data[8] = -Infinity;
    const y = softmax(x);
    expect(y.data[1]).toBe(0);
    for (let r = 0; r < 3; r++) {
      expect(Array.from(y.data.subarray(r * 5, r * 5 + 5)).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    }
    expect(Array.from(softmax(new Float64Array([-Infinity, -Infinity]), [1, 2]).data)).toEqual([0, 0]);
    const dy = randnTensor([3, 5], 471);
    const dx = softmaxBackward(dy, y);
    const loss = (): number => dotAll(dy.data, softmax(x).data);
    expectClose(dx, finiteDifferenceGrad(loss, x.data, FD_EPS), FD_TOL);
  });
});

describe('unfused chain backward equals fused backward (GQA, extra KV)', () => {
  chainCases.forEach((p, idx) => {
    test(describeCase(p), () => {
      const d = makeProblem(p, 500 + 10 * idx);
      const u = unfusedInputs(d, p);
      const win = { kernelSize: p.kernelSize, stride: p.stride, dilation: p.dilation, isCausal: p.isCausal };
      const qkOpts = { ...win, additionalKeys: u.eku };
      const avOpts = { ...win, additionalValues: u.evu };
      const probs = softmax(scaled(naQK(u.qu, u.ku, qkOpts), u.scale));
      const outU = naAV(probs, u.vu, avOpts);

      const fwd = naForward(d.q, d.k, d.v, d.opts);
      const dOut = randnTensor(fwd.output.shape, 599 + idx);
      const gF = naBackward(dOut, d.q, d.k, d.v, fwd.output, fwd.lse, d.opts);

      const gAV = naAVBackward(fusedToUnfused(dOut), probs, u.vu, avOpts);
      const dLogits = softmaxBackward(gAV.dAttn, probs);
      const gQK = naQKBackward(scaled(dLogits, u.scale), u.qu, u.ku, qkOpts);
      expectClose(unfusedToFused(outU), fwd.output, 1e-12);
      expectClose(unfusedToFused(gQK.dq), gF.dq, 1e-12);
      expectClose(unfusedToFused(reduceHeads(gQK.dk, 1, p.Hkv)), gF.dk, 1e-12);
      expectClose(unfusedToFused(reduceHeads(gAV.dv, 1, p.Hkv)), gF.dv, 1e-12);
      if (p.nExtra > 0) {
        // unfused extra [B, H, nExtra, D] -> reduce heads -> [B, Hkv, nExtra, D] -> fused [B, nExtra, Hkv, D]
        expectClose(unfusedToFused(reduceHeads(gQK.dAdditionalKeys!, 1, p.Hkv)), gF.dAdditionalKeys!, 1e-12);
        expectClose(unfusedToFused(reduceHeads(gAV.dAdditionalValues!, 1, p.Hkv)), gF.dAdditionalValues!, 1e-12);
      }
    });
  });
});
