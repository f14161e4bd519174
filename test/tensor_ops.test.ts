// Tensor ops on the CPU engine against the fp64 oracle, in all four dtypes, and their bad calls
// (test/helpers/tensor_ops_cases.ts); plus what only the CPU has: the addon's own bounds checks.
import * as natten from '../lib';
import { native } from '../lib/native';
import { describeTensorOps, expectCoded } from './helpers/tensor_ops_cases';
import { settle } from './helpers/settle';

describe('tensor ops (CPU)', () => {
  describeTensorOps('cpu', ['float32', 'float16', 'bfloat16', 'float64']);

  it('the addon refuses buffers smaller than a call touches', () => {
    const small = natten.zeros([4]),
      big = natten.zeros([64]);
    const gemm = { dtype: 0, batch: 1, m: 4, n: 4, k: 4, aStride: 16, bStride: 0, bTrans: true, allowTf32: false };
    expectCoded(
      () => native.gemm({ ...gemm, a: small.handle(), b: big.handle(), c: big.handle() }),
      RangeError,
      'ERR_NATTEN_INVALID_SHAPE',
    );
    expectCoded(
      () =>
        native.stridedCopy({
          dtype: 0,
          shape: [4, 4],
          srcStrides: [4, 1],
          dstStrides: [4, 1],
          srcOffset: 0,
          dstOffset: 0,
          src: small.handle(),
          dst: big.handle(),
        }),
      RangeError,
      'ERR_NATTEN_INVALID_SHAPE',
    );
    expectCoded(
      () => native.view({ tensor: small.handle(), offset: 8, bytes: 16 }),
      RangeError,
      'ERR_NATTEN_INVALID_SHAPE',
    );
    expectCoded(
      () => native.add({ dtype: 0, numel: 16, bNumel: 3, a: big.handle(), b: big.handle(), out: big.handle() }),
      RangeError,
      'ERR_NATTEN_INVALID_SHAPE',
    );
  });

  it('a part of chunk along axis 0 shares its input storage (a view), other parts are copies', async () => {
    const x = natten.zeros([4, 64]);
    await settle(); // garbage of earlier tests is collected now, not in the middle of the count
    const before = natten.memory().cpu;
    const views = natten.chunk(x, 4, 0);
    expect(natten.memory().cpu).toBe(before);
    const copies = natten.chunk(x, 4, 1);
    expect(natten.memory().cpu).toBe(before + 4 * 64 * 4);
    for (const p of [...views, ...copies]) p.dispose();
  });
});
