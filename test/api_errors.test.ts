// Every invalid input of the NA ops (docs/design.md §7 and NATTEN's checks) throws at call time with its code, the
// right error class, and a message naming the argument; nothing is enqueued and nothing crashes.
import * as natten from '../lib';
import { native } from '../lib/native';
import { describeGpu } from './helpers/gpu';

type Ctor = typeof TypeError | typeof RangeError | typeof natten.NattenError;

function expectError(fn: () => unknown, ctor: Ctor, code: string, message?: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  // By name: errors thrown by the addon come from Node's realm, not jest's sandbox, so instanceof fails there.
  expect(err).toBeDefined();
  expect((err as Error).name).toBe(ctor.name);
  expect((err as { code?: string }).code).toBe(code);
  if (message) expect((err as Error).message).toMatch(message);
}

const T = 'ERR_NATTEN_INVALID_ARG_TYPE',
  V = 'ERR_NATTEN_INVALID_ARG_VALUE',
  S = 'ERR_NATTEN_INVALID_SHAPE';

// 2-D problem: q [1, 8, 9, 4, 16], k/v with 2 heads (GQA).
const q = natten.randn([1, 8, 9, 4, 16], { seed: 1 });
const k = natten.randn([1, 8, 9, 2, 16], { seed: 2 });
const v = natten.randn([1, 8, 9, 2, 12], { seed: 3 });
const ok = { kernelSize: 3 };

describe('fused ops: tensors', () => {
  test('q that is not a tensor', () =>
    expectError(() => natten.na2d([1, 2] as never, k, v, ok), TypeError, T, /na2d: q must be a Tensor/));
  test('disposed k', () => {
    const d = natten.randn([1, 8, 9, 2, 16]);
    d.dispose();
    expectError(() => natten.na2d(q, d, v, ok), natten.NattenError, 'ERR_NATTEN_DISPOSED', /k has been disposed/);
  });
  test('q of the wrong rank', () =>
    expectError(() => natten.na2d(natten.randn([8, 9, 4, 16]), k, v, ok), RangeError, S, /q must have rank 5/));
  test('na1d given 2-D input', () => expectError(() => natten.na1d(q, k, v, ok), RangeError, S, /rank 4/));
  test('k with another spatial size', () =>
    expectError(
      () => natten.na2d(q, natten.randn([1, 8, 8, 2, 16]), v, ok),
      RangeError,
      S,
      /na2d: k must have shape \[1, 8, 9, 2, 16\]/,
    ));
  test('k with another head dim', () =>
    expectError(() => natten.na2d(q, natten.randn([1, 8, 9, 2, 8]), v, ok), RangeError, S, /k must have shape/));
  test('v with other heads than k', () =>
    expectError(() => natten.na2d(q, k, natten.randn([1, 8, 9, 1, 12]), ok), RangeError, S, /v must have shape/));
  test('kv heads not dividing q heads', () => {
    const k3 = natten.randn([1, 8, 9, 3, 16]),
      v3 = natten.randn([1, 8, 9, 3, 16]);
    expectError(() => natten.na2d(q, k3, v3, ok), RangeError, S, /3 heads, which must divide q's 4 heads/);
  });
  test('dtype mismatch', () =>
    expectError(
      () => natten.na2d(q, k.to({ dtype: 'float16' }), v, ok),
      TypeError,
      'ERR_NATTEN_DTYPE_MISMATCH',
      /k is float16 but q is float32/,
    ));
  test('empty axis', () =>
    expectError(() => natten.na2d(natten.randn([0, 8, 9, 4, 16]), k, v, ok), RangeError, S, /no empty axis/));
});

describe('fused ops: window parameters', () => {
  test('kernel size 1', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: [3, 1] }),
      RangeError,
      V,
      /kernelSize\[1\] must be an integer >= 2, got 1/,
    ));
  test('non-integer kernel size', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: 2.5 }),
      RangeError,
      V,
      /kernelSize\[0\] must be an integer >= 2, got 2.5/,
    ));
  test('kernel size of the wrong type', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: '3' as never }),
      TypeError,
      T,
      /kernelSize must be an integer or an array of 2 integers/,
    ));
  test('kernel size array of the wrong length', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: [3, 3, 3] }),
      RangeError,
      V,
      /kernelSize must have 2 entries/,
    ));
  test('missing kernel size', () => expectError(() => natten.na2d(q, k, v, {} as never), TypeError, T, /kernelSize/));
  test('kernel size * dilation > length', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: 3, dilation: [2, 4] }),
      RangeError,
      V,
      /kernelSize\[1\] \* dilation\[1\] = 3 \* 4 = 12 must be <= q's length 9/,
    ));
  test('kernel size > length', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: 9 }),
      RangeError,
      V,
      /= 9 must be <= q's length 8 on spatial axis 0/,
    ));
  test('stride > kernel size', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: 3, stride: [1, 4] }),
      RangeError,
      V,
      /stride\[1\] must be <= kernelSize\[1\] = 3, got 4/,
    ));
  test('stride 0', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: 3, stride: 0 }),
      RangeError,
      V,
      /stride\[0\] must be an integer >= 1/,
    ));
  test('dilation 0', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: 3, dilation: 0 }),
      RangeError,
      V,
      /dilation\[0\] must be an integer >= 1/,
    ));
  test('isCausal not boolean', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: 3, isCausal: [true, 1 as never] }),
      TypeError,
      T,
      /isCausal\[1\] must be a boolean/,
    ));
});

