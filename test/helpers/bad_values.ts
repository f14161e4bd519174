/**
 * Inputs and checks of the bad-value tests (test/bad_values.test.ts on the CPU, test/cuda_bad_values.test.ts
 * on CUDA): attention problems whose V holds one +Infinity (one key, one channel, one head), the queries
 * whose windows contain that key, and softmax rows holding NaN, +Infinity and -Infinity.
 *
 * The Inf contract: a query whose window contains the key gets a non-finite output in that channel; every
 * other query gets exactly the output it gets with that key's V row set to zeros (its value is never
 * multiplied in, not even by a zero weight: 0 * Inf is NaN). The tensor-core CUDA forward only keeps the
 * first half (README, Troubleshooting: "NaN next to an Inf in V").
 */
import * as natten from '../../lib';
import { flatIndex, forEachIndex, neighbors, prod, randn, softmax, softmaxBackward, unravelIndex } from '../oracle';
import { maxErr } from './na_compare';

/** One problem of the Inf tests (batch 1, HEADS heads, fused layout). */
export interface InfCase {
  name: string;
  spatial: number[];
  kernelSize: number[];
  dilation: number[];
  stride: number[];
  isCausal: boolean[];
  /** Coordinates of the key whose V row (head 0, channel INF_CHANNEL) holds the +Infinity. */
  key: number[];
}

export const HEADS = 2;
/** Default head dim (CUDA tensor-core tier 32: the mma.sync kernels; 64 also reaches the sm_90a wgmma ones). */
export const HEAD_DIM = 32;
export const INF_CHANNEL = 3;

function infCase(
  name: string,
  spatial: number[],
  kernelSize: number[],
  key: number[],
  more: { dilation?: number[]; stride?: number[]; isCausal?: boolean[] } = {},
): InfCase {
  const ones = spatial.map(() => 1);
  return {
    name,
    spatial,
    kernelSize,
    key,
    dilation: more.dilation ?? ones,
    stride: more.stride ?? ones,
    isCausal: more.isCausal ?? spatial.map(() => false),
  };
}

/**
 * The CPU engine works on tiles of 16 neighbouring queries along the last axis, each lane reading the keys
 * at one sliding offset: where windows are clamped (edges), strided or cut by dilation, a tile's lanes
 * read keys outside their own windows with weight 0. These cases put the Inf at such keys (before the fix,
 * the CPU engine returned NaN for queries 14 and 15 of the first case, whose windows end at keys 18/19).
 */
export const INF_CASES: InfCase[] = [
  infCase('1-D L64 k7, Inf at key 20 (read by the edge tile)', [64], [7], [20]),
  infCase('1-D L64 k7, Inf at key 60 (the tensor-core report)', [64], [7], [60]),
  infCase('1-D L64 k13 dilation 2, Inf at key 30', [64], [13], [30], { dilation: [2] }),
  infCase('1-D L90 k9 stride 3 causal, Inf at key 40', [90], [9], [40], { stride: [3], isCausal: [true] }),
  infCase('2-D 20x20 k5, Inf at key (7, 17)', [20, 20], [5, 5], [7, 17]),
  infCase('2-D 20x20 k(5,7) dilation (1,2), Inf at key (7, 17)', [20, 20], [5, 7], [7, 17], { dilation: [1, 2] }),
  infCase('2-D 18x21 k(4,6) stride (2,3) causal (1,0), Inf at key (9, 19)', [18, 21], [4, 6], [9, 19], {
    stride: [2, 3],
    isCausal: [true, false],
  }),
  infCase('3-D 8x8x20 k3, Inf at key (3, 3, 17)', [8, 8, 20], [3, 3, 3], [3, 3, 17]),
  infCase('3-D 6x7x24 k(3,3,9) dilation (1,1,2), Inf at key (2, 3, 5)', [6, 7, 24], [3, 3, 9], [2, 3, 5], {
    dilation: [1, 1, 2],
  }),
];

/** Window options of a case (the public API's form). */
export function windowOptions(c: InfCase): {
  kernelSize: number[];
  dilation: number[];
  stride: number[];
  isCausal: boolean[];
} {
  return { kernelSize: c.kernelSize, dilation: c.dilation, stride: c.stride, isCausal: c.isCausal };
}

/** Tokens (row-major flat indices) of the queries whose window contains the case's key. */
export function queriesSeeingKey(c: InfCase): Set<number> {
  const seeing = new Set<number>();
  forEachIndex(c.spatial, (x, flat) => {
    const keys = neighbors(c.spatial, c.kernelSize, c.stride, c.dilation, c.isCausal, x);
    if (keys.some((kc) => kc.every((v, a) => v === c.key[a]))) seeing.add(flat);
  });
  return seeing;
}

