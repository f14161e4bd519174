// CPU engine vs the fp64 oracle: a seeded sweep of fused forward (output, lse) and backward (dq, dk, dv and
// the additional keys/values' gradients) over 1/2/3-D, odd/even kernels, dilation with ragged groups,
// stride up to the kernel size, causal subsets, dense windows (k = L), head dims 1..160, GQA, Dv != D,
// extra KV, batch and heads > 1, in float32/float16/bfloat16/float64. Outputs are poisoned with NaN first.
import * as natten from '../lib';
import * as oracle from './oracle';
import {
  Dtype,
  type FusedSizes,
  maxErr,
  pair,
  randint,
  randomWindow,
  TOL,
  caseName,
  windowFields,
  windowOpts,
} from './helpers/na_compare';

const DTYPES: Dtype[] = ['float32', 'float16', 'bfloat16', 'float64'];
const MAX_L = [0, 40, 11, 6];
const FNS = [null, natten.na1d, natten.na2d, natten.na3d] as const;
const BWD = [null, natten.na1dBackward, natten.na2dBackward, natten.na3dBackward] as const;

interface FusedCase extends FusedSizes {
  id: number;
  dtype: Dtype;
  dims: number;
  win: ReturnType<typeof randomWindow>;
}

function headDim(rng: () => number): number {
  const r = rng();
  if (r < 0.1) return randint(rng, 1, 4);
  if (r < 0.85) return randint(rng, 5, 40);
  return randint(rng, 41, 160);
}

function makeCases(n: number, seed: number): FusedCase[] {
  const rng = oracle.mulberry32(seed);
  const cases: FusedCase[] = [];
  for (let id = 0; id < n; id++) {
    const dims = 1 + (id % 3);
    const Hkv = randint(rng, 1, 2);
    const D = headDim(rng);
    const big = D > 64; // keep the oracle fast: big heads on small problems
    const win = randomWindow(rng, dims, big ? Math.max(3, Math.floor(MAX_L[dims] / 2)) : MAX_L[dims]);
    cases.push({
      id,
      dtype: DTYPES[Math.floor(id / 3) % 4],
      dims,
      win,
      D,
      B: big ? 1 : randint(rng, 1, 2),
      Hkv,
      H: Hkv * randint(rng, 1, 2),
      Dv: rng() < 0.3 ? headDim(rng) : D,
      nExtra: rng() < 0.3 ? randint(rng, 1, 5) : 0,
      scale: rng() < 0.2 ? 0.1 + rng() : undefined,
    });
  }
  return cases;
}

const CASES = makeCases(168, 20261128);

beforeAll(() => natten.setPoisonOutputs(true));
afterAll(() => natten.setPoisonOutputs(false));