describe('fused ops: other options', () => {
  test('scale not a number', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: 3, scale: '1' as never }),
      TypeError,
      T,
      /scale must be a finite number/,
    ));
  test('scale NaN', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: 3, scale: NaN }),
      RangeError,
      V,
      /scale must be a finite number, got NaN/,
    ));
  test('unknown option', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: 3, kernel_size: 3 } as never),
      RangeError,
      V,
      /unknown option "kernel_size"/,
    ));
  test('options not an object', () =>
    expectError(() => natten.na2d(q, k, v, 3 as never), TypeError, T, /opts must be an options object/));
  test('returnLse not boolean', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: 3, returnLse: 1 as never }),
      TypeError,
      T,
      /returnLse must be a boolean/,
    ));
  test('bad tile shape', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: 3, qTileShape: [8] }),
      RangeError,
      V,
      /qTileShape must be 2 positive integers/,
    ));
  test('bad forward kernel', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: 3, forwardKernel: 'hmma' as never }),
      RangeError,
      V,
      /forwardKernel must be one of 'mma', 'wgmma', 'wgmma-ws', got "hmma"/,
    ));
  test('bad backward kernel', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: 3, backwardKernel: 'wgmma-ws' as never }),
      RangeError,
      V,
      /backwardKernel must be one of 'mma', 'wgmma', got "wgmma-ws"/,
    ));
  test('bad backend', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: 3, backend: 'cutlass' as never }),
      RangeError,
      V,
      /backend must be/,
    ));
  test('additional keys without values', () =>
    expectError(
      () => natten.na2d(q, k, v, { kernelSize: 3, additionalKeys: natten.randn([1, 4, 2, 16]) }),
      RangeError,
      V,
      /additionalKeys and additionalValues must be given together/,
    ));
  test('additional keys of the wrong shape', () =>
    expectError(
      () =>
        natten.na2d(q, k, v, {
          kernelSize: 3,
          additionalKeys: natten.randn([1, 4, 4, 16]),
          additionalValues: natten.randn([1, 4, 2, 12]),
        }),
      RangeError,
      S,
      /additionalKeys must have shape \[1, 4, 2, 16\]/,
    ));
  test('additional values of the wrong head dim', () =>
    expectError(
      () =>
        natten.na2d(q, k, v, {
          kernelSize: 3,
          additionalKeys: natten.randn([1, 4, 2, 16]),
          additionalValues: natten.randn([1, 4, 2, 16]),
        }),
      RangeError,
      S,
      /additionalValues must have shape \[1, 4, 2, 12\]/,
    ));
  test('additional keys of another dtype', () =>
    expectError(
      () =>
        natten.na2d(q, k, v, {
          kernelSize: 3,
          additionalKeys: natten.randn([1, 4, 2, 16], { dtype: 'bfloat16' }),
          additionalValues: natten.randn([1, 4, 2, 12]),
        }),
      TypeError,
      'ERR_NATTEN_DTYPE_MISMATCH',
      /additionalKeys is bfloat16/,
    ));
});

