// dtype conversions are bit-exact against an independent JS reference on edge values
// (subnormals, NaN, Inf, ties, values that would round twice through float32).
import * as natten from '../lib';
import { BF16, HALF, decodeBf16, decodeHalf, roundTo } from './helpers/float_ref';
import { describeGpu } from './helpers/gpu';

const TIE_AND_EDGE_VALUES = (() => {
  const v: number[] = [0, -0, 1, -1, 0.1, 1 / 3, Math.PI, -2.5, 1e-30, 1e30, 3.4e38, -3.4e38];
  // float16: subnormals, the tie at half the smallest subnormal, max, overflow threshold, normal ties.
  v.push(
    2 ** -24,
    2 ** -25,
    3 * 2 ** -25,
    2 ** -26,
    1.5 * 2 ** -24,
    2 ** -14,
    2 ** -14 - 2 ** -25,
    65504,
    65519.99,
    65520,
    70000,
  );
  v.push(1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -40, 2048 + 1, 2048 + 3);
  // bfloat16: ties, double-rounding traps (exact in double, a tie after rounding to float32).
  v.push(
    1 + 2 ** -8,
    1 + 3 * 2 ** -8,
    1 + 2 ** -8 + 2 ** -40,
    -(1 + 2 ** -8 + 2 ** -40),
    3.3895313892515355e38,
    3.3961e38,
  );
  v.push(2 ** -126, 2 ** -133, 2 ** -134, 3 * 2 ** -134, 2 ** -149, 1.17549435e-38);
  v.push(NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE);
  for (let i = 0; i < 2000; i++) v.push(((Math.sin(i * 12.9898) * 43758.5453) % 1) * 2 ** ((i % 80) - 40));
  return v;
})();

function expectSameValues(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)))) {
      throw new Error(`${what}: element ${i}: got ${a}, expected ${e}`);
    }
  }
}

describe('dtype conversions (CPU)', () => {
  it('float64 -> float16/bfloat16 rounds once to nearest even', async () => {
    for (const [dtype, fmt] of [
      ['float16', HALF],
      ['bfloat16', BF16],
    ] as const) {
      const t = natten.tensor(Float64Array.from(TIE_AND_EDGE_VALUES), undefined, { dtype });
      expectSameValues(
        await t.toArray(),
        TIE_AND_EDGE_VALUES.map((x) => roundTo(x, fmt)),
        `float64->${dtype}`,
      );
    }
  });

  it('float32 -> float16/bfloat16 rounds the float32 value to nearest even', async () => {
    const f32 = Float32Array.from(TIE_AND_EDGE_VALUES);
    for (const [dtype, fmt] of [
      ['float16', HALF],
      ['bfloat16', BF16],
    ] as const) {
      const t = natten.tensor(f32, undefined, { dtype });
      expectSameValues(
        await t.toArray(),
        Array.from(f32, (x) => roundTo(x, fmt)),
        `float32->${dtype}`,
      );
      // The same through Tensor.to() (a queued CPU conversion).
      const viaTo = natten.tensor(f32).to({ dtype });
      expectSameValues(
        await viaTo.toArray(),
        Array.from(f32, (x) => roundTo(x, fmt)),
        `to(${dtype})`,
      );
    }
  });

  it('decodes every float16 and bfloat16 bit pattern exactly', async () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const h = await natten.tensor(all, undefined, { dtype: 'float16' }).toArray();
    expectSameValues(h, Array.from(all, decodeHalf), 'float16 decode');
    const b = await natten.tensor(all, undefined, { dtype: 'bfloat16' }).toArray();
    expectSameValues(b, Array.from(all, decodeBf16), 'bfloat16 decode');
  });

  it('every finite half value survives float16 -> float32 -> float16 -> float64', async () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const h = natten.tensor(all, undefined, { dtype: 'float16' });
    const back = h.to({ dtype: 'float32' }).to({ dtype: 'float16' }).to({ dtype: 'float64' });
    const got = await back.toArray();
    expect(Object.prototype.toString.call(got)).toBe('[object Float64Array]'); // jest runs tests in another realm
    expectSameValues(got, Array.from(all, decodeHalf), 'half round trip');
  });

  it('float64 keeps full precision and float32 rounds to nearest', async () => {
    const v = [1 + 2 ** -40, Math.PI, 1e-310, NaN, -Infinity];
    expectSameValues(await natten.tensor(v, [5], { dtype: 'float64' }).toArray(), v, 'float64');
    expectSameValues(await natten.tensor(v, [5]).toArray(), Float32Array.from(v), 'float32');
  });
});

describeGpu('dtype conversions on CUDA match the CPU bit for bit', () => {
  it('converts with the same rounding on the device', async () => {
    const f32 = Float32Array.from(TIE_AND_EDGE_VALUES);
    for (const [dtype, fmt] of [
      ['float16', HALF],
      ['bfloat16', BF16],
    ] as const) {
      const onGpu = natten.tensor(f32, undefined, { device: 'cuda' }).to({ dtype });
      expectSameValues(
        await onGpu.toArray(),
        Array.from(f32, (x) => roundTo(x, fmt)),
        `cuda float32->${dtype}`,
      );
      const direct = natten.tensor(f32, undefined, { device: 'cuda', dtype });
      expectSameValues(
        await direct.toArray(),
        Array.from(f32, (x) => roundTo(x, fmt)),
        `cuda upload ${dtype}`,
      );
    }
    const all = new Uint16Array(65536).map((_, i) => i);
    const h = natten.tensor(all, undefined, { dtype: 'float16' }).to('cuda').to({ dtype: 'float32' });
    expectSameValues(await h.toArray(), Array.from(all, decodeHalf), 'cuda float16 decode');
  });
});
