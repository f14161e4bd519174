// CPU engine vs the fp64 oracle for the unfused ops (QK with rpb and extra keys, AV with extra values,
// softmax, and the backward of each), the unfused chain against the fused op (GQA and extra KV
// included), and mergeAttentions. Outputs are poisoned with NaN first.
import * as natten from '../lib';
import * as oracle from './oracle';
import {
  caseName,
  Dtype,
  maxErr,
  pair,
  randint,
  randomWindow,
  TOL,
  windowFields,
  windowOpts,
} from './helpers/na_compare';

const DTYPES: Dtype[] = ['float32', 'bfloat16', 'float16', 'float64'];
const MAX_L = [0, 30, 10, 6];
const QK = [null, natten.na1dQK, natten.na2dQK, natten.na3dQK] as const;
const AV = [null, natten.na1dAV, natten.na2dAV, natten.na3dAV] as const;
const QKB = [null, natten.na1dQKBackward, natten.na2dQKBackward, natten.na3dQKBackward] as const;
const AVB = [null, natten.na1dAVBackward, natten.na2dAVBackward, natten.na3dAVBackward] as const;

interface UnfusedCase {
  id: number;
  dtype: Dtype;
  dims: number;
  B: number;
  H: number;
  D: number;
  Dv: number;
  nExtra: number;
  rpb: boolean;
  win: ReturnType<typeof randomWindow>;
}

function makeCases(n: number, seed: number): UnfusedCase[] {
  const rng = oracle.mulberry32(seed);
  const out: UnfusedCase[] = [];
  for (let id = 0; id < n; id++) {
    const dims = 1 + (id % 3);
    const win = randomWindow(rng, dims, MAX_L[dims]);
    // rpb needs odd, non-causal kernels: make every fourth case eligible.
    const rpb = id % 4 === 0;
    if (rpb) {
      win.isCausal = win.isCausal.map(() => false);
      win.kernelSize = win.kernelSize.map((k, a) =>
        k % 2 === 1 ? k : k - 1 >= 2 ? k - 1 : k + 1 <= win.spatial[a] / win.dilation[a] ? k + 1 : k,
      );
      win.stride = win.stride.map((s, a) => Math.min(s, win.kernelSize[a]));
    }
    const okRpb = rpb && win.kernelSize.every((k) => k % 2 === 1);
    const D = rng() < 0.1 ? randint(rng, 1, 3) : randint(rng, 4, rng() < 0.1 ? 160 : 32);
    out.push({
      id,
      dtype: DTYPES[Math.floor(id / 3) % 4],
      dims,
      win,
      D,
      Dv: rng() < 0.3 ? randint(rng, 1, 24) : D,
      B: randint(rng, 1, 2),
      H: randint(rng, 1, 3),
      nExtra: rng() < 0.3 ? randint(rng, 1, 4) : 0,
      rpb: okRpb,
    });
  }
  return out;
}

const CASES = makeCases(96, 424242);

beforeAll(() => natten.setPoisonOutputs(true));
afterAll(() => natten.setPoisonOutputs(false));

