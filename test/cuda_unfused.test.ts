// CUDA unfused NA ops (QK + rpb + extra keys, softmax, AV + extra values, and every backward) against
// the fp64 oracle on a seeded sweep of random problems: 1/2/3-D, odd and even kernels, dilation with
// ragged groups, stride, causal per axis, head dims 1..256, batch/heads > 1, fp32/fp16/bf16. Every output
// is poisoned with NaN before the op runs; inputs at masked (causal) positions are NaN where the op must
// ignore them. Also: one problem whose attention tensor has more than 2^31 elements (64-bit offsets).
import * as natten from '../lib';
import { dtypeCode } from '../lib/dtype';
import { native, type NativeProblem } from '../lib/native';
import {
  Failures,
  GPU_DTYPES,
  Rng,
  Scope,
  type SweepCase,
  TEST_DEVICE,
  TOL,
  describeSweepCase,
  download,
  expectCudaMatchesCpu,
  itOnCuda,
  randomHeadDim,
  randomWindow,
  windowSize,
} from './cuda_common';
import { describeGpu } from './helpers/gpu';

const suite = TEST_DEVICE === 'cpu' ? describe : describeGpu;
import {
  axisWindow,
  forEachIndex,
  naAV,
  naAVBackward,
  naQK,
  naQKBackward,
  randnTensor,
  softmax,
  softmaxBackward,
  type Tensor as OTensor,
  windowSlots,
} from './oracle';

const SWEEP_CASES = 210;

interface UnfusedCase extends SweepCase {
  rpb: boolean;
}

function randomCase(seed: number): UnfusedCase {
  const r = new Rng(seed);
  for (;;) {
    const dims = r.pick([1, 2, 2, 3]);
    const rpb = r.chance(0.3);
    const w = randomWindow(r, dims, rpb);
    const c: UnfusedCase = {
      seed,
      dtype: GPU_DTYPES[seed % 3],
      w,
      B: r.int(1, 2),
      H: r.int(1, 3),
      D: randomHeadDim(r),
      Dv: 0,
      nExtra: r.chance(0.3) ? r.int(1, 5) : 0,
      rpb,
    };
    c.Dv = r.chance(0.7) ? c.D : randomHeadDim(r);
    const n = w.spatial.reduce((a, b) => a * b, 1);
    // Keep the fp64 oracle quick.
    if (c.B * c.H * n * (windowSize(w) + c.nExtra) * (c.D + c.Dv) <= 4e5) return c;
  }
}

function problemOf(c: UnfusedCase): NativeProblem {
  return {
    dims: c.w.spatial.length,
    batch: c.B,
    heads: c.H,
    headDim: c.D,
    headDimV: c.Dv,
    length: c.w.spatial,
    kernel: c.w.kernel,
    stride: c.w.stride,
    dilation: c.w.dilation,
    causal: c.w.causal,
    nExtra: c.nExtra,
    hasRpb: c.rpb,
  };
}

/** Copy of attention-shaped data with NaN at every masked (causal) window position. */
function nanAtMasked(t: OTensor, c: UnfusedCase): OTensor {
  const out = { data: Float64Array.from(t.data), shape: [...t.shape] };
  const K = windowSize(c.w);
  const cols = K + c.nExtra;
  const slots: boolean[][] = [];
  forEachIndex(c.w.spatial, (x) =>
    slots.push(windowSlots(c.w.spatial, c.w.kernel, c.w.stride, c.w.dilation, c.w.causal, x).map((s) => s === null)),
  );
  const n = slots.length;
  for (let bh = 0; bh < c.B * c.H; bh++)
    for (let q = 0; q < n; q++) for (let w = 0; w < K; w++) if (slots[q][w]) out.data[(bh * n + q) * cols + w] = NaN;
  return out;
}

