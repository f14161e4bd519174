// The tensor-core fused NA backward (kernels/fused/fna_backward*) against the fp64 oracle and the CUDA
// reference backward, fp16 and bf16: a seeded sweep over 1/2/3-D, odd and even kernels, dilation with
// ragged groups, stride, causal per axis, dense windows, GQA/MQA, additional keys/values, Dv != D and
// head dims 8..128 (every backward tile config of every head-dim tier is run at least once), with
// gradients poisoned (NaN) before each run. Also: deterministic mode is bitwise reproducible, KV-parallel
// (fp32 atomics) matches it within tolerance, the scratch cap switches to the Q-parallel dQ pass, and
// tile shapes that do not exist are rejected with ERR_NATTEN_UNSUPPORTED.
import type { NativeFusedConfig } from '../lib/native';
import { Failures, Rng, Scope, TEST_DEVICE, describeSweepCase } from './cuda_common';
import {
  type BackwardCase,
  NAMES,
  Prepared,
  type TileConfig,
  bitwiseEqual,
  compare,
  expectUnsupported,
  randomWindow,
  smallCase,
  work,
} from './helpers/fused_backward';
import { describeGpu } from './helpers/gpu';

const suite = TEST_DEVICE === 'cpu' ? describe : describeGpu;

const SWEEP_CASES = 260;

// The backward tile configs (kernels/fused/backward/fna_backward_configs.h): Q shapes (64 queries for head-dim
// tiers 32/64, 32 for tier 128) x KV shapes (64 keys).
const SHAPES_64: Record<number, number[][]> = {
  1: [[64]],
  2: [
    [8, 8],
    [4, 16],
    [16, 4],
  ],
  3: [
    [4, 4, 4],
    [2, 4, 8],
    [2, 8, 4],
    [1, 8, 8],
  ],
};
const SHAPES_32: Record<number, number[][]> = {
  1: [[32]],
  2: [
    [8, 4],
    [4, 8],
    [16, 2],
  ],
  3: [
    [2, 4, 4],
    [4, 4, 2],
    [1, 4, 8],
    [2, 2, 8],
  ],
};
const TIER_DIMS: Record<number, number[]> = { 32: [8, 16, 24, 32], 64: [40, 48, 56, 64], 128: [72, 80, 96, 112, 128] };

function tierOf(D: number, Dv: number): number {
  const d = Math.max(D, Dv);
  if (D % 8 !== 0 || Dv % 8 !== 0 || d > 128) return 0;
  return d <= 32 ? 32 : d <= 64 ? 64 : 128;
}

function tileConfigs(dims: number, tier: number): TileConfig[] {
  const out: TileConfig[] = [];
  for (const q of (tier === 128 ? SHAPES_32 : SHAPES_64)[dims]) for (const kv of SHAPES_64[dims]) out.push({ q, kv });
  return out;
}

/** Every (dims, tier, config): the first cases of the sweep run each of them once. */
const ALL_CONFIGS: Array<{ dims: number; tier: number; tiles: TileConfig }> = [];
for (const dims of [1, 2, 3])
  for (const tier of [32, 64, 128])
    for (const tiles of tileConfigs(dims, tier)) ALL_CONFIGS.push({ dims, tier, tiles });

function randomCase(index: number): BackwardCase {
  const r = new Rng(31000 + index);
  const forced = index < ALL_CONFIGS.length ? ALL_CONFIGS[index] : undefined;
  for (;;) {
    const dims = forced ? forced.dims : r.pick([1, 2, 2, 3, 3]);
    const tier = forced ? forced.tier : r.pick([32, 64, 64, 128]);
    const H = r.pick([1, 2, 3, 4]);
    const D = r.pick(TIER_DIMS[tier]);
    const c: BackwardCase = {
      seed: 31000 + index,
      dtype: index % 2 ? 'bfloat16' : 'float16',
      w: randomWindow(r, dims),
      B: r.int(1, 2),
      H,
      Hkv: r.chance(0.5) ? H : r.pick([1, 2, 3, 4].filter((x) => H % x === 0)),
      D,
      Dv: r.chance(0.8) ? D : r.pick(TIER_DIMS[tier]),
      nExtra: r.chance(0.25) ? r.pick([1, 3, 64, 70]) : 0,
      scale: r.chance(0.2) ? 0.05 + r.uniform() : undefined,
    };
    if (tierOf(c.D, c.Dv) !== tier) continue;
    const configs = tileConfigs(dims, tier);
    c.tiles = forced ? forced.tiles : r.chance(0.3) ? undefined : r.pick(configs);
    if (work(c) <= 4e6) return c;
  }
}