describe('CPU unfused NA vs the fp64 oracle', () => {
  test.each(
    CASES.map((c) => [
      caseName({
        id: c.id,
        dtype: c.dtype,
        dims: c.dims,
        B: c.B,
        H: c.H,
        D: c.D,
        Dv: c.Dv,
        nExtra: c.nExtra,
        rpb: c.rpb,
        ...windowFields(c.win),
      }),
      c,
    ]),
  )('%s', async (_n, cc) => {
    const c = cc as UnfusedCase;
    const { dims, B, H, D, Dv, nExtra, dtype } = c;
    const S = c.win.spatial,
      tol = TOL[dtype],
      seed = 7000 + 100 * c.id;
    const win = windowOpts(c.win);
    const q = pair(oracle.randnTensor([B, H, ...S, D], seed + 1), dtype);
    const k = pair(oracle.randnTensor([B, H, ...S, D], seed + 2), dtype);
    const v = pair(oracle.randnTensor([B, H, ...S, Dv], seed + 3), dtype);
    const ek = nExtra ? pair(oracle.randnTensor([B, H, nExtra, D], seed + 4), dtype) : undefined;
    const ev = nExtra ? pair(oracle.randnTensor([B, H, nExtra, Dv], seed + 5), dtype) : undefined;
    const rpbShape = [H, ...c.win.kernelSize.map((x) => 2 * x - 1)];
    const rpb = c.rpb ? pair(oracle.randnTensor(rpbShape, seed + 6), dtype) : undefined;

    // QK (raw scores, -Infinity at masked positions)
    const attn = QK[dims]!(q.t, k.t, { ...win, rpb: rpb?.t, additionalKeys: ek?.t });
    const attnW = oracle.naQK(q.o, k.o, { ...win, rpb: rpb?.o, additionalKeys: ek?.o });
    expect(attn.shape).toEqual(attnW.shape);
    // Scores are sums of D products of unit normals: scale the tolerance with sqrt(D).
    expect(maxErr(await attn.toArray(), attnW.data)).toBeLessThanOrEqual(tol.out * Math.max(1, Math.sqrt(D)));

    // softmax over the last axis, then AV with the probabilities
    const probs = natten.softmax(attn);
    const attnRounded = { data: Float64Array.from(await attn.toArray()), shape: attnW.shape };
    const probsW = oracle.softmax(attnRounded);
    expect(maxErr(await probs.toArray(), probsW.data)).toBeLessThanOrEqual(tol.out);
    const probsO = { data: Float64Array.from(await probs.toArray()), shape: attnW.shape };
    const out = AV[dims]!(probs, v.t, { ...win, additionalValues: ev?.t });
    const outW = oracle.naAV(probsO, v.o, { ...win, additionalValues: ev?.o });
    expect(maxErr(await out.toArray(), outW.data)).toBeLessThanOrEqual(tol.out);

    // Backward of each
    const dOut = pair(oracle.randnTensor(outW.shape, seed + 7, 0.05), dtype);
    const avg = AVB[dims]!(dOut.t, probs, v.t, { ...win, additionalValues: ev?.t });
    const avgW = oracle.naAVBackward(dOut.o, probsO, v.o, { ...win, additionalValues: ev?.o });
    expect(maxErr(await avg.dAttn.toArray(), avgW.dAttn.data)).toBeLessThanOrEqual(tol.grad);
    expect(maxErr(await avg.dv.toArray(), avgW.dv.data)).toBeLessThanOrEqual(tol.grad);
    if (nExtra)
      expect(maxErr(await avg.dAdditionalValues!.toArray(), avgW.dAdditionalValues!.data)).toBeLessThanOrEqual(
        tol.grad,
      );

    const dProbs = { data: Float64Array.from(await avg.dAttn.toArray()), shape: attnW.shape };
    const dAttn = natten.softmaxBackward(avg.dAttn, probs);
    const dAttnW = oracle.softmaxBackward(dProbs, probsO);
    expect(maxErr(await dAttn.toArray(), dAttnW.data)).toBeLessThanOrEqual(tol.grad);

    const dAttnO = { data: Float64Array.from(await dAttn.toArray()), shape: attnW.shape };
    const qkg = QKB[dims]!(dAttn, q.t, k.t, { ...win, rpb: rpb?.t, additionalKeys: ek?.t });
    const qkgW = oracle.naQKBackward(dAttnO, q.o, k.o, { ...win, rpb: rpb?.o, additionalKeys: ek?.o });
    expect(maxErr(await qkg.dq.toArray(), qkgW.dq.data)).toBeLessThanOrEqual(tol.grad);
    expect(maxErr(await qkg.dk.toArray(), qkgW.dk.data)).toBeLessThanOrEqual(tol.grad);
    if (rpb) expect(maxErr(await qkg.dRpb!.toArray(), qkgW.drpb!.data)).toBeLessThanOrEqual(tol.grad * 10);
    else expect(qkg.dRpb).toBeUndefined();
    if (nExtra)
      expect(maxErr(await qkg.dAdditionalKeys!.toArray(), qkgW.dAdditionalKeys!.data)).toBeLessThanOrEqual(tol.grad);
  });
});