async function runCase(c: UnfusedCase, f: Failures): Promise<void> {
  const t = c.dtype;
  const code = dtypeCode(t);
  const tag = describeSweepCase(c, { rpb: c.rpb });
  await f.run(tag, async (s) => {
    const na = { dtype: code, problem: problemOf(c) };
    const S = c.w.spatial;
    const K = windowSize(c.w);
    const cols = K + c.nExtra;
    const rows = c.B * c.H * S.reduce((a, b) => a * b, 1);
    const attnShape = [c.B, c.H, ...S, cols];
    const win = { kernelSize: c.w.kernel, stride: c.w.stride, dilation: c.w.dilation, isCausal: c.w.causal };
    const seed = c.seed * 101;

    const q = await s.upload(randnTensor([c.B, c.H, ...S, c.D], seed + 1), t);
    const k = await s.upload(randnTensor([c.B, c.H, ...S, c.D], seed + 2), t);
    const v = await s.upload(randnTensor([c.B, c.H, ...S, c.Dv], seed + 3), t);
    const rpb = c.rpb
      ? await s.upload(randnTensor([c.H, ...c.w.kernel.map((x) => 2 * x - 1)], seed + 4, 0.5), t)
      : undefined;
    const ek = c.nExtra ? await s.upload(randnTensor([c.B, c.H, c.nExtra, c.D], seed + 5), t) : undefined;
    const ev = c.nExtra ? await s.upload(randnTensor([c.B, c.H, c.nExtra, c.Dv], seed + 6), t) : undefined;

    // QK (+ rpb, + extra keys): unscaled, -inf at masked positions.
    const attn = s.poisoned(attnShape, t);
    const qk = { ...na, q: q.dev.handle(), k: k.dev.handle(), additionalKeys: Scope.handle(ek?.dev) };
    native.naQK({ ...qk, rpb: Scope.handle(rpb?.dev), attn: attn.handle() });
    const attnRef = naQK(q.exact, k.exact, { ...win, rpb: rpb?.exact, additionalKeys: ek?.exact });
    f.check(`QK ${tag}`, await download(attn), attnRef, TOL.out[t]);

    // softmax of the (rounded) reference scores.
    const x = await s.upload(attnRef, t);
    const y = s.poisoned(attnShape, t);
    native.softmax({ dtype: code, rows, cols, x: x.dev.handle(), y: y.handle() });
    const yRef = softmax(x.exact);
    f.check(`softmax ${tag}`, await download(y), yRef, TOL.out[t]);

    // AV (+ extra values), weights NaN at masked positions (must be ignored).
    const a = await s.upload(yRef, t);
    const aIn = await s.upload(nanAtMasked(a.exact, c), t);
    const out = s.poisoned([c.B, c.H, ...S, c.Dv], t);
    const av = { ...na, attn: aIn.dev.handle(), v: v.dev.handle(), additionalValues: Scope.handle(ev?.dev) };
    native.naAV({ ...av, output: out.handle() });
    f.check(
      `AV ${tag}`,
      await download(out),
      naAV(a.exact, v.exact, { ...win, additionalValues: ev?.exact }),
      TOL.out[t],
    );

    // AV backward: dAttn (0 at masked positions), dV, dExtraV.
    const dOut = await s.upload(randnTensor([c.B, c.H, ...S, c.Dv], seed + 7, 0.05), t);
    const dAttn = s.poisoned(attnShape, t);
    const dv = s.poisoned(v.exact.shape, t);
    const dev = ev ? s.poisoned(ev.exact.shape, t) : undefined;
    native.naAVBackward({
      ...av,
      dOut: dOut.dev.handle(),
      dAttn: dAttn.handle(),
      dv: dv.handle(),
      dAdditionalValues: Scope.handle(dev),
    });
    const avRef = naAVBackward(dOut.exact, a.exact, v.exact, { ...win, additionalValues: ev?.exact });
    f.check(`AV backward dAttn ${tag}`, await download(dAttn), avRef.dAttn, TOL.grad[t]);
    f.check(`AV backward dV ${tag}`, await download(dv), avRef.dv, TOL.grad[t]);
    if (dev) f.check(`AV backward dExtraV ${tag}`, await download(dev), avRef.dAdditionalValues!, TOL.grad[t]);

    // softmax backward: dy NaN where y is 0 at masked positions (must be ignored).
    const dy = await s.upload(nanAtMasked(randnTensor(attnShape, seed + 8, 0.05), c), t);
    const dx = s.poisoned(attnShape, t);
    native.softmaxBackward({ dtype: code, rows, cols, dy: dy.dev.handle(), y: a.dev.handle(), dx: dx.handle() });
    f.check(`softmax backward ${tag}`, await download(dx), softmaxBackward(dy.exact, a.exact), TOL.grad[t]);

    // QK backward: dQ, dK, dRpb, dExtraK; dAttn NaN at masked positions (must be ignored).
    const g = await s.upload(nanAtMasked(randnTensor(attnShape, seed + 9, 0.05), c), t);
    const dq = s.poisoned(q.exact.shape, t);
    const dk = s.poisoned(k.exact.shape, t);
    const drpb = rpb ? s.poisoned(rpb.exact.shape, t) : undefined;
    const dek = ek ? s.poisoned(ek.exact.shape, t) : undefined;
    native.naQKBackward({
      ...qk,
      dAttn: g.dev.handle(),
      dq: dq.handle(),
      dk: dk.handle(),
      dRpb: Scope.handle(drpb),
      dAdditionalKeys: Scope.handle(dek),
    });
    const qkRef = naQKBackward(g.exact, q.exact, k.exact, { ...win, rpb: rpb?.exact, additionalKeys: ek?.exact });
    f.check(`QK backward dQ ${tag}`, await download(dq), qkRef.dq, TOL.grad[t]);
    f.check(`QK backward dK ${tag}`, await download(dk), qkRef.dk, TOL.grad[t]);
    if (drpb) f.check(`QK backward dRpb ${tag}`, await download(drpb), qkRef.drpb!, TOL.grad[t]);
    if (dek) f.check(`QK backward dExtraK ${tag}`, await download(dek), qkRef.dAdditionalKeys!, TOL.grad[t]);
  });
}