describe('fused backward', () => {
  const { output, lse } = natten.na2d(q, k, v, { kernelSize: 3, returnLse: true });
  const dOut = natten.randn(output.shape as number[]);
  test('dOut of the wrong shape', () =>
    expectError(
      () => natten.na2dBackward(natten.randn([1, 8, 9, 4, 16]), q, k, v, output, lse, ok),
      RangeError,
      S,
      /dOut must have shape \[1, 8, 9, 4, 12\]/,
    ));
  test('lse of the wrong shape', () =>
    expectError(
      () => natten.na2dBackward(dOut, q, k, v, output, natten.randn([1, 8, 9]), ok),
      RangeError,
      S,
      /lse must have shape \[1, 8, 9, 4\]/,
    ));
  test('lse not float32', () =>
    expectError(
      () => natten.na2dBackward(dOut, q, k, v, output, lse.to({ dtype: 'float16' }), ok),
      TypeError,
      'ERR_NATTEN_DTYPE_MISMATCH',
      /lse must be float32/,
    ));
  test('output disposed', () => {
    const o2 = natten.na2d(q, k, v, ok);
    o2.dispose();
    expectError(
      () => natten.na2dBackward(dOut, q, k, v, o2, lse, ok),
      natten.NattenError,
      'ERR_NATTEN_DISPOSED',
      /output has been disposed/,
    );
  });
  test('window checks apply to the backward too', () =>
    expectError(
      () => natten.na2dBackward(dOut, q, k, v, output, lse, { kernelSize: 3, stride: 5 }),
      RangeError,
      V,
      /stride\[0\] must be <= kernelSize\[0\]/,
    ));
});

describe('unfused ops', () => {
  const uq = natten.randn([1, 2, 8, 9, 16]),
    uk = natten.randn([1, 2, 8, 9, 16]),
    uv = natten.randn([1, 2, 8, 9, 12]);
  test('k of another shape than q', () =>
    expectError(
      () => natten.na2dQK(uq, natten.randn([1, 2, 8, 9, 8]), ok),
      RangeError,
      S,
      /k must have shape \[1, 2, 8, 9, 16\]/,
    ));
  test('rpb with an even kernel', () =>
    expectError(
      () => natten.na2dQK(uq, uk, { kernelSize: 4, rpb: natten.randn([2, 7, 7]) }),
      RangeError,
      V,
      /rpb needs an odd kernelSize/,
    ));
  test('rpb with causal masking', () =>
    expectError(
      () => natten.na2dQK(uq, uk, { kernelSize: 3, isCausal: [true, false], rpb: natten.randn([2, 5, 5]) }),
      RangeError,
      V,
      /rpb is not supported with causal masking/,
    ));
  test('rpb of the wrong shape', () =>
    expectError(
      () => natten.na2dQK(uq, uk, { kernelSize: 3, rpb: natten.randn([2, 5, 3]) }),
      RangeError,
      S,
      /rpb must have shape \[2, 5, 5\]/,
    ));
  test('extra keys of the wrong shape', () =>
    expectError(
      () => natten.na2dQK(uq, uk, { kernelSize: 3, additionalKeys: natten.randn([1, 1, 3, 16]) }),
      RangeError,
      S,
      /additionalKeys must have shape \[1, 2, 3, 16\]/,
    ));
  test('attention weights of the wrong size', () =>
    expectError(
      () => natten.na2dAV(natten.randn([1, 2, 8, 9, 8]), uv, ok),
      RangeError,
      S,
      /attn must have shape \[1, 2, 8, 9, 9\]/,
    ));
  test('extra values changing the expected weight count', () =>
    expectError(
      () =>
        natten.na2dAV(natten.randn([1, 2, 8, 9, 9]), uv, {
          kernelSize: 3,
          additionalValues: natten.randn([1, 2, 2, 12]),
        }),
      RangeError,
      S,
      /attn must have shape \[1, 2, 8, 9, 11\]/,
    ));
  test('QK backward dAttn of the wrong shape', () =>
    expectError(
      () => natten.na2dQKBackward(natten.randn([1, 2, 8, 9, 8]), uq, uk, ok),
      RangeError,
      S,
      /dAttn must have shape/,
    ));
  test('AV backward dOut of the wrong shape', () =>
    expectError(
      () => natten.na2dAVBackward(natten.randn([1, 2, 8, 9, 16]), natten.randn([1, 2, 8, 9, 9]), uv, ok),
      RangeError,
      S,
      /dOut must have shape \[1, 2, 8, 9, 12\]/,
    ));
  test('unfused dtype mismatch', () =>
    expectError(() => natten.na2dQK(uq, uk.to({ dtype: 'bfloat16' }), ok), TypeError, 'ERR_NATTEN_DTYPE_MISMATCH'));
  test('unfused window check', () =>
    expectError(
      () =>
        natten.na3dQK(natten.randn([1, 1, 4, 4, 4, 2]), natten.randn([1, 1, 4, 4, 4, 2]), { kernelSize: [2, 2, 5] }),
      RangeError,
      V,
      /kernelSize\[2\] \* dilation\[2\] = 5 \* 1 = 5 must be <= q's length 4/,
    ));
});

