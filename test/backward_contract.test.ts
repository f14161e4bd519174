// The backward contract of the fused ops (docs/design.md §6): a backward whose options or tensors differ
// from the record on the forward's output throws ERR_NATTEN_BACKWARD_MISMATCH naming what differs; an output
// without a record (through .to(), rebuilt, reshaped) uses the options given. Records keep nothing alive.
import * as natten from '../lib';
import type { NAOptions, Tensor } from '../lib';
import * as oracle from './oracle';
import { maxErr, toOracle } from './helpers/na_compare';
import { gc, settle } from './helpers/settle';

const [B, X, Y, H, HKV, D] = [1, 9, 8, 2, 1, 4];
const rand = (shape: number[], seed: number, dtype: natten.DType = 'float32'): Tensor =>
  natten.randn(shape, { seed, dtype });
const OPTS: NAOptions = { kernelSize: 3, dilation: [1, 2], stride: [1, 2], isCausal: [false, true] };

interface Forward {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  ek: Tensor;
  ev: Tensor;
  output: Tensor;
  lse: Tensor;
}

function forward(seed: number, opts: NAOptions = OPTS, dtype: natten.DType = 'float32'): Forward {
  const q = rand([B, X, Y, H, D], seed, dtype),
    k = rand([B, X, Y, HKV, D], seed + 1, dtype),
    v = rand([B, X, Y, HKV, D], seed + 2, dtype);
  const ek = rand([B, 3, HKV, D], seed + 3, dtype),
    ev = rand([B, 3, HKV, D], seed + 4, dtype);
  const { output, lse } = natten.na2d(q, k, v, { ...opts, returnLse: true });
  return { q, k, v, ek, ev, output, lse };
}

/** The backward of f with the forward's tensors, overridden by `over` and its options by `opts`. */
function backward(f: Forward, opts: NAOptions, over: Partial<Forward> = {}): natten.NAGradients {
  const g = { ...f, ...over };
  const dOut = rand(g.output.shape as number[], 99);
  return natten.na2dBackward(dOut, g.q, g.k, g.v, g.output, g.lse, opts);
}

