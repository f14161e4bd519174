/**
 * The tensor-op checks both devices run (test/tensor_ops.test.ts on the CPU, test/cuda_tensor_ops.test.ts on a
 * GPU): every op against the fp64 oracle on random shapes (odd sizes, batch axes) in each dtype, with outputs
 * poisoned, and the bad calls that must throw a coded error at call time.
 */
import * as natten from '../../lib';
import * as oracle from '../oracle';
import { linearChunks } from '../../lib/ops/linear';
import { unstack } from '../../lib/ops/shape_ops';

export type OpsDtype = 'float32' | 'float16' | 'bfloat16' | 'float64';

/** Tolerances on oracle.relError (max abs difference / max(1, max |expected|)), docs/design.md §8. */
const TOL: Record<OpsDtype, number> = { float64: 1e-10, float32: 1e-4, float16: 1e-2, bfloat16: 5e-2 };

/** A device tensor of random values and the oracle tensor of exactly the values it holds (dtype-rounded). */
function input(
  shape: readonly number[],
  seed: number,
  dtype: OpsDtype,
  device: string,
): { t: natten.Tensor; o: oracle.Tensor } {
  const raw = oracle.randnTensor(shape, seed);
  const rounded = Float64Array.from(natten.tensor(raw.data, shape, { dtype }).toArraySync());
  return { t: natten.tensor(rounded, shape, { dtype, device }), o: { data: rounded, shape: [...shape] } };
}

async function expectClose(t: natten.Tensor, want: oracle.Tensor, dtype: OpsDtype, what: string): Promise<void> {
  expect({ what, shape: [...t.shape] }).toEqual({ what, shape: [...want.shape] });
  const err = oracle.relError(await t.toArray(), want.data);
  if (!(err <= TOL[dtype])) throw new Error(`${what}: relative error ${err} > ${TOL[dtype]}`);
}

/** Random sizes: odd ones, ones and a few larger than the CPU GEMM's blocks. */
function sizes(rng: () => number, n: number, max: number): number[] {
  return Array.from({ length: n }, () => 1 + Math.floor(rng() * max) * 2);
}

/** Expects fn to throw at call time an error of the given class (by name: the addon's errors come from
 * another realm under jest) and code. */
export function expectCoded(fn: () => unknown, cls: { name: string }, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect({ name: (thrown as Error | undefined)?.name, code: (thrown as { code?: string } | undefined)?.code }).toEqual({
    name: cls.name,
    code,
  });
}

