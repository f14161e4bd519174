// natten.captureGraph and natten.copyInto argument checks (any build, no GPU needed): a CPU device is a coded
// error; copyInto copies in place and rejects other shapes, dtypes and devices with coded errors.
import * as natten from '../lib';

describe('captureGraph and copyInto arguments', () => {
  it('captureGraph needs a CUDA device and a function', () => {
    expect(() => natten.captureGraph('cpu', () => undefined)).toThrow(
      expect.objectContaining({ name: 'RangeError', code: 'ERR_NATTEN_INVALID_DEVICE' }),
    );
    expect(() => natten.captureGraph('gpu' as natten.DeviceLike, () => undefined)).toThrow(
      expect.objectContaining({ name: 'RangeError', code: 'ERR_NATTEN_INVALID_DEVICE' }),
    );
    expect(() => natten.captureGraph(3 as unknown as natten.DeviceLike, () => undefined)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_NATTEN_INVALID_ARG_TYPE' }),
    );
  });

  it('copyInto copies in place and checks shape, dtype and device', async () => {
    const dst = natten.zeros([2, 3]);
    const src = natten.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(natten.copyInto(dst, src)).toBe(dst);
    expect(Array.from(await dst.toArray())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => natten.copyInto(dst, natten.zeros([3, 2]))).toThrow(
      expect.objectContaining({ code: 'ERR_NATTEN_INVALID_SHAPE' }),
    );
    expect(() => natten.copyInto(dst, natten.zeros([2, 3], { dtype: 'float16' }))).toThrow(
      expect.objectContaining({ code: 'ERR_NATTEN_DTYPE_MISMATCH' }),
    );
    expect(() => natten.copyInto(dst, [1] as unknown as natten.Tensor)).toThrow(
      expect.objectContaining({ code: 'ERR_NATTEN_INVALID_ARG_TYPE' }),
    );
  });
});
