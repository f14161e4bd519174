// natten.gradcheck: every op with a backward passes in float64 (fused 1/2/3-D with dilation, stride, causal,
// GQA and extra KV; unfused QK with rpb and extra keys; AV with extra values; softmax; a chain of them),
// a deliberately wrong gradient fails with a report naming the input and its worst element, and bad
// arguments are coded errors. gradcheck creates no tensor it does not free.
import * as natten from '../lib';
import type { Differentiable, GradcheckForwardResult, GradcheckInputs, NAOptions, Tensor } from '../lib';

const F64 = { dtype: 'float64' } as const;
const rand = (shape: number[], seed: number): Tensor => natten.randn(shape, { ...F64, seed });

const FWD = [null, natten.na1d, natten.na2d, natten.na3d] as const;
const BWD = [null, natten.na1dBackward, natten.na2dBackward, natten.na3dBackward] as const;

/** The fused op of `dims` axes as gradcheck sees it (inputs q, k, v and, optionally, the extra KV). */
function fusedOp(dims: number, opts: NAOptions): Differentiable<GradcheckInputs, natten.NAResult> {
  const extra = (i: GradcheckInputs): NAOptions => ({
    ...opts,
    additionalKeys: i.additionalKeys,
    additionalValues: i.additionalValues,
  });
  return {
    forward: (i) => FWD[dims]!(i.q, i.k, i.v, { ...extra(i), returnLse: true }),
    backward: (dOut, i, r) => BWD[dims]!(dOut, i.q, i.k, i.v, r.output, r.lse, extra(i)),
  };
}

interface FusedCase {
  name: string;
  dims: number;
  spatial: number[];
  heads: number;
  headsKv: number;
  headDim: number;
  headDimV: number;
  nExtra: number;
  opts: NAOptions;
}

const FUSED: FusedCase[] = [
  {
    name: '1-D dilation 2, causal, GQA 2:1',
    dims: 1,
    spatial: [9],
    heads: 2,
    headsKv: 1,
    headDim: 4,
    headDimV: 3,
    nExtra: 0,
    opts: { kernelSize: 3, dilation: 2, isCausal: true },
  },
  {
    name: '1-D stride 2, even kernel, extra KV',
    dims: 1,
    spatial: [8],
    heads: 1,
    headsKv: 1,
    headDim: 3,
    headDimV: 3,
    nExtra: 2,
    opts: { kernelSize: 4, stride: 2, scale: 0.7 },
  },
  {
    name: '2-D causal on one axis, dilation on the other, GQA, extra KV',
    dims: 2,
    spatial: [5, 6],
    heads: 2,
    headsKv: 1,
    headDim: 3,
    headDimV: 2,
    nExtra: 1,
    opts: { kernelSize: [3, 2], dilation: [1, 2], isCausal: [true, false] },
  },
  {
    name: '3-D stride and causal',
    dims: 3,
    spatial: [4, 3, 4],
    heads: 1,
    headsKv: 1,
    headDim: 2,
    headDimV: 2,
    nExtra: 0,
    opts: { kernelSize: [2, 3, 3], stride: [2, 1, 3], isCausal: [false, false, true] },
  },
];