/** Defines the oracle comparisons of every tensor op on `device` in each of `dtypes`. */
export function describeTensorOps(device: string, dtypes: readonly OpsDtype[]): void {
  beforeAll(() => natten.setPoisonOutputs(true));
  afterAll(() => natten.setPoisonOutputs(false));

  describe.each(dtypes)('%s', (dtype) => {
    const rng = oracle.mulberry32(dtype.length * 7919 + device.length);
    const inp = (shape: readonly number[]): { t: natten.Tensor; o: oracle.Tensor } =>
      input(shape, Math.floor(rng() * 1e9), dtype, device);

    it('linear: random shapes, with and without bias, 1-D x, blocks of the CPU GEMM crossed', async () => {
      const shapes: [number[], number, number][] = [
        [[], 1, 1],
        [[3, 5], 7, 9],
        [[1], 1, 33],
        [[2, 3, 5], 17, 31],
        [[301], 299, 67],
        [[7], 513, 40],
      ];
      for (let i = 0; i < 4; i++)
        shapes.push([sizes(rng, 1 + (i % 3), 10), sizes(rng, 1, 40)[0], sizes(rng, 1, 40)[0]]);
      for (const [lead, inF, outF] of shapes) {
        const x = inp([...lead, inF]),
          w = inp([outF, inF]),
          b = inp([outF]);
        await expectClose(
          natten.linear(x.t, w.t, b.t),
          oracle.linear(x.o, w.o, b.o),
          dtype,
          `linear ${lead} ${inF}->${outF}`,
        );
        await expectClose(
          natten.linear(x.t, w.t),
          oracle.linear(x.o, w.o),
          dtype,
          `linear ${lead} ${inF}->${outF} no bias`,
        );
      }
    });

    it('linearChunks (the packed q/k/v projection): linear with the out axis cut into stacked parts', async () => {
      for (const [lead, inF, outF, parts, bias] of [
        [[3, 5], 7, 9, 3, true],
        [[2, 4, 3], 16, 48, 3, true],
        [[13], 33, 8, 2, false],
        [[1], 5, 6, 1, true],
      ] as [number[], number, number, number, boolean][]) {
        const x = inp([...lead, inF]),
          w = inp([outF, inF]),
          b = inp([outF]);
        const full = oracle.linear(x.o, w.o, bias ? b.o : undefined);
        // want[p, r, j] = full[r, p * each + j]
        const each = outF / parts,
          rows = full.data.length / outF;
        const want = new Float64Array(full.data.length);
        for (let p = 0; p < parts; p++)
          for (let r = 0; r < rows; r++)
            for (let j = 0; j < each; j++) want[(p * rows + r) * each + j] = full.data[r * outF + p * each + j];
        await expectClose(
          linearChunks(x.t, w.t, bias ? b.t : null, parts),
          { data: want, shape: [parts, ...lead, each] },
          dtype,
          `linearChunks ${lead} ${inF}->${outF} in ${parts}${bias ? '' : ' no bias'}`,
        );
      }
    });

    it('unstack: the blocks along axis 0 in a new shape, aligned (views) or not (copies)', async () => {
      for (const [shape, as] of [
        [
          [3, 4, 32],
          [4, 2, 16],
        ],
        [[3, 5, 3], [15]],
      ]) {
        const x = inp(shape);
        const parts = unstack(x.t, as);
        const all = Array.from(await x.t.toArray());
        const block = all.length / shape[0];
        for (let i = 0; i < shape[0]; i++) {
          expect(parts[i].shape).toEqual(as);
          expect(Array.from(await parts[i].toArray())).toEqual(all.slice(i * block, (i + 1) * block));
        }
      }
    });

    it('matmul: batch axes, a shared 2-D b', async () => {
      for (const [batch, m, k, n, shared] of [
        [[], 5, 7, 3, false],
        [[3], 9, 1, 17, false],
        [[2, 3], 13, 21, 5, false],
        [[4], 11, 260, 35, false],
        [[5], 3, 4, 2, true],
      ] as [number[], number, number, number, boolean][]) {
        const a = inp([...batch, m, k]),
          b = inp(shared ? [k, n] : [...batch, k, n]);
        await expectClose(natten.matmul(a.t, b.t), oracle.matmul(a.o, b.o), dtype, `matmul ${batch} ${m}x${k}x${n}`);
      }
    });

    it('add (same shape, broadcast over leading axes) and mul by a scalar', async () => {
      const a = inp([3, 5, 7]);
      for (const bShape of [[3, 5, 7], [5, 7], [7], []]) {
        const b = inp(bShape);
        await expectClose(natten.add(a.t, b.t), oracle.add(a.o, b.o), dtype, `add ${bShape}`);
      }
      await expectClose(
        natten.mul(a.t, -0.37),
        { data: a.o.data.map((v) => v * -0.37), shape: a.o.shape },
        dtype,
        'mul',
      );
    });

    it('gelu (exact and tanh) and layerNorm (with and without affine parameters)', async () => {
      const x = inp([4, 3, 37]);
      for (const approximate of ['none', 'tanh'] as const)
        await expectClose(
          natten.gelu(x.t, { approximate }),
          oracle.gelu(x.o, approximate),
          dtype,
          `gelu ${approximate}`,
        );
      const w = inp([37]),
        b = inp([37]);
      await expectClose(natten.layerNorm(x.t, w.t, b.t), oracle.layerNorm(x.o, w.o, b.o, 1e-5), dtype, 'layerNorm');
      await expectClose(
        natten.layerNorm(x.t, null, null, 0.1),
        oracle.layerNorm(x.o, null, null, 0.1),
        dtype,
        'layerNorm plain',
      );
    });

    it('permute, toHeadsFirst / toHeadsLast, contiguous', async () => {
      const x = inp([2, 3, 5, 4, 7]);
      for (const perm of [
        [4, 3, 2, 1, 0],
        [0, 2, 1, 3, 4],
        [1, 0, 4, 2, 3],
        [0, 1, 2, 3, 4],
      ])
        await expectClose(natten.permute(x.t, perm), oracle.permute(x.o, perm), dtype, `permute ${perm}`);
      await expectClose(
        natten.permute(x.t, [-1, 0, 1, 2, 3]),
        oracle.permute(x.o, [4, 0, 1, 2, 3]),
        dtype,
        'permute negative',
      );
      const first = natten.toHeadsFirst(x.t);
      await expectClose(first, oracle.permute(x.o, [0, 3, 1, 2, 4]), dtype, 'toHeadsFirst');
      await expectClose(natten.toHeadsLast(first), x.o, dtype, 'toHeadsLast');
      await expectClose(natten.contiguous(x.t), x.o, dtype, 'contiguous');
      await expectClose(x.t.contiguous(), x.o, dtype, 'Tensor.contiguous');
    });

    it('split, chunk (views and copies) and concat', async () => {
      const x = inp([6, 5, 33]);
      for (const axis of [0, 1, 2, -1]) {
        const ax = axis < 0 ? axis + 3 : axis;
        const L = x.o.shape[ax];
        const parts = natten.chunk(x.t, 3, axis);
        const size = Math.ceil(L / 3);
        let start = 0;
        for (const [i, p] of parts.entries()) {
          const len = Math.min(size, L - start);
          await expectClose(p, oracle.slice(x.o, ax, start, len), dtype, `chunk axis ${axis} part ${i}`);
          start += len;
        }
        expect(start).toBe(L);
        await expectClose(natten.concat(parts, axis), x.o, dtype, `concat axis ${axis}`);
        const sizesList = [1, L - 1];
        const s = natten.split(x.t, sizesList, axis);
        await expectClose(s[1], oracle.slice(x.o, ax, 1, L - 1), dtype, `split axis ${axis}`);
      }
      const y = inp([2, 5, 3]);
      await expectClose(
        natten.concat([x.t.reshape([2, 15, 33]).reshape([2, 5, 99]), y.t], 2),
        oracle.concat([{ data: x.o.data, shape: [2, 5, 99] }, y.o], 2),
        dtype,
        'concat unequal',
      );
    });
  });

  it('a view part of chunk keeps its values after the input is disposed', async () => {
    const x = input([4, 64], 5, 'float32', device);
    const parts = natten.chunk(x.t, 4, 0);
    x.t.dispose();
    await expectClose(parts[3], oracle.slice(x.o, 0, 3, 1), 'float32', 'view after dispose');
  });

  describe('bad calls throw coded errors at call time', () => {
    const t = (shape: number[], dtype: OpsDtype = 'float32'): natten.Tensor => natten.zeros(shape, { dtype, device });
    it('shapes', () => {
      expectCoded(() => natten.linear(t([3, 4]), t([5, 3])), RangeError, 'ERR_NATTEN_INVALID_SHAPE');
      expectCoded(() => natten.linear(t([3, 4]), t([5, 4]), t([4])), RangeError, 'ERR_NATTEN_INVALID_SHAPE');
      expectCoded(() => natten.linear(t([3, 4]), t([20])), RangeError, 'ERR_NATTEN_INVALID_SHAPE');
      expectCoded(() => natten.matmul(t([2, 3, 4]), t([3, 4, 5])), RangeError, 'ERR_NATTEN_INVALID_SHAPE');
      expectCoded(() => natten.matmul(t([2, 3, 4]), t([2, 5, 5])), RangeError, 'ERR_NATTEN_INVALID_SHAPE');
      expectCoded(() => natten.matmul(t([4]), t([4, 5])), RangeError, 'ERR_NATTEN_INVALID_SHAPE');
      expectCoded(() => natten.add(t([3, 4]), t([3, 1])), RangeError, 'ERR_NATTEN_INVALID_SHAPE');
      expectCoded(() => natten.add(t([4]), t([3, 4])), RangeError, 'ERR_NATTEN_INVALID_SHAPE');
      expectCoded(() => natten.layerNorm(t([3, 4]), t([3]), null), RangeError, 'ERR_NATTEN_INVALID_SHAPE');
      expectCoded(() => natten.concat([t([3, 4]), t([2, 5])], 0), RangeError, 'ERR_NATTEN_INVALID_SHAPE');
      expectCoded(() => natten.split(t([6, 2]), [2, 2], 0), RangeError, 'ERR_NATTEN_INVALID_ARG_VALUE');
      expectCoded(() => natten.toHeadsFirst(t([3, 4])), RangeError, 'ERR_NATTEN_INVALID_SHAPE');
    });
    it('dtypes', () => {
      expectCoded(() => natten.linear(t([3, 4]), t([5, 4], 'float16')), TypeError, 'ERR_NATTEN_DTYPE_MISMATCH');
      expectCoded(() => natten.add(t([3, 4], 'bfloat16'), t([4])), TypeError, 'ERR_NATTEN_DTYPE_MISMATCH');
      expectCoded(() => natten.concat([t([3]), t([3], 'float16')]), TypeError, 'ERR_NATTEN_DTYPE_MISMATCH');
      expectCoded(() => natten.layerNorm(t([3, 4]), t([4], 'float16'), null), TypeError, 'ERR_NATTEN_DTYPE_MISMATCH');
    });
    it('axes and arguments', () => {
      expectCoded(() => natten.permute(t([2, 3]), [0, 0]), RangeError, 'ERR_NATTEN_INVALID_ARG_VALUE');
      expectCoded(() => natten.permute(t([2, 3]), [0, 2]), RangeError, 'ERR_NATTEN_INVALID_ARG_VALUE');
      expectCoded(() => natten.permute(t([2, 3]), [0]), RangeError, 'ERR_NATTEN_INVALID_ARG_VALUE');
      expectCoded(() => natten.split(t([2, 3]), 1, 2), RangeError, 'ERR_NATTEN_INVALID_ARG_VALUE');
      expectCoded(() => natten.chunk(t([2, 3]), 2, -3), RangeError, 'ERR_NATTEN_INVALID_ARG_VALUE');
      expectCoded(() => natten.concat([t([2, 3])], 5), RangeError, 'ERR_NATTEN_INVALID_ARG_VALUE');
      expectCoded(() => natten.chunk(t([2, 3]), 0), TypeError, 'ERR_NATTEN_INVALID_ARG_TYPE');
      expectCoded(
        () => natten.gelu(t([2]), { approximate: 'fast' as 'tanh' }),
        TypeError,
        'ERR_NATTEN_INVALID_ARG_TYPE',
      );
      expectCoded(() => natten.layerNorm(t([2]), null, null, -1), RangeError, 'ERR_NATTEN_INVALID_ARG_VALUE');
      expectCoded(() => natten.mul(t([2]), '2' as unknown as number), TypeError, 'ERR_NATTEN_INVALID_ARG_TYPE');
      expectCoded(
        () => natten.linear([1, 2] as unknown as natten.Tensor, t([2, 2])),
        TypeError,
        'ERR_NATTEN_INVALID_ARG_TYPE',
      );
      expectCoded(() => natten.concat([]), TypeError, 'ERR_NATTEN_INVALID_ARG_TYPE');
      expectCoded(() => natten.setFloat32MatmulPrecision('medium' as 'high'), TypeError, 'ERR_NATTEN_INVALID_ARG_TYPE');
      const d = t([2, 2]);
      d.dispose();
      expectCoded(() => natten.linear(d, t([2, 2])), natten.NattenError, 'ERR_NATTEN_DISPOSED');
    });
  });
}
