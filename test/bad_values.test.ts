// Bad values (NaN, +-Infinity) on the CPU: softmax rows holding a NaN (or +Infinity) come out all NaN, as
// PyTorch's, while a row of only -Infinity (fully masked) stays zeros; the softmax backward keeps NaN rows
// NaN and ignores dy where y == 0; and one +Infinity in V reaches exactly the queries whose windows contain
// its key, in the fused forward (1/2/3-D, fp32/bf16/fp16/fp64) and in the unfused chain, and changes only
// the fused backward's gradients that depend on it. The CUDA versions are in cuda_bad_values.test.ts.
import * as natten from '../lib';
import {
  attentionOp,
  fusedOp,
  infBackwardLeaks,
  INF_CASES,
  INF_CHANNEL,
  type InfReport,
  queriesSeeingKey,
  runInfCase,
  softmaxBackwardRowFailures,
  softmaxRowFailures,
  windowOptions,
} from './helpers/bad_values';
import { Dtype, TOL } from './helpers/na_compare';

const DTYPES: Dtype[] = ['float32', 'bfloat16', 'float16', 'float64'];

/** A clean report: the Inf reached every query whose window holds its key, and no other. */
function expectClean(r: InfReport): void {
  expect(r.seeing).toBeGreaterThan(0);
  expect({ leaked: r.leaked, finiteSeeing: r.finiteSeeing, otherHeadDiffers: r.otherHeadDiffers }).toEqual({
    leaked: [],
    finiteSeeing: [],
    otherHeadDiffers: false,
  });
}

describe('CPU softmax with NaN and infinite entries', () => {
  test.each(DTYPES)(
    'a NaN (or +Infinity) makes its whole row NaN, a fully -Infinity row gives zeros (%s)',
    async (dtype) => {
      expect(await softmaxRowFailures('cpu', dtype, TOL[dtype].out)).toEqual([]);
    },
  );

  test.each(DTYPES)('softmaxBackward: NaN rows stay NaN, dy is ignored where y == 0 (%s)', async (dtype) => {
    expect(await softmaxBackwardRowFailures('cpu', dtype, TOL[dtype].grad)).toEqual([]);
  });
});

describe('CPU fused forward: an Inf in one V row reaches only the queries whose windows contain it', () => {
  test.each(INF_CASES.flatMap((c) => DTYPES.map((dtype) => [`${c.name}, ${dtype}`, c, dtype] as const)))(
    '%s',
    async (_n, c, dtype) => {
      const fn = fusedOp(c);
      const r = await runInfCase(c, 'cpu', dtype, (q, k, v) => fn(q, k, v, windowOptions(c)));
      expectClean(r);
    },
  );
});

describe('CPU fused backward: an Inf in one V row changes only the gradients it feeds', () => {
  test.each(
    INF_CASES.flatMap((c) =>
      (['float32', 'bfloat16'] as const).map((dtype) => [`${c.name}, ${dtype}`, c, dtype] as const),
    ),
  )('%s', async (_n, c, dtype) => {
    expect(await infBackwardLeaks(c, dtype)).toEqual({ dq: [], dk: [], dv: [] });
  });
});

describe('CPU unfused chain: an Inf in one V row reaches only the queries whose windows contain it', () => {
  afterEach(() => natten.useFusedNA(true));
  test.each(INF_CASES.flatMap((c) => DTYPES.map((dtype) => [`${c.name}, ${dtype}`, c, dtype] as const)))(
    '%s',
    async (_n, c, dtype) => {
      const fn = attentionOp(c);
      natten.useFusedNA(false);
      const r = await runInfCase(c, 'cpu', dtype, (q, k, v) => fn(q, k, v, windowOptions(c)));
      expectClean(r);
    },
  );
});

test(`the Inf cases put the Inf (channel ${INF_CHANNEL}) at a key that some queries see and others do not`, () => {
  for (const c of INF_CASES) {
    const seeing = queriesSeeingKey(c).size,
      n = c.spatial.reduce((a, b) => a * b, 1);
    expect({ name: c.name, some: seeing > 0, notAll: seeing < n }).toEqual({ name: c.name, some: true, notAll: true });
  }
});