/** Shape of q, k, v and the output of a case: [1, ...spatial, HEADS, dim]. */
export function qkvShape(c: InfCase, dim = HEAD_DIM): number[] {
  return [1, ...c.spatial, HEADS, dim];
}

/**
 * Seeded V data of a case with the key's row (every head) set to zeros, and the same with +Infinity at
 * (key, head 0, INF_CHANNEL).
 */
export function infValues(c: InfCase, seed: number, dim = HEAD_DIM): { zeroed: Float64Array; withInf: Float64Array } {
  const zeroed = randn(prod(qkvShape(c, dim)), seed);
  const row = flatIndex(c.spatial, c.key) * HEADS * dim;
  zeroed.fill(0, row, row + HEADS * dim);
  const withInf = Float64Array.from(zeroed);
  withInf[row + INF_CHANNEL] = Infinity;
  return { zeroed, withInf };
}

/** What an output computed with the Inf differs in from the one computed with the zeroed row. */
export interface InfReport {
  /** Queries (token, head 0) whose window excludes the key but whose output differs (e.g. NaN). */
  leaked: number[];
  /** Of those, the ones whose output differs by something other than NaN. */
  leakedNotNaN: number[];
  /** Queries whose window contains the key but whose INF_CHANNEL output is finite. */
  finiteSeeing: number[];
  /** Head 1 (which holds no Inf) differs somewhere. */
  otherHeadDiffers: boolean;
  /** Queries whose window contains the key (for the messages). */
  seeing: number;
}

/** Compares the outputs ([1, ...spatial, HEADS, dim]) of a case computed with and without the Inf. */
export function compareInf(
  c: InfCase,
  withInf: ArrayLike<number>,
  zeroed: ArrayLike<number>,
  dim = HEAD_DIM,
): InfReport {
  const seeing = queriesSeeingKey(c);
  const r: InfReport = { leaked: [], leakedNotNaN: [], finiteSeeing: [], otherHeadDiffers: false, seeing: seeing.size };
  const n = prod(c.spatial);
  for (let t = 0; t < n; t++) {
    const at = (h: number, ch: number): number => (t * HEADS + h) * dim + ch;
    for (let ch = 0; ch < dim; ch++) if (!Object.is(withInf[at(1, ch)], zeroed[at(1, ch)])) r.otherHeadDiffers = true;
    if (seeing.has(t)) {
      if (Number.isFinite(withInf[at(0, INF_CHANNEL)])) r.finiteSeeing.push(t);
      continue;
    }
    let differs = false,
      onlyNaN = true;
    for (let ch = 0; ch < dim; ch++) {
      const a = withInf[at(0, ch)],
        b = zeroed[at(0, ch)];
      if (a !== b) {
        differs = true;
        if (!Number.isNaN(a)) onlyNaN = false;
      }
    }
    if (differs) r.leaked.push(t);
    if (differs && !onlyNaN) r.leakedNotNaN.push(t);
  }
  return r;
}

/** Runs one case on a device in a dtype through `attend` (a fused op or the unfused chain) and compares. */
export async function runInfCase(
  c: InfCase,
  device: 'cpu' | 'cuda',
  dtype: natten.DType,
  attend: (q: natten.Tensor, k: natten.Tensor, v: natten.Tensor) => natten.Tensor,
  dim = HEAD_DIM,
): Promise<InfReport> {
  const shape = qkvShape(c, dim);
  const { zeroed, withInf } = infValues(c, 3, dim);
  const q = natten.randn(shape, { seed: 1, dtype, device });
  const k = natten.randn(shape, { seed: 2, dtype, device });
  const vInf = natten.tensor(withInf, shape, { dtype, device });
  const vZero = natten.tensor(zeroed, shape, { dtype, device });
  try {
    const a = attend(q, k, vInf),
      b = attend(q, k, vZero);
    const [outInf, outZero] = await Promise.all([a.toArray(), b.toArray()]);
    a.dispose();
    b.dispose();
    return compareInf(c, outInf, outZero, dim);
  } finally {
    for (const t of [q, k, vInf, vZero]) t.dispose();
  }
}

/**
 * Fused backward of a case on the CPU, with the Inf and with the zeroed row (same q, k, dOut): the tokens
 * (head 0 or 1) whose dq, dk or dv differ where they must not. Only the queries that see the key (their
 * output and dP change) may have another dq, only the keys in those queries' windows (dk sums dS over
 * them) another dk, and dv (P^T dOut) never changes.
 */