describe('gradcheck passes for the float64 ops', () => {
  test.each(FUSED.map((c) => [c.name, c]))('fused %s', async (_n, c) => {
    const { dims, spatial, heads, headsKv, headDim, headDimV, nExtra } = c as FusedCase;
    const inputs: Record<string, Tensor> = {
      q: rand([2, ...spatial, heads, headDim], 1),
      k: rand([2, ...spatial, headsKv, headDim], 2),
      v: rand([2, ...spatial, headsKv, headDimV], 3),
    };
    if (nExtra) {
      inputs.additionalKeys = rand([2, nExtra, headsKv, headDim], 4);
      inputs.additionalValues = rand([2, nExtra, headsKv, headDimV], 5);
    }
    await expect(natten.gradcheck(fusedOp(dims, (c as FusedCase).opts), inputs)).resolves.toBe(true);
  });

  test('unfused 2-D QK with rpb and additional keys', async () => {
    const win = { kernelSize: 3, dilation: [1, 2] };
    const inputs = {
      q: rand([1, 2, 5, 6, 3], 1),
      k: rand([1, 2, 5, 6, 3], 2),
      rpb: rand([2, 5, 5], 3),
      additionalKeys: rand([1, 2, 2, 3], 4),
    };
    const op: Differentiable<typeof inputs, Tensor> = {
      forward: (i) => natten.na2dQK(i.q, i.k, { ...win, rpb: i.rpb, additionalKeys: i.additionalKeys }),
      backward: (d, i) => natten.na2dQKBackward(d, i.q, i.k, { ...win, rpb: i.rpb, additionalKeys: i.additionalKeys }),
    };
    await expect(natten.gradcheck(op, inputs)).resolves.toBe(true);
  });

  test('unfused 1-D QK, causal with stride (masked -Infinity weights)', async () => {
    const win = { kernelSize: 4, stride: 2, isCausal: true };
    const inputs = { q: rand([1, 1, 9, 3], 1), k: rand([1, 1, 9, 3], 2) };
    const op: Differentiable<typeof inputs, Tensor> = {
      forward: (i) => natten.na1dQK(i.q, i.k, win),
      backward: (d, i) => natten.na1dQKBackward(d, i.q, i.k, win),
    };
    await expect(natten.gradcheck(op, inputs)).resolves.toBe(true);
  });

  test('unfused 3-D AV with additional values', async () => {
    const win = { kernelSize: 2, isCausal: [true, false, false] };
    const inputs = {
      attn: rand([1, 1, 3, 3, 3, 8 + 2], 1),
      v: rand([1, 1, 3, 3, 3, 2], 2),
      additionalValues: rand([1, 1, 2, 2], 3),
    };
    const op: Differentiable<typeof inputs, Tensor> = {
      forward: (i) => natten.na3dAV(i.attn, i.v, { ...win, additionalValues: i.additionalValues }),
      backward: (d, i) => natten.na3dAVBackward(d, i.attn, i.v, { ...win, additionalValues: i.additionalValues }),
    };
    await expect(natten.gradcheck(op, inputs)).resolves.toBe(true);
  });

  test('softmax (one input: the backward returns the gradient tensor itself)', async () => {
    const op: Differentiable<{ x: Tensor }, Tensor> = {
      forward: (i) => natten.softmax(i.x),
      backward: (d, i, y) => natten.softmaxBackward(d, y),
    };
    await expect(natten.gradcheck(op, { x: rand([4, 7], 1) })).resolves.toBe(true);
  });

  test('a chain: unfused QK, softmax and AV, differentiated end to end', async () => {
    const win = { kernelSize: 3 };
    const inputs = { q: rand([1, 2, 7, 3], 1), k: rand([1, 2, 7, 3], 2), v: rand([1, 2, 7, 2], 3) };
    const op: Differentiable<typeof inputs, { output: Tensor; probs: Tensor }> = {
      forward: (i) => {
        const probs = natten.softmax(natten.na1dQK(i.q, i.k, win));
        return { output: natten.na1dAV(probs, i.v, win), probs };
      },
      backward: (d, i, r) => {
        const av = natten.na1dAVBackward(d, r.probs, i.v, win);
        const qk = natten.na1dQKBackward(natten.softmaxBackward(av.dAttn, r.probs), i.q, i.k, win);
        return { dq: qk.dq, dk: qk.dk, dv: av.dv };
      },
    };
    await expect(natten.gradcheck(op, inputs)).resolves.toBe(true);
  });
});