describe('softmax and merge', () => {
  test('softmax of a scalar', () =>
    expectError(() => natten.softmax(natten.tensor([1], [])), RangeError, S, /at least one axis/));
  test('softmaxBackward shapes differ', () =>
    expectError(
      () => natten.softmaxBackward(natten.randn([2, 3]), natten.randn([3, 2])),
      RangeError,
      S,
      /dy must have shape \[3, 2\]/,
    ));
  test('merge of nothing', () =>
    expectError(() => natten.mergeAttentions([], []), RangeError, V, /non-empty arrays of equal length/));
  test('merge with a float16 lse', () => {
    const o = natten.randn([1, 4, 2, 8]);
    expectError(
      () => natten.mergeAttentions([o, o], [natten.randn([1, 4, 2]), natten.randn([1, 4, 2], { dtype: 'float16' })]),
      TypeError,
      'ERR_NATTEN_DTYPE_MISMATCH',
      /lses\[1\] must be float32/,
    );
  });
  test('merge of outputs with different shapes', () =>
    expectError(
      () =>
        natten.mergeAttentions(
          [natten.randn([1, 4, 2, 8]), natten.randn([1, 4, 2, 4])],
          [natten.randn([1, 4, 2]), natten.randn([1, 4, 2])],
        ),
      RangeError,
      S,
      /outputs\[1\] must have shape/,
    ));
});

describe('context switches', () => {
  test('useFusedNA needs a boolean', () =>
    expectError(() => natten.useFusedNA('yes' as never), TypeError, T, /on must be a boolean/));
  test('unknown memory preference', () =>
    expectError(
      () => natten.setMemoryUsagePreference('lavish' as never),
      RangeError,
      V,
      /pref must be 'default', 'strict' or 'unrestricted'/,
    ));
  test('useKVParallelism needs a boolean', () => expectError(() => natten.useKVParallelism(0 as never), TypeError, T));
});