describe('unfused chain == fused op', () => {
  const rng = oracle.mulberry32(99);
  const cases = Array.from({ length: 24 }, (_, i) => {
    const dims = 1 + (i % 3);
    return {
      i,
      dims,
      win: randomWindow(rng, dims, [0, 24, 9, 5][dims]),
      Hkv: randint(rng, 1, 2),
      G: randint(rng, 1, 2),
      D: randint(rng, 1, 24),
      Dv: randint(rng, 1, 24),
      nExtra: i % 2 ? randint(rng, 1, 3) : 0,
    };
  });
  const ATT = [
    null,
    natten.neighborhoodAttention1d,
    natten.neighborhoodAttention2d,
    natten.neighborhoodAttention3d,
  ] as const;
  afterEach(() => natten.useFusedNA(true));
  test.each(
    cases.map((c) => [
      caseName({
        dims: c.dims,
        ...windowFields(c.win),
        H: c.Hkv * c.G,
        Hkv: c.Hkv,
        nExtra: c.nExtra,
      }),
      c,
    ]),
  )('%s', async (_n, c) => {
    const { dims, Hkv, G, D, Dv, nExtra } = c as (typeof cases)[number];
    const S = (c as (typeof cases)[number]).win.spatial,
      H = Hkv * G;
    const q = natten.randn([2, ...S, H, D], { seed: 1 });
    const k = natten.randn([2, ...S, Hkv, D], { seed: 2 });
    const v = natten.randn([2, ...S, Hkv, Dv], { seed: 3 });
    const ek = nExtra ? natten.randn([2, nExtra, Hkv, D], { seed: 4 }) : undefined;
    const ev = nExtra ? natten.randn([2, nExtra, Hkv, Dv], { seed: 5 }) : undefined;
    const opts = {
      ...windowOpts((c as (typeof cases)[number]).win),
      additionalKeys: ek,
      additionalValues: ev,
      scale: 0.4,
    };
    natten.useFusedNA(true);
    const fused = await ATT[dims]!(q, k, v, opts).toArray();
    natten.useFusedNA(false);
    const unfused = ATT[dims]!(q, k, v, opts);
    expect(unfused.shape).toEqual([2, ...S, H, Dv]);
    expect(maxErr(await unfused.toArray(), fused)).toBeLessThanOrEqual(1e-5);
  });
});

describe('mergeAttentions', () => {
  test('window part + extra-keys part merge to the fused op with additional keys', async () => {
    const [B, X, Y, H, D, E] = [2, 7, 6, 2, 8, 5];
    const q = natten.randn([B, X, Y, H, D], { seed: 11 });
    const k = natten.randn([B, X, Y, H, D], { seed: 12 });
    const v = natten.randn([B, X, Y, H, D], { seed: 13 });
    const ek = natten.randn([B, E, H, D], { seed: 14 });
    const ev = natten.randn([B, E, H, D], { seed: 15 });
    const full = natten.na2d(q, k, v, { kernelSize: 3, additionalKeys: ek, additionalValues: ev, returnLse: true });
    const part = natten.na2d(q, k, v, { kernelSize: 3, returnLse: true });
    // Attention over the extra keys alone, computed in fp64 here.
    const [qa, eka, eva] = [await q.toArray(), await ek.toArray(), await ev.toArray()];
    const oe = new Float64Array(B * X * Y * H * D),
      le = new Float64Array(B * X * Y * H);
    for (let r = 0; r < B * X * Y * H; r++) {
      const b = Math.floor(r / (X * Y * H)),
        h = r % H;
      const s = Array.from({ length: E }, (_, e) => {
        let dot = 0;
        for (let c = 0; c < D; c++) dot += qa[r * D + c] * eka[((b * E + e) * H + h) * D + c];
        return dot / Math.sqrt(D);
      });
      const m = Math.max(...s),
        w = s.map((x) => Math.exp(x - m)),
        sum = w.reduce((a, x) => a + x, 0);
      le[r] = m + Math.log(sum);
      for (let e = 0; e < E; e++)
        for (let c = 0; c < D; c++) oe[r * D + c] += (w[e] / sum) * eva[((b * E + e) * H + h) * D + c];
    }
    const merged = natten.mergeAttentions(
      [part.output, natten.tensor(oe, [B, X, Y, H, D])],
      [part.lse, natten.tensor(le, [B, X, Y, H])],
    );
    expect(maxErr(await merged.output.toArray(), await full.output.toArray())).toBeLessThanOrEqual(1e-5);
    expect(maxErr(await merged.lse.toArray(), await full.lse.toArray())).toBeLessThanOrEqual(1e-5);
  });
});