describe('gradcheck reports a wrong gradient', () => {
  const inputs = (): GradcheckInputs => ({
    q: rand([1, 9, 2, 4], 1),
    k: rand([1, 9, 1, 4], 2),
    v: rand([1, 9, 1, 3], 3),
  });
  const opts: NAOptions = { kernelSize: 3, dilation: 2 };
  const good = fusedOp(1, opts);

  test('one element of dk off by 0.1%: rejects naming k and that element', async () => {
    const bad: Differentiable<GradcheckInputs, natten.NAResult> = {
      forward: good.forward,
      backward: (d, i, r) => {
        const g = BWD[1]!(d, i.q, i.k, i.v, r.output, r.lse, opts);
        const dk = g.dk.toArraySync();
        dk[13] *= 1.001; // [0, 3, 0, 1]
        return { ...g, dk: natten.tensor(dk, g.dk.shape, F64) };
      },
    };
    const err = await natten.gradcheck(bad, inputs()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(natten.GradcheckError);
    const e = err as natten.GradcheckError;
    expect(e.code).toBe('ERR_NATTEN_GRADCHECK');
    expect(e.failures).toHaveLength(1);
    expect(e.failures[0]).toMatchObject({ input: 'k', index: [0, 3, 0, 1], failing: 1, numel: 36 });
    expect(Math.abs(e.failures[0].analytical / e.failures[0].numerical - 1.001)).toBeLessThan(1e-6);
    expect(e.message).toMatch(/'k'.*k\[0, 3, 0, 1\]: backward .* central differences .*1 of 36 elements of k/);
  });

  test('dk and dv swapped in a problem where they have the same shape: both named', async () => {
    const swapped: Differentiable<GradcheckInputs, natten.NAResult> = {
      forward: good.forward,
      backward: (d, i, r) => {
        const g = BWD[1]!(d, i.q, i.k, i.v, r.output, r.lse, opts);
        return { dq: g.dq, dk: g.dv, dv: g.dk };
      },
    };
    const i = { q: rand([1, 9, 2, 4], 1), k: rand([1, 9, 1, 4], 2), v: rand([1, 9, 1, 4], 3) };
    const e = (await natten.gradcheck(swapped, i).catch((x: unknown) => x)) as natten.GradcheckError;
    expect(e.failures.map((f) => f.input)).toEqual(['k', 'v']);
  });

  test('the backward of another window (kernel 4 for a kernel-3 forward, no record to catch it): rejects', async () => {
    const other: Differentiable<GradcheckInputs, natten.NAResult> = {
      forward: good.forward,
      backward: (d, i, r) =>
        BWD[1]!(d, i.q, i.k, i.v, r.output.to('cpu'), r.lse, { ...opts, kernelSize: 4, dilation: 2 }),
    };
    const e = (await natten.gradcheck(other, inputs()).catch((x: unknown) => x)) as natten.GradcheckError;
    expect(e).toBeInstanceOf(natten.GradcheckError);
    expect(e.failures.length).toBeGreaterThan(0);
  });

  test('a missing or mis-shaped gradient is a GradcheckError saying so', async () => {
    const missing: Differentiable<GradcheckInputs, natten.NAResult> = {
      forward: good.forward,
      backward: (d, i, r) => {
        const g = BWD[1]!(d, i.q, i.k, i.v, r.output, r.lse, opts);
        return { dq: g.dq, dk: g.dk };
      },
    };
    await expect(natten.gradcheck(missing, inputs())).rejects.toThrow(
      "the backward returned no gradient for input 'v'",
    );
    const misShaped: Differentiable<GradcheckInputs, natten.NAResult> = {
      forward: good.forward,
      backward: (d, i, r) => {
        const g = BWD[1]!(d, i.q, i.k, i.v, r.output, r.lse, opts);
        return { ...g, dv: g.dv.reshape([9, 3]) };
      },
    };
    await expect(natten.gradcheck(misShaped, inputs())).rejects.toThrow(
      "the backward's gradient for 'v' has shape [9, 3], the input has [1, 9, 1, 3]",
    );
  });
});

describe('gradcheck arguments', () => {
  const op: Differentiable<{ x: Tensor }, Tensor> = {
    forward: (i) => natten.softmax(i.x),
    backward: (d, i, y) => natten.softmaxBackward(d, y),
  };

  test('float32 inputs or outputs are ERR_NATTEN_INVALID_DTYPE TypeErrors', async () => {
    const x = natten.randn([3, 4], { seed: 1 });
    await expect(natten.gradcheck(op, { x })).rejects.toThrow(TypeError);
    await expect(natten.gradcheck(op, { x })).rejects.toMatchObject({
      code: 'ERR_NATTEN_INVALID_DTYPE',
      message: expect.stringContaining('inputs.x is float32 on cpu; gradcheck needs float64 tensors on the CPU'),
    });
    const toF32: Differentiable<{ x: Tensor }, GradcheckForwardResult> = {
      forward: (i) => natten.softmax(i.x).to({ dtype: 'float32' }),
      backward: (d) => d,
    };
    await expect(natten.gradcheck(toF32, { x: rand([3, 4], 1) })).rejects.toMatchObject({
      code: 'ERR_NATTEN_INVALID_DTYPE',
      message: expect.stringContaining('the forward output is float32'),
    });
  });

  test('bad options, no inputs, no functions', async () => {
    const x = rand([3, 4], 1);
    await expect(natten.gradcheck(op, { x }, { eps: 0 })).rejects.toMatchObject({
      code: 'ERR_NATTEN_INVALID_ARG_VALUE',
    });
    await expect(natten.gradcheck(op, { x }, { atol: -1 })).rejects.toMatchObject({
      code: 'ERR_NATTEN_INVALID_ARG_VALUE',
    });
    await expect(natten.gradcheck(op, {})).rejects.toMatchObject({ code: 'ERR_NATTEN_INVALID_ARG_VALUE' });
    await expect(natten.gradcheck({ forward: op.forward } as unknown as typeof op, { x })).rejects.toMatchObject({
      code: 'ERR_NATTEN_INVALID_ARG_TYPE',
    });
  });

  test('passing and failing runs free every tensor they create', async () => {
    const x = rand([3, 5], 1);
    await natten.synchronize('cpu');
    const before = natten.internal.liveStorages('cpu');
    await natten.gradcheck(op, { x });
    const wrong: Differentiable<{ x: Tensor }, Tensor> = {
      forward: op.forward,
      backward: (d, i, y) => natten.softmaxBackward(d, i.x),
    };
    await expect(natten.gradcheck(wrong, { x })).rejects.toThrow(natten.GradcheckError);
    await natten.synchronize('cpu');
    // At most as many as before: tensors earlier tests left to the garbage collector may be finalized
    // meanwhile (never more: a leak of gradcheck's own tensors shows as a rise).
    expect(natten.internal.liveStorages('cpu')).toBeLessThanOrEqual(before);
  });
});
