// CUDA reference fused NA kernels (the on-GPU oracle and fused fallback; forward with LSE and backward)
// against the fp64 oracle on a seeded sweep: 1/2/3-D, odd and even kernels, dilation with ragged groups,
// stride, causal per axis, GQA/MQA, additional keys/values, Dv != D, head dims 1..256, scale,
// fp32/fp16/bf16. Outputs are poisoned with NaN before each run; dOut is scaled by 0.05.
import * as natten from '../lib';
import {
  Failures,
  type FusedCase,
  GPU_DTYPES,
  Rng,
  TEST_DEVICE,
  TOL,
  describeSweepCase,
  download,
  expectCudaMatchesCpu,
  itOnCuda,
  fusedOracleOptions,
  randomHeadDim,
  randomWindow,
  runNaBackward,
  runNaForward,
  uploadFusedInputs,
  windowSize,
} from './cuda_common';
import { describeGpu } from './helpers/gpu';

const suite = TEST_DEVICE === 'cpu' ? describe : describeGpu;
import { naBackward, naForward, randnTensor } from './oracle';

const SWEEP_CASES = 130;
const REFERENCE = { useReference: true };

function randomCase(seed: number): FusedCase {
  const r = new Rng(seed);
  for (;;) {
    const dims = r.pick([1, 2, 2, 3]);
    const w = randomWindow(r, dims);
    const H = r.pick([1, 2, 3, 4, 6]);
    const divisors = [1, 2, 3, 4, 6].filter((x) => H % x === 0);
    const c: FusedCase = {
      seed,
      dtype: GPU_DTYPES[seed % 3],
      w,
      B: r.int(1, 2),
      H,
      Hkv: r.chance(0.5) ? H : r.pick(divisors),
      D: randomHeadDim(r),
      Dv: 0,
      nExtra: r.chance(0.3) ? r.int(1, 5) : 0,
      scale: r.chance(0.2) ? 0.05 + r.uniform() : undefined,
    };
    c.Dv = r.chance(0.7) ? c.D : randomHeadDim(r);
    const n = w.spatial.reduce((a, b) => a * b, 1);
    if (c.B * c.H * n * (windowSize(w) + c.nExtra) * (c.D + c.Dv) <= 3e6) return c;
  }
}

async function runCase(c: FusedCase, f: Failures): Promise<void> {
  const t = c.dtype;
  const tag = describeSweepCase(c, { scale: c.scale ?? 'default' });
  await f.run(tag, async (s) => {
    const seed = c.seed * 97;
    const x = await uploadFusedInputs(s, c, t, seed);
    const opts = fusedOracleOptions(c, x);

    // Forward: O and LSE.
    const fwd = runNaForward(s, c, t, x, REFERENCE);
    const ref = naForward(x.q.exact, x.k.exact, x.v.exact, opts);
    const outGot = await download(fwd.out);
    const lseGot = await download(fwd.lse);
    f.check(`forward O ${tag}`, outGot, ref.output, TOL.out[t]);
    f.check(`forward LSE ${tag}`, lseGot, ref.lse, TOL.lse);

    // Backward from the kernel's own O and LSE (the oracle uses the same O for delta = rowsum(dO * O)).
    const dOut = await s.upload(randnTensor(outGot.shape, seed + 6, 0.05), t);
    const d = runNaBackward(s, c, t, x, fwd, dOut.dev, REFERENCE);
    const g = naBackward(dOut.exact, x.q.exact, x.k.exact, x.v.exact, outGot, lseGot, opts);
    f.check(`backward dQ ${tag}`, await download(d.dq), g.dq, TOL.grad[t]);
    f.check(`backward dK ${tag}`, await download(d.dk), g.dk, TOL.grad[t]);
    f.check(`backward dV ${tag}`, await download(d.dv), g.dv, TOL.grad[t]);
    if (d.dek) f.check(`backward dExtraK ${tag}`, await download(d.dek), g.dAdditionalKeys!, TOL.grad[t]);
    if (d.dev) f.check(`backward dExtraV ${tag}`, await download(d.dev), g.dAdditionalValues!, TOL.grad[t]);
  });
}

suite('CUDA reference fused NA kernels vs the fp64 oracle', () => {
  it(`match on ${SWEEP_CASES} random problems, forward (O, LSE) and backward, fp32/fp16/bf16`, async () => {
    const f = new Failures();
    for (let i = 0; i < SWEEP_CASES; i++) await runCase(randomCase(7000 + i), f);
    process.stderr.write(
      `  reference sweep: ${SWEEP_CASES} cases, ${f.checks} comparisons, ${f.list.length} failures\n`,
    );
    expect(f.list).toEqual([]);
  });

  it('handles head dims above one register chunk (D, Dv > 256) and MQA', async () => {
    const f = new Failures();
    const base: FusedCase = {
      seed: 90000,
      dtype: 'float32',
      B: 1,
      H: 4,
      Hkv: 1,
      D: 300,
      Dv: 520,
      nExtra: 2,
      w: { spatial: [9, 7], kernel: [3, 4], stride: [1, 2], dilation: [2, 1], causal: [false, true] },
    };
    for (const dtype of GPU_DTYPES) await runCase({ ...base, dtype, seed: base.seed + dtype.length }, f);
    expect(f.list).toEqual([]);
  });
  itOnCuda("public API: na2d/na2dBackward with backend 'reference' on CUDA tensors match the CPU engine", async () => {
    const opts = {
      kernelSize: [3, 4],
      dilation: [1, 2],
      stride: [2, 1],
      isCausal: [true, false],
      backend: 'reference' as const,
    };
    const on = (mk: (shape: number[], seed: number) => natten.Tensor) => {
      const q = mk([2, 9, 10, 4, 32], 1),
        k = mk([2, 9, 10, 2, 32], 2),
        v = mk([2, 9, 10, 2, 24], 3);
      const ek = mk([2, 3, 2, 32], 4),
        ev = mk([2, 3, 2, 24], 5),
        dOut = mk([2, 9, 10, 4, 24], 6);
      const r = natten.na2d(q, k, v, { ...opts, additionalKeys: ek, additionalValues: ev, returnLse: true });
      const g = natten.na2dBackward(dOut, q, k, v, r.output, r.lse, {
        ...opts,
        additionalKeys: ek,
        additionalValues: ev,
      });
      return [r.output, r.lse, g.dq, g.dk, g.dv, g.dAdditionalKeys!, g.dAdditionalValues!];
    };
    await expectCudaMatchesCpu(on, ['output', 'lse', 'dq', 'dk', 'dv', 'dExtraK', 'dExtraV']);
  });
});
