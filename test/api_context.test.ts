// The context switches of docs/design.md §6 are stored and reported (the CPU engine ignores the GPU-only ones), and
// the fused/unfused toggle changes which path neighborhoodAttention runs without changing its result.
import * as natten from '../lib';

afterEach(() => {
  natten.useFusedNA(true);
  natten.setMemoryUsagePreference('default');
  natten.useDeterministicAlgorithms(false);
  natten.setPoisonOutputs(false);
});

test('defaults', () => {
  expect(natten.isFusedNAEnabled()).toBe(true);
  expect(natten.isKVParallelismEnabled()).toBe(true);
  expect(natten.getMemoryUsagePreference()).toBe('default');
  expect(natten.areDeterministicAlgorithmsEnabled()).toBe(false);
  expect(natten.isPoisonOutputsEnabled()).toBe(false);
});

test('useFusedNA sets fused and KV parallelism together', () => {
  natten.useFusedNA(false, { kvParallel: false });
  expect(natten.isFusedNAEnabled()).toBe(false);
  expect(natten.isKVParallelismEnabled()).toBe(false);
  natten.useFusedNA();
  expect(natten.isFusedNAEnabled()).toBe(true);
  expect(natten.isKVParallelismEnabled()).toBe(true);
  natten.useKVParallelism(false);
  expect(natten.isKVParallelismEnabled()).toBe(false);
});

test('memory preference and determinism are stored', () => {
  for (const p of ['strict', 'unrestricted', 'default'] as const) {
    natten.setMemoryUsagePreference(p);
    expect(natten.getMemoryUsagePreference()).toBe(p);
  }
  natten.useDeterministicAlgorithms(true);
  expect(natten.areDeterministicAlgorithmsEnabled()).toBe(true);
});

test('the CPU backward is bitwise reproducible whatever the switches say', async () => {
  const q = natten.randn([2, 10, 3, 8], { seed: 1 }),
    k = natten.randn([2, 10, 3, 8], { seed: 2 });
  const v = natten.randn([2, 10, 3, 8], { seed: 3 }),
    dOut = natten.randn([2, 10, 3, 8], { seed: 4 });
  const run = async () => {
    const { output, lse } = natten.na1d(q, k, v, { kernelSize: 5, returnLse: true });
    const g = natten.na1dBackward(dOut, q, k, v, output, lse, { kernelSize: 5 });
    return [await g.dq.toArray(), await g.dk.toArray(), await g.dv.toArray()];
  };
  const a = await run();
  natten.useDeterministicAlgorithms(true);
  natten.useKVParallelism(false);
  const b = await run();
  expect(b).toEqual(a);
});

test('poisoned outputs are fully overwritten by the ops', async () => {
  natten.setPoisonOutputs(true);
  const q = natten.randn([1, 6, 5, 2, 4], { seed: 5 });
  const out = await natten.na2d(q, q, q, { kernelSize: 3, dilation: [2, 1], isCausal: [true, false] }).toArray();
  expect(out.every((x) => Number.isFinite(x))).toBe(true);
});

test('neighborhoodAttention2d gives the same result fused and unfused', async () => {
  const q = natten.randn([1, 7, 6, 4, 8], { seed: 6 }),
    k = natten.randn([1, 7, 6, 2, 8], { seed: 7 });
  const v = natten.randn([1, 7, 6, 2, 8], { seed: 8 });
  const fused = await natten.neighborhoodAttention2d(q, k, v, { kernelSize: [3, 4], stride: [2, 1] }).toArray();
  natten.useFusedNA(false);
  const unfused = await natten.neighborhoodAttention2d(q, k, v, { kernelSize: [3, 4], stride: [2, 1] }).toArray();
  let m = 0;
  for (let i = 0; i < fused.length; i++) m = Math.max(m, Math.abs(fused[i] - unfused[i]));
  expect(m).toBeLessThan(1e-5);
});

test("the unfused chain reports invalid input with the fused op's checks", () => {
  natten.useFusedNA(false);
  const q = natten.randn([1, 4, 2, 8]);
  expect(() => natten.neighborhoodAttention1d(q, q, q, { kernelSize: 5 })).toThrow(
    /neighborhoodAttention1d: kernelSize \* dilation = 5 \* 1 = 5 must be <= q's length 4/,
  );
});