function expectMismatch(run: () => unknown, ...parts: string[]): void {
  let err: unknown;
  try {
    run();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(RangeError);
  expect((err as { code: string }).code).toBe('ERR_NATTEN_BACKWARD_MISMATCH');
  const msg = (err as Error).message;
  expect(msg).toMatch(/^na2dBackward: the backward does not match the forward that produced output: /);
  for (const p of parts) expect(msg).toContain(p);
}

describe('a backward that matches its forward', () => {
  test('runs, with and without additional keys/values', async () => {
    const f = forward(1);
    const g = backward(f, OPTS);
    expect(g.dq.shape).toEqual([B, X, Y, H, D]);
    const e = forward(10);
    const { output, lse } = natten.na2d(e.q, e.k, e.v, {
      ...OPTS,
      additionalKeys: e.ek,
      additionalValues: e.ev,
      returnLse: true,
    });
    const ge = backward({ ...e, output, lse }, { ...OPTS, additionalKeys: e.ek, additionalValues: e.ev });
    expect(ge.dAdditionalKeys!.shape).toEqual([B, 3, HKV, D]);
    await natten.synchronize('cpu');
  });

  test('the default scale equals an explicit headDim ** -0.5, and per-axis options equal their scalar form', () => {
    const f = forward(1, { kernelSize: 3 });
    expect(() =>
      backward(f, { kernelSize: [3, 3], dilation: 1, stride: [1, 1], isCausal: false, scale: D ** -0.5 }),
    ).not.toThrow();
  });
});

describe('ERR_NATTEN_BACKWARD_MISMATCH names what differs', () => {
  const f = forward(1);

  test('kernel size', () =>
    expectMismatch(
      () => backward(f, { ...OPTS, kernelSize: [3, 2] }),
      'kernelSize is [3, 2], the forward used [3, 3]',
    ));
  test('dilation', () =>
    expectMismatch(() => backward(f, { ...OPTS, dilation: 1 }), 'dilation is [1, 1], the forward used [1, 2]'));
  test('stride', () =>
    expectMismatch(() => backward(f, { ...OPTS, stride: 1 }), 'stride is [1, 1], the forward used [1, 2]'));
  test('causal', () =>
    expectMismatch(
      () => backward(f, { ...OPTS, isCausal: true }),
      'isCausal is [true, true], the forward used [false, true]',
    ));
  test('scale', () => expectMismatch(() => backward(f, { ...OPTS, scale: 0.3 }), 'scale is 0.3, the forward used 0.5'));
  test('several at once', () =>
    expectMismatch(
      () => backward(f, { kernelSize: 2, scale: 1 }),
      'kernelSize is [2, 2]',
      'isCausal is [false, false]',
      'scale is 1',
    ));

  test('extra KV: given to the backward only, to the forward only, or other tensors', () => {
    expectMismatch(
      () => backward(f, { ...OPTS, additionalKeys: f.ek, additionalValues: f.ev }),
      '3 additional keys/values are given, the forward attended to 0',
    );
    const { output, lse } = natten.na2d(f.q, f.k, f.v, {
      ...OPTS,
      additionalKeys: f.ek,
      additionalValues: f.ev,
      returnLse: true,
    });
    expectMismatch(
      () => backward({ ...f, output, lse }, OPTS),
      '0 additional keys/values are given, the forward attended to 3',
    );
    const other = rand([B, 3, HKV, D], 50);
    expectMismatch(
      () => backward({ ...f, output, lse }, { ...OPTS, additionalKeys: other, additionalValues: f.ev }),
      'additionalKeys is not the tensor the forward that produced output read',
    );
  });

  test('a foreign q (same shape, another tensor), and a copy of q', () => {
    expectMismatch(
      () => backward(f, OPTS, { q: rand([B, X, Y, H, D], 1) }),
      'q is not the tensor the forward that produced output read',
    );
    expectMismatch(() => backward(f, OPTS, { v: f.v.to('cpu') }), 'v is not the tensor');
  });

  test("a foreign output (another call's, with other q, k, v)", () => {
    const other = forward(20);
    expectMismatch(
      () => backward(f, OPTS, { output: other.output }),
      'output was produced by a forward of other q, k and v tensors',
    );
  });

  test("an lse of a forward of other options or tensors than output's (the same forward again is fine)", () => {
    const again = natten.na2d(f.q, f.k, f.v, { ...OPTS, returnLse: true });
    expect(() => backward(f, OPTS, { lse: again.lse })).not.toThrow();
    const other = natten.na2d(f.q, f.k, f.v, { ...OPTS, scale: 0.25, returnLse: true });
    expectMismatch(
      () => backward(f, OPTS, { lse: other.lse }),
      "lse comes from a forward of other options or tensors than output's",
    );
  });

  test('a failed check enqueues nothing and allocates nothing', async () => {
    await settle(); // garbage of earlier tests is collected now, not in the middle of the count
    const before = natten.internal.liveStorages('cpu');
    const dOut = rand(f.output.shape as number[], 5);
    expect(() => natten.na2dBackward(dOut, f.q, f.k, f.v, f.output, f.lse, { ...OPTS, kernelSize: 5 })).toThrow();
    dOut.dispose();
    expect(natten.internal.liveStorages('cpu')).toBe(before);
  });
});

describe('no record: the options given are used', () => {
  test('an output through .to(), rebuilt from its values, or reshaped carries no record', async () => {
    // float64: its backward recomputes the logsumexp, so a backward of other options is exactly the
    // oracle's backward of those options (the float32 one would also read the forward's lse).
    const f = forward(1, OPTS, 'float64');
    const values = await f.output.toArray();
    const copies = [
      f.output.to('cpu'),
      natten.tensor(values, f.output.shape, { dtype: 'float64' }),
      f.output.reshape(f.output.shape),
    ];
    // kernel 2 instead of 3: the record would reject it; without one the backward runs as told.
    const told: NAOptions = { ...OPTS, kernelSize: 2 };
    const dOut = rand(f.output.shape as number[], 7, 'float64');
    const o = await Promise.all([dOut, f.q, f.k, f.v, f.output, f.lse].map(toOracle));
    const want = oracle.naBackward(o[0], o[1], o[2], o[3], o[4], o[5], {
      kernelSize: 2,
      dilation: [1, 2],
      stride: [1, 2],
      isCausal: [false, true],
    });
    expect(() => natten.na2dBackward(dOut, f.q, f.k, f.v, f.output, f.lse, told)).toThrow(/kernelSize is \[2, 2\]/);
    for (const out of copies) {
      const g = natten.na2dBackward(dOut, f.q, f.k, f.v, out, f.lse, told);
      expect(maxErr(await g.dq.toArray(), want.dq.data)).toBeLessThanOrEqual(1e-12);
      expect(maxErr(await g.dk.toArray(), want.dk.data)).toBeLessThanOrEqual(1e-12);
      expect(maxErr(await g.dv.toArray(), want.dv.data)).toBeLessThanOrEqual(1e-12);
    }
  });

  test('outputs of the unfused chain (useFusedNA(false)) carry no record', () => {
    natten.useFusedNA(false);
    try {
      const f = forward(1);
      const out = natten.neighborhoodAttention2d(f.q, f.k, f.v, OPTS);
      expect(() =>
        natten.na2dBackward(rand(out.shape as number[], 3), f.q, f.k, f.v, out, f.lse, { ...OPTS, kernelSize: 2 }),
      ).not.toThrow();
    } finally {
      natten.useFusedNA(true);
    }
  });
});

describe('records keep nothing alive', () => {
  test('q, k, v, lse of a forward whose output is kept are collected', async () => {
    await natten.synchronize('cpu');
    gc();
    const before = natten.internal.liveStorages('cpu');
    const outputs: Tensor[] = [];
    for (let i = 0; i < 5; i++) outputs.push(forward(100 + i).output); // 7 storages each, one kept
    await natten.synchronize('cpu');
    gc();
    await new Promise((r) => setImmediate(r));
    gc();
    expect(natten.internal.liveStorages('cpu')).toBe(before + outputs.length);
    for (const o of outputs) o.dispose();
    expect(natten.internal.liveStorages('cpu')).toBe(before);
  });
});
