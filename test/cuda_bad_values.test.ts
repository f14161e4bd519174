// Bad values (NaN, +-Infinity) on CUDA. softmax: a NaN (or +Infinity) makes its whole row NaN, a fully
// -Infinity row gives zeros; softmaxBackward keeps NaN rows NaN and ignores dy where y == 0. One +Infinity
// in V (one key, one channel): the paths documented clean (the reference kernels: float32, or
// backend 'reference'; the unfused chain) give every query whose window excludes that key exactly its
// output with that V row zeroed. The tensor-core forward (float16/bfloat16, every compiled kernel family)
// keeps what README Troubleshooting ("NaN next to an Inf in V") documents: queries whose windows contain the
// key are non-finite, another query is either exact or NaN (a masked key of its KV tile contributes
// P = 0 times Inf inside the MMA), and the other head is untouched.
// NATTEN_CUDA_TESTS_ON=cpu runs the clean-path checks on the CPU engine (no tensor-core configs there).
import * as natten from '../lib';
import { GPU_DTYPES, TEST_DEVICE, TOL } from './cuda_common';
import {
  attentionOp,
  fusedOp,
  INF_CASES,
  type InfCase,
  type InfReport,
  runInfCase,
  softmaxBackwardRowFailures,
  softmaxRowFailures,
  windowOptions,
} from './helpers/bad_values';
import { describeGpu, hasGpu } from './helpers/gpu';

const suite = TEST_DEVICE === 'cpu' ? describe : describeGpu;
const HALF = ['float16', 'bfloat16'] as const;

function clean(r: InfReport): { leaked: number[]; finiteSeeing: number[]; otherHeadDiffers: boolean; seeing: boolean } {
  return { leaked: r.leaked, finiteSeeing: r.finiteSeeing, otherHeadDiffers: r.otherHeadDiffers, seeing: r.seeing > 0 };
}
const CLEAN = { leaked: [], finiteSeeing: [], otherHeadDiffers: false, seeing: true };
/** The documented behaviour of the block-multiplying paths: non-finite where the window holds the Inf;
 * elsewhere exact or NaN, never another value; the other head untouched. */
function documented(r: InfReport): {
  finiteSeeing: number[];
  leakedNotNaN: number[];
  otherHeadDiffers: boolean;
  seeing: boolean;
} {
  return {
    finiteSeeing: r.finiteSeeing,
    leakedNotNaN: r.leakedNotNaN,
    otherHeadDiffers: r.otherHeadDiffers,
    seeing: r.seeing > 0,
  };
}
const DOCUMENTED = { finiteSeeing: [], leakedNotNaN: [], otherHeadDiffers: false, seeing: true };

function cases<T>(extra: readonly T[]): Array<readonly [string, InfCase, T]> {
  return INF_CASES.flatMap((c) => extra.map((x) => [`${c.name}, ${String(x)}`, c, x] as const));
}

suite('CUDA softmax with NaN and infinite entries', () => {
  it.each(GPU_DTYPES)(
    'a NaN (or +Infinity) makes its whole row NaN, a fully -Infinity row gives zeros (%s)',
    async (dtype) => {
      expect(await softmaxRowFailures(TEST_DEVICE, dtype, TOL.out[dtype])).toEqual([]);
    },
  );
  it.each(GPU_DTYPES)('softmaxBackward: NaN rows stay NaN, dy is ignored where y == 0 (%s)', async (dtype) => {
    expect(await softmaxBackwardRowFailures(TEST_DEVICE, dtype, TOL.grad[dtype])).toEqual([]);
  });
});

suite('CUDA: an Inf in one V row, the paths documented clean', () => {
  afterEach(() => natten.useFusedNA(true));

  it.each(cases(['float32'] as const))('fused op, float32 (reference kernel): %s', async (_n, c, dtype) => {
    const fn = fusedOp(c);
    expect(clean(await runInfCase(c, TEST_DEVICE, dtype, (q, k, v) => fn(q, k, v, windowOptions(c))))).toEqual(CLEAN);
  });

  it.each(cases(HALF))("fused op, backend 'reference': %s", async (_n, c, dtype) => {
    const fn = fusedOp(c);
    const r = await runInfCase(c, TEST_DEVICE, dtype, (q, k, v) =>
      fn(q, k, v, { ...windowOptions(c), backend: 'reference' }),
    );
    expect(clean(r)).toEqual(CLEAN);
  });

  it.each(cases(GPU_DTYPES))('unfused chain (useFusedNA(false)): %s', async (_n, c, dtype) => {
    const fn = attentionOp(c);
    natten.useFusedNA(false);
    const r = await runInfCase(c, TEST_DEVICE, dtype, (q, k, v) => fn(q, k, v, windowOptions(c)));
    // The CUDA AV kernel multiplies a register block of neighbouring queries by shared key rows (weight 0
    // outside a query's window): as on the tensor-core forward, 0 x Inf can reach such a query as NaN
    // (README, troubleshooting). The CPU engine's chain is clean (test/bad_values.test.ts).
    if (TEST_DEVICE === 'cpu') expect(clean(r)).toEqual(CLEAN);
    else expect(documented(r)).toEqual(DOCUMENTED);
  });
});

// Head dim 32 runs the mma.sync kernels; 64 also has the sm_90a wgmma ones (on compute capability 9.0).
const KERNEL_RUNS =
  TEST_DEVICE === 'cuda' && hasGpu
    ? HALF.flatMap((dtype) =>
        [32, 64].flatMap((headDim) =>
          [1, 2, 3].flatMap((dims) =>
            [
              ...new Set(
                natten
                  .fusedConfigs({ dims, headDim, dtype })
                  .filter((c) => c.pass === 'forward')
                  .map((c) => c.kernel),
              ),
            ].map((kernel) => ({ dtype, headDim, dims, kernel })),
          ),
        ),
      )
    : [];
const TENSOR_CORE_RUNS = KERNEL_RUNS.flatMap((k) =>
  INF_CASES.filter((c) => c.spatial.length === k.dims).map(
    (c) => [`${c.name}, ${k.dtype}, head dim ${k.headDim}, ${k.kernel}`, c, k] as const,
  ),
);

suite('CUDA tensor-core forward: an Inf in one V row (documented behaviour)', () => {
  it('has tensor-core forward configs to test where the GPU has the fused kernels', () => {
    if (TEST_DEVICE === 'cuda' && natten.hasFusedNA('cuda')) expect(TENSOR_CORE_RUNS.length).toBeGreaterThan(0);
  });

  if (TENSOR_CORE_RUNS.length === 0) return;
  it.each(TENSOR_CORE_RUNS)('%s', async (name, c, k) => {
    const fn = fusedOp(c);
    const r = await runInfCase(
      c,
      'cuda',
      k.dtype,
      (q, kk, v) => fn(q, kk, v, { ...windowOptions(c), forwardKernel: k.kernel }),
      k.headDim,
    );
    if (r.leaked.length)
      process.stderr.write(`  ${name}: ${r.leaked.length} queries whose windows exclude the key are NaN\n`);
    expect(documented(r)).toEqual(DOCUMENTED);
  });
});
