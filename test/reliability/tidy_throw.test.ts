// natten.tidy(fn) when fn throws: the error propagates and every tensor created inside is disposed
// (reliability item 10). In-process: nothing here can crash the runtime.
import * as natten from '../../lib';
import { settle } from '../helpers/settle';

describe('tidy when its function throws', () => {
  it('rethrows the error and disposes every tensor created inside', async () => {
    await settle();
    const before = natten.memory().cpu;
    const made: natten.Tensor[] = [];
    const boom = new Error('thrown inside tidy');
    expect(() =>
      natten.tidy(() => {
        made.push(natten.zeros([16]));
        made.push(natten.randn([1, 8, 2, 4], { seed: 1 }));
        const q = made[1];
        made.push(natten.na1d(q, q, q, { kernelSize: 3 }));
        made.push(q.to({ dtype: 'float16' }));
        throw boom;
      }),
    ).toThrow(boom);
    expect(made.map((t) => t.isDisposed)).toEqual([true, true, true, true]);
    await natten.synchronize();
    expect(natten.memory().cpu).toBe(before);
  });

  it('a throwing inner tidy disposes its tensors; the outer scope keeps working', async () => {
    await settle();
    const before = natten.memory().cpu;
    const inner: natten.Tensor[] = [];
    let outerKept: natten.Tensor | undefined;
    const result = natten.tidy(() => {
      const a = natten.zeros([8]);
      try {
        natten.tidy(() => {
          inner.push(natten.zeros([32]), natten.randn([32], { seed: 2 }));
          throw new RangeError('inner failure');
        });
      } catch (e) {
        expect((e as Error).message).toBe('inner failure');
      }
      outerKept = natten.tensor([1, 2, 3]);
      void a;
      return outerKept;
    });
    expect(inner.map((t) => t.isDisposed)).toEqual([true, true]);
    expect(result.isDisposed).toBe(false);
    expect(Array.from(await result.toArray())).toEqual([1, 2, 3]);
    result.dispose();
    await natten.synchronize();
    expect(natten.memory().cpu).toBe(before);
  });
});