suite('CUDA unfused NA ops vs the fp64 oracle', () => {
  it(`match on ${SWEEP_CASES} random problems, forward and backward, fp32/fp16/bf16`, async () => {
    const f = new Failures();
    for (let i = 0; i < SWEEP_CASES; i++) await runCase(randomCase(1000 + i), f);
    process.stderr.write(`  unfused sweep: ${SWEEP_CASES} cases, ${f.checks} comparisons, ${f.list.length} failures\n`);
    expect(f.list).toEqual([]);
  });

  it('covers the benchmark shapes on a small scale (large kernels, long rows), bf16', async () => {
    const f = new Failures();
    const shapes: [number[], number[], number][] = [
      [[160], [129], 32],
      [[24, 22], [21, 19], 4],
      [[5, 10, 10], [5, 9, 9], 4],
      [[30, 30], [7, 7], 32],
    ];
    let seed = 50000;
    for (const [S, k, D] of shapes) {
      const c: UnfusedCase = {
        seed: seed++,
        dtype: 'bfloat16',
        w: { spatial: S, kernel: k, stride: k.map(() => 1), dilation: k.map(() => 1), causal: k.map(() => false) },
        B: 1,
        H: 1,
        D,
        Dv: D,
        nExtra: 0,
        rpb: false,
      };
      await runCase(c, f);
    }
    expect(f.list).toEqual([]);
  });

  // Only meaningful with a GPU: the same public calls on 'cuda' and 'cpu' tensors.
  itOnCuda('public API: na2dQK/softmax/na2dAV and their backward on CUDA tensors match the CPU engine', async () => {
    const opts = { kernelSize: [5, 4], dilation: [2, 1], stride: [1, 2], isCausal: [false, true] };
    const on = (mk: (shape: number[], seed: number) => natten.Tensor) => {
      const q = mk([2, 3, 11, 9, 24], 1),
        k = mk([2, 3, 11, 9, 24], 2),
        v = mk([2, 3, 11, 9, 16], 3);
      const ek = mk([2, 3, 2, 24], 4),
        ev = mk([2, 3, 2, 16], 5),
        dOut = mk([2, 3, 11, 9, 16], 6);
      const attn = natten.na2dQK(q, k, { ...opts, additionalKeys: ek });
      const probs = natten.softmax(attn);
      const out = natten.na2dAV(probs, v, { ...opts, additionalValues: ev });
      const av = natten.na2dAVBackward(dOut, probs, v, { ...opts, additionalValues: ev });
      const dAttn = natten.softmaxBackward(av.dAttn, probs);
      const qk = natten.na2dQKBackward(dAttn, q, k, { ...opts, additionalKeys: ek });
      return [attn, probs, out, av.dAttn, av.dv, av.dAdditionalValues!, dAttn, qk.dq, qk.dk, qk.dAdditionalKeys!];
    };
    await expectCudaMatchesCpu(on, [
      'attn',
      'probs',
      'out',
      'dAttn (AV)',
      'dv',
      'dExtraV',
      'dAttn (softmax)',
      'dq',
      'dk',
      'dExtraK',
    ]);
  });

  // 17 GB of attention weights: GPU only.
  itOnCuda('indexes attention tensors with more than 2^31 elements (QK -> softmax -> AV, 64-bit offsets)', async () => {
    // 1-D, B*H = 1024 rows of L = 2048 queries x k = 1025 positions: 2^31 + 2.1e6 attention elements.
    const B = 512,
      H = 2,
      L = 2048,
      kk = 1025,
      D = 8,
      dtype = 'float32';
    const code = dtypeCode(dtype);
    const p: NativeProblem = { dims: 1, batch: B, heads: H, headDim: D, length: [L], kernel: [kk] };
    expect(B * H * L * kk).toBeGreaterThan(2 ** 31);
    const s = new Scope();
    try {
      const q = s.keep(natten.randn([B, H, L, D], { dtype, device: TEST_DEVICE, seed: 11 }));
      const k = s.keep(natten.randn([B, H, L, D], { dtype, device: TEST_DEVICE, seed: 12 }));
      const v = s.keep(natten.randn([B, H, L, D], { dtype, device: TEST_DEVICE, seed: 13 }));
      const attn = s.keep(natten.empty([B, H, L, kk], { dtype, device: TEST_DEVICE }));
      const probs = s.keep(natten.empty([B, H, L, kk], { dtype, device: TEST_DEVICE }));
      const out = s.poisoned([B, H, L, D], dtype);
      const na = { dtype: code, problem: p };
      native.naQK({ ...na, q: q.handle(), k: k.handle(), attn: attn.handle() });
      native.softmax({ dtype: code, rows: B * H * L, cols: kk, x: attn.handle(), y: probs.handle() });
      native.naAV({ ...na, attn: probs.handle(), v: v.handle(), output: out.handle() });
      const [qa, ka, va, oa] = await Promise.all([q.toArray(), k.toArray(), v.toArray(), out.toArray()]);
      // Oracle on sampled query rows (window from the oracle's axisWindow), some lying past 2^31 elements
      // of the attention tensor.
      const f = new Failures();
      for (const bh of [0, 700, B * H - 1]) {
        for (const i of [0, 1, 1000, L - 1]) {
          const row = bh * L + i;
          const keys = axisWindow(L, kk, 1, 1, false, i);
          const scores = keys.map((j) => {
            let dot = 0;
            for (let c = 0; c < D; c++) dot += qa[row * D + c] * ka[(bh * L + j) * D + c];
            return dot;
          });
          const probs = softmax(Float64Array.from(scores), [scores.length]).data;
          const ref = new Float64Array(D);
          keys.forEach((j, t) => {
            for (let c = 0; c < D; c++) ref[c] += probs[t] * va[(bh * L + j) * D + c];
          });
          const got = Float64Array.from(oa.subarray(row * D, (row + 1) * D));
          f.check(
            `> 2^31: (bh ${bh}, query ${i})`,
            { data: got, shape: [D] },
            { data: ref, shape: [D] },
            TOL.out.float32,
          );
        }
      }
      expect(f.list).toEqual([]);
    } finally {
      s.dispose();
    }
  });
});