// The raw addon (lib/native.ts) re-checks what keeps it inside its buffers, and names the option at fault.
describe('native checks (defence in depth, TS layer bypassed)', () => {
  const problem = { dims: 1, batch: 1, heads: 2, headDim: 4, length: [8], kernel: [3] };
  const buf = (numel: number) => native.empty({ device: -1, dtype: 0, numel });
  /** naForward's options for `problem`, every buffer large enough. */
  const forward = () => ({ dtype: 0, problem, q: buf(64), k: buf(64), v: buf(64), output: buf(64), lse: buf(16) });
  test('not an options object', () =>
    expectError(() => native.naForward(5 as never), TypeError, T, /^options must be an object/));
  test('a missing problem', () =>
    expectError(
      () => native.naForward({ ...forward(), problem: undefined as never }),
      TypeError,
      T,
      /options.problem must be an object/,
    ));
  test('a wrongly typed option', () =>
    expectError(
      () => native.naForward({ ...forward(), dtype: 'float32' as never }),
      TypeError,
      T,
      /options.dtype must be a dtype code/,
    ));
  test('an output buffer too small for the problem', () =>
    expectError(
      () => native.naForward({ ...forward(), output: buf(10) }),
      RangeError,
      S,
      /options.output holds 40 bytes, the problem needs 256/,
    ));
  test('an input buffer too small', () =>
    expectError(
      () => native.naBackward({ ...forward(), k: buf(63), dOut: buf(64), dq: buf(64), dk: buf(64), dv: buf(64) }),
      RangeError,
      S,
      /options.k holds/,
    ));
  test('a window larger than the input', () =>
    expectError(
      () => native.naForward({ ...forward(), problem: { ...problem, kernel: [9] } }),
      RangeError,
      V,
      /options.problem: kernel\[0\] \* dilation\[0\] = 9 must be <= length\[0\] = 8/,
    ));
  test('a stride above the kernel size', () =>
    expectError(
      () => native.naQK({ dtype: 0, problem: { ...problem, stride: [4] }, q: buf(64), k: buf(64), attn: buf(48) }),
      RangeError,
      V,
      /options.problem.stride\[0\]/,
    ));
  test('key/value heads that do not divide the query heads', () =>
    expectError(
      () => native.naForward({ ...forward(), problem: { ...problem, headsKv: 3 } }),
      RangeError,
      V,
      /options.problem.headsKv \(3\) must divide heads/,
    ));
  test('a buffer the problem needs but was not given', () =>
    expectError(
      () => native.naForward({ ...forward(), problem: { ...problem, nExtra: 2 }, additionalValues: buf(16) }),
      TypeError,
      T,
      /options.additionalKeys is required/,
    ));
  test('sizes that overflow 64-bit counts', () =>
    expectError(
      () =>
        native.naQK({
          dtype: 0,
          problem: { ...problem, batch: 2 ** 52, length: [2 ** 30], kernel: [3] },
          q: buf(1),
          k: buf(1),
          attn: buf(1),
        }),
      RangeError,
      S,
      /overflow/,
    ));
  test('a foreign object as a handle', () =>
    expectError(
      () => native.naForward({ ...forward(), q: {} as never }),
      TypeError,
      T,
      /options.q must be a tensor handle/,
    ));
  test('a read past the end of a storage', () => {
    expectError(
      () => native.toArraySync({ tensor: buf(4), dtype: 0, numel: 5 }),
      RangeError,
      S,
      /options.tensor holds 16 bytes, 5 elements need 20/,
    );
    expectError(
      () => native.copy({ src: buf(4), srcDtype: 3, device: -1, dtype: 0, numel: 4 }),
      RangeError,
      S,
      /options.src holds 16 bytes, 4 elements need 32/,
    );
  });
  test('a storage handle as a GPU timer', () =>
    expectError(
      () => native.gpuTimerStart({ timer: buf(4) as never }),
      TypeError,
      T,
      /options.timer must be a handle from gpuTimerCreate/,
    ));
});

describeGpu('device checks', () => {
  test('tensors on different devices', () =>
    expectError(
      () => natten.na2d(q, k.to('cuda'), v, ok),
      TypeError,
      'ERR_NATTEN_DEVICE_MISMATCH',
      /k is on cuda:0 but q is on cpu/,
    ));
  test('lse on another device', () => {
    const { output, lse } = natten.na2d(q, k, v, { kernelSize: 3, returnLse: true });
    expectError(
      () => natten.na2dBackward(natten.randn(output.shape as number[]), q, k, v, output, lse.to('cuda'), ok),
      TypeError,
      'ERR_NATTEN_DEVICE_MISMATCH',
      /lse is on cuda:0/,
    );
  });
});