function tag(c: BackwardCase): string {
  return describeSweepCase(c, { tiles: c.tiles ? `q${c.tiles.q.join('x')}/kv${c.tiles.kv.join('x')}` : 'default' });
}

function tileOptions(c: BackwardCase): object {
  return c.tiles ? { backwardQTileShape: c.tiles.q, backwardKvTileShape: c.tiles.kv } : {};
}

suite('CUDA fused backward (tensor cores) vs the fp64 oracle and the reference kernel', () => {
  it(`matches on ${SWEEP_CASES} random fp16/bf16 problems (every backward tile config), KV-parallel`, async () => {
    const f = new Failures();
    for (let i = 0; i < SWEEP_CASES; i++) {
      const c = randomCase(i);
      await f.run(tag(c), async (s) => {
        const prep = await Prepared.create(c, s);
        const fast = await prep.run({ ...tileOptions(c), kvParallel: true, deterministic: false });
        compare(f, `oracle ${tag(c)}`, fast, prep.oracle(), c.dtype);
        if (i % 3 === 0) compare(f, `reference ${tag(c)}`, fast, await prep.run({ useReference: true }), c.dtype);
      });
    }
    process.stderr.write(
      `  fused backward sweep: ${SWEEP_CASES} cases, ${f.checks} comparisons, ${f.list.length} failures\n`,
    );
    expect(f.list).toEqual([]);
  });

  it('deterministic mode is bitwise reproducible and matches KV-parallel; the scratch cap selects the Q-parallel dQ pass', async () => {
    const f = new Failures();
    for (let i = 0; i < 24; i++) {
      const c = randomCase(5000 + i);
      await f.run(tag(c), async (s) => {
        const prep = await Prepared.create(c, s);
        const opts = tileOptions(c);
        const det1 = await prep.run({ ...opts, kvParallel: false, deterministic: true });
        const det2 = await prep.run({ ...opts, kvParallel: false, deterministic: true });
        for (const n of NAMES) {
          const a = det1[n],
            b = det2[n];
          if ((a || b) && !(a && b && bitwiseEqual(a, b)))
            f.list.push(`deterministic ${n} differs between runs: ${tag(c)}`);
        }
        const kv = await prep.run({ ...opts, kvParallel: true, deterministic: false });
        compare(f, `kv-parallel vs deterministic ${tag(c)}`, kv, det1, c.dtype);
        compare(f, `deterministic vs oracle ${tag(c)}`, det1, prep.oracle(), c.dtype);
        // No room for the fp32 dQ accumulator: the same Q-parallel pass as deterministic mode.
        const capped = await prep.run({ ...opts, kvParallel: true, deterministic: false, scratchLimitBytes: 0 });
        if (TEST_DEVICE === 'cuda' && !bitwiseEqual(capped.dq, det1.dq))
          f.list.push(`scratch-capped dq != deterministic dq: ${tag(c)}`);
        // KV parallelism off: same again.
        const off = await prep.run({ ...opts, kvParallel: false, deterministic: false });
        if (TEST_DEVICE === 'cuda' && !bitwiseEqual(off.dq, det1.dq))
          f.list.push(`kvParallel=false dq != deterministic dq: ${tag(c)}`);
      });
    }
    expect(f.list).toEqual([]);
  });

  it('rejects backward tile shapes that do not exist, naming the option', async () => {
    if (TEST_DEVICE !== 'cuda') return; // the CPU engine ignores tile shapes
    const s = new Scope();
    try {
      const base = smallCase(777);
      const prep = await Prepared.create(base, s);
      const expectError = (config: NativeFusedConfig, pattern: RegExp): Promise<void> =>
        expectUnsupported(() => prep.run(config), pattern);
      await expectError({ backwardQTileShape: [3, 3] }, /backwardQTileShape \[3, 3\].*\[8, 8\]/);
      await expectError({ backwardKvTileShape: [4, 4] }, /backwardKvTileShape \[4, 4\]/);
      // A 32-query shape exists only for head dims above 64.
      await expectError({ backwardQTileShape: [8, 4] }, /backwardQTileShape \[8, 4\]/);
      // Every listed shape is accepted.
      for (const tiles of tileConfigs(2, 32))
        await prep.run({ backwardQTileShape: tiles.q, backwardKvTileShape: tiles.kv });
    } finally {
      s.dispose();
    }
  });
});