export async function infBackwardLeaks(
  c: InfCase,
  dtype: natten.DType,
): Promise<{ dq: number[]; dk: number[]; dv: number[] }> {
  const shape = qkvShape(c);
  const { zeroed, withInf } = infValues(c, 3);
  const opts = windowOptions(c);
  const fwd = [natten.na1d, natten.na2d, natten.na3d][c.spatial.length - 1];
  const bwd = [natten.na1dBackward, natten.na2dBackward, natten.na3dBackward][c.spatial.length - 1];
  const made: natten.Tensor[] = [];
  const keep = <T extends natten.Tensor>(t: T): T => {
    made.push(t);
    return t;
  };
  try {
    const q = keep(natten.randn(shape, { seed: 1, dtype })),
      k = keep(natten.randn(shape, { seed: 2, dtype }));
    const dOut = keep(natten.randn(shape, { seed: 4, dtype }));
    const runs = await Promise.all(
      [withInf, zeroed].map(async (data) => {
        const v = keep(natten.tensor(data, shape, { dtype }));
        const f = fwd(q, k, v, { ...opts, returnLse: true });
        keep(f.output);
        keep(f.lse);
        const g = bwd(dOut, q, k, v, f.output, f.lse, opts);
        return { dq: await keep(g.dq).toArray(), dk: await keep(g.dk).toArray(), dv: await keep(g.dv).toArray() };
      }),
    );
    const seeing = queriesSeeingKey(c);
    const keysOfSeeing = new Set<number>();
    for (const t of seeing) {
      const x = unravelIndex(t, c.spatial);
      for (const kc of neighbors(c.spatial, c.kernelSize, c.stride, c.dilation, c.isCausal, x))
        keysOfSeeing.add(flatIndex(c.spatial, kc));
    }
    const differing = (a: ArrayLike<number>, b: ArrayLike<number>, allowed: Set<number>): number[] => {
      const out: number[] = [];
      for (let t = 0; t < prod(c.spatial); t++) {
        for (let i = t * HEADS * HEAD_DIM; i < (t + 1) * HEADS * HEAD_DIM; i++) {
          if (!Object.is(a[i], b[i]) && !(allowed.has(t) && i < (t * HEADS + 1) * HEAD_DIM)) {
            out.push(t);
            break;
          }
        }
      }
      return out;
    };
    return {
      dq: differing(runs[0].dq, runs[1].dq, seeing),
      dk: differing(runs[0].dk, runs[1].dk, keysOfSeeing),
      dv: differing(runs[0].dv, runs[1].dv, new Set<number>()),
    };
  } finally {
    for (const t of made) t.dispose();
  }
}

/** The fused op of a case's dimensionality. */
export function fusedOp(
  c: InfCase,
): (q: natten.Tensor, k: natten.Tensor, v: natten.Tensor, o: natten.NAOptions) => natten.Tensor {
  const fns = [natten.na1d, natten.na2d, natten.na3d] as const;
  const fn = fns[c.spatial.length - 1];
  return (q, k, v, o) => fn(q, k, v, { ...o, returnLse: false });
}

/** neighborhoodAttention1d/2d/3d of a case's dimensionality (fused or unfused per natten.useFusedNA). */
export function attentionOp(
  c: InfCase,
): (q: natten.Tensor, k: natten.Tensor, v: natten.Tensor, o: natten.NeighborhoodAttentionOptions) => natten.Tensor {
  return [natten.neighborhoodAttention1d, natten.neighborhoodAttention2d, natten.neighborhoodAttention3d][
    c.spatial.length - 1
  ];
}

// ---- softmax rows ---------------------------------------------------------------------------------------

/** Width of the softmax rows: more than 32, so a CUDA warp's lanes hold one or two entries each. */
export const SOFTMAX_COLS = 49;

/** A softmax input row and what its output row must be. */
export interface SoftmaxRow {
  name: string;
  values: number[];
  /** 'nan': every entry NaN; 'zeros': every entry 0; 'softmax': finite, equal to the oracle. */
  expect: 'nan' | 'zeros' | 'softmax';
}

function row(fill: (c: number) => number): number[] {
  return Array.from({ length: SOFTMAX_COLS }, (_, c) => fill(c));
}
const finite = (c: number): number => Math.sin(1.3 * c + 0.4) * 3;
const masked = (c: number): number => (c % 5 === 2 || c > 40 ? -Infinity : finite(c));