describe('CPU fused NA vs the fp64 oracle', () => {
  test.each(
    CASES.map((c) => [
      caseName({
        id: c.id,
        dtype: c.dtype,
        dims: c.dims,
        B: c.B,
        H: c.H,
        Hkv: c.Hkv,
        D: c.D,
        Dv: c.Dv,
        nExtra: c.nExtra,
        ...windowFields(c.win),
      }),
      c,
    ]),
  )('%s', async (_name, c) => {
    const { dims, B, H, Hkv, D, Dv, nExtra, dtype } = c as FusedCase;
    const S = (c as FusedCase).win.spatial;
    const seed = 1000 * (c as FusedCase).id;
    const q = pair(oracle.randnTensor([B, ...S, H, D], seed + 1), dtype);
    const k = pair(oracle.randnTensor([B, ...S, Hkv, D], seed + 2), dtype);
    const v = pair(oracle.randnTensor([B, ...S, Hkv, Dv], seed + 3), dtype);
    const ek = nExtra ? pair(oracle.randnTensor([B, nExtra, Hkv, D], seed + 4), dtype) : undefined;
    const ev = nExtra ? pair(oracle.randnTensor([B, nExtra, Hkv, Dv], seed + 5), dtype) : undefined;
    const win = windowOpts((c as FusedCase).win);
    const opts = { ...win, scale: (c as FusedCase).scale, additionalKeys: ek?.t, additionalValues: ev?.t };
    const oOpts = { ...win, scale: (c as FusedCase).scale, additionalKeys: ek?.o, additionalValues: ev?.o };

    const fwd = FNS[dims]!(q.t, k.t, v.t, { ...opts, returnLse: true });
    const want = oracle.naForward(q.o, k.o, v.o, oOpts);
    const tol = TOL[dtype];
    expect(fwd.output.shape).toEqual(want.output.shape);
    expect(fwd.output.dtype).toBe(dtype);
    expect(maxErr(await fwd.output.toArray(), want.output.data)).toBeLessThanOrEqual(tol.out);
    expect(maxErr(await fwd.lse.toArray(), want.lse.data)).toBeLessThanOrEqual(tol.lse);

    const dOut = pair(oracle.randnTensor([B, ...S, H, Dv], seed + 6, 0.05), dtype);
    const out = { data: Float64Array.from(await fwd.output.toArray()), shape: want.output.shape };
    const g = BWD[dims]!(dOut.t, q.t, k.t, v.t, fwd.output, fwd.lse, opts);
    const gw = oracle.naBackward(dOut.o, q.o, k.o, v.o, out, want.lse, oOpts);
    expect(maxErr(await g.dq.toArray(), gw.dq.data)).toBeLessThanOrEqual(tol.grad);
    expect(maxErr(await g.dk.toArray(), gw.dk.data)).toBeLessThanOrEqual(tol.grad);
    expect(maxErr(await g.dv.toArray(), gw.dv.data)).toBeLessThanOrEqual(tol.grad);
    if (nExtra) {
      expect(maxErr(await g.dAdditionalKeys!.toArray(), gw.dAdditionalKeys!.data)).toBeLessThanOrEqual(tol.grad);
      expect(maxErr(await g.dAdditionalValues!.toArray(), gw.dAdditionalValues!.data)).toBeLessThanOrEqual(tol.grad);
    } else {
      expect(g.dAdditionalKeys).toBeUndefined();
    }
    for (const t of [
      q.t,
      k.t,
      v.t,
      ek?.t,
      ev?.t,
      fwd.output,
      fwd.lse,
      dOut.t,
      g.dq,
      g.dk,
      g.dv,
      g.dAdditionalKeys,
      g.dAdditionalValues,
    ])
      t?.dispose();
  });
});

describe('CPU fused NA: fixed edge cases', () => {
  const fixed: Array<[string, number, number[], number[], number, Dtype]> = [
    ['2-D dense window (k = L) equals full attention', 2, [9, 7], [9, 7], 16, 'float32'],
    ['1-D head dim 1', 1, [17], [4], 1, 'float32'],
    ['1-D head dim 160', 1, [12], [5], 160, 'float32'],
    ['3-D head dim 160, bf16', 3, [4, 5, 4], [2, 3, 4], 160, 'bfloat16'],
    ['1-D long window spanning several score chunks', 1, [900], [850], 8, 'float32'],
  ];
  test.each(fixed)('%s', async (_n, dims, S, kernelSize, D, dtype) => {
    const q = pair(oracle.randnTensor([1, ...S, 2, D], 7), dtype);
    const k = pair(oracle.randnTensor([1, ...S, 2, D], 8), dtype);
    const v = pair(oracle.randnTensor([1, ...S, 2, D], 9), dtype);
    const r = FNS[dims]!(q.t, k.t, v.t, { kernelSize, returnLse: true });
    const want = oracle.naForward(q.o, k.o, v.o, { kernelSize });
    expect(maxErr(await r.output.toArray(), want.output.data)).toBeLessThanOrEqual(TOL[dtype].out);
    expect(maxErr(await r.lse.toArray(), want.lse.data)).toBeLessThanOrEqual(TOL[dtype].lse);
  });
});