export const SOFTMAX_ROWS: SoftmaxRow[] = [
  { name: 'finite', values: row(finite), expect: 'softmax' },
  { name: 'finite with -Infinity (masked) entries', values: row(masked), expect: 'softmax' },
  { name: 'one NaN among finite values', values: row((c) => (c === 40 ? NaN : finite(c))), expect: 'nan' },
  { name: 'one NaN among finite and -Infinity values', values: row((c) => (c === 8 ? NaN : masked(c))), expect: 'nan' },
  { name: 'one NaN, every other entry -Infinity', values: row((c) => (c === 5 ? NaN : -Infinity)), expect: 'nan' },
  { name: 'only NaN', values: row(() => NaN), expect: 'nan' },
  {
    name: 'one +Infinity among finite and -Infinity values',
    values: row((c) => (c === 10 ? Infinity : masked(c))),
    expect: 'nan',
  },
  {
    name: 'only -Infinity (fully masked: zeros, the library convention)',
    values: row(() => -Infinity),
    expect: 'zeros',
  },
];

/** Input of the softmax tests: SOFTMAX_ROWS as one [rows, SOFTMAX_COLS] tensor. */
function softmaxInput(device: 'cpu' | 'cuda', dtype: natten.DType): natten.Tensor {
  return natten.tensor(Float64Array.from(SOFTMAX_ROWS.flatMap((r) => r.values)), [SOFTMAX_ROWS.length, SOFTMAX_COLS], {
    dtype,
    device,
  });
}

/** Rows of `got` ([rows, SOFTMAX_COLS]) that break their SOFTMAX_ROWS expectation, as messages: 'nan' rows
 * must be all NaN, 'zeros' rows of the softmax all 0, every other row within tol of `want`. */
function rowFailures(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): string[] {
  const cols = SOFTMAX_COLS,
    out: string[] = [];
  SOFTMAX_ROWS.forEach((r, i) => {
    const g = Array.from({ length: cols }, (_, c) => got[i * cols + c]);
    const w = Array.from({ length: cols }, (_, c) => want[i * cols + c]);
    if (r.expect === 'nan') {
      const notNaN = g.filter((v) => !Number.isNaN(v)).length;
      if (notNaN) out.push(`${what}, row '${r.name}': ${notNaN} entries not NaN`);
    } else if (r.expect === 'zeros' && what === 'softmax') {
      if (g.some((v) => v !== 0)) out.push(`${what}, row '${r.name}': not all zeros: ${g.join(', ')}`);
    } else {
      const err = maxErr(g, w);
      if (!(err <= tol)) out.push(`${what}, row '${r.name}': max error ${err} > ${tol}`);
    }
  });
  return out;
}

/** softmax of SOFTMAX_ROWS on a device: NaN rows all NaN, fully -Infinity rows zeros, others = oracle. */
export async function softmaxRowFailures(device: 'cpu' | 'cuda', dtype: natten.DType, tol: number): Promise<string[]> {
  const x = softmaxInput(device, dtype);
  const y = natten.softmax(x);
  try {
    const exact = { data: Float64Array.from(await x.toArray()), shape: [...x.shape] };
    return rowFailures(await y.toArray(), softmax(exact).data, tol, 'softmax');
  } finally {
    x.dispose();
    y.dispose();
  }
}

/** softmaxBackward on the softmax of SOFTMAX_ROWS, with dy NaN wherever y == 0: NaN rows stay all NaN,
 * the others equal the oracle (which ignores dy where y == 0: masked entries stay masked). */
export async function softmaxBackwardRowFailures(
  device: 'cpu' | 'cuda',
  dtype: natten.DType,
  tol: number,
): Promise<string[]> {
  const x = softmaxInput(device, dtype);
  const y = natten.softmax(x);
  const yv = await y.toArray();
  const dy = natten.tensor(
    Float64Array.from(randn(yv.length, 5), (v, i) => (yv[i] === 0 ? NaN : 0.1 * v)),
    y.shape,
    { dtype, device },
  );
  const dx = natten.softmaxBackward(dy, y);
  try {
    const want = softmaxBackward(
      { data: Float64Array.from(await dy.toArray()), shape: [...y.shape] },
      { data: Float64Array.from(yv), shape: [...y.shape] },
    );
    return rowFailures(await dx.toArray(), want.data, tol, 'softmaxBackward');
  } finally {
    for (const t of [x, y, dy, dx]) t.dispose();
  }
}
