// The tensor-core fused NA backward (kernels/fused/fna_backward*) against the fp64 oracle and the CUDA
// reference backward, fp16 and bf16: a seeded sweep over 1/2/3-D, odd and even kernels, dilation with
// ragged groups, stride, causal per axis, dense windows, GQA/MQA, additional keys/values, Dv != D and
// head dims 8..128 (every backward tile config of every head-dim tier is run at least once), with
// gradients poisoned (NaN) before each run. Also: deterministic mode is bitwise reproducible, KV-parallel
// (fp32 atomics) matches it within tolerance, the scratch cap switches to the Q-parallel dQ pass, and
// tile shapes that do not exist are rejected with ERR_NATTEN_UNSUPPORTED.
import type { Tensor } from '../lib';
import type { NativeFusedConfig } from '../lib/native';
import {
  Failures,
  type FusedCase,
  type FusedInputs,
  Rng,
  Scope,
  TEST_DEVICE,
  TOL,
  type Uploaded,
  type WindowCase,
  describeSweepCase,
  download,
  fusedOracleOptions,
  runNaBackward,
  runNaForward,
  uploadFusedInputs,
} from './cuda_common';
import { describeGpu } from './helpers/gpu';
import { naBackward, randnTensor, type Tensor as OTensor } from './oracle';

const suite = TEST_DEVICE === 'cpu' ? describe : describeGpu;

type HalfDType = 'float16' | 'bfloat16';
const SWEEP_CASES = 260;

/** Errors relative to the gradient's own size (dOut is scaled by 0.05, so docs/design.md §8's absolute
 * tolerances alone would pass a zero gradient): max |a - e| / max(max |e|, 1e-3). */
const SCALED_TOL: Record<HalfDType, number> = { float16: 1e-2, bfloat16: 3e-2 };

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

interface TileConfig {
  q: number[];
  kv: number[];
}

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

interface BackwardCase extends FusedCase<HalfDType> {
  tiles?: TileConfig;
}

/** A window big enough that tiles of 64 tokens walk several tile pairs, some of them interior. */
function randomWindow(r: Rng, dims: number): WindowCase {
  const maxL = dims === 1 ? 200 : dims === 2 ? 22 : 9;
  const w: WindowCase = { spatial: [], kernel: [], stride: [], dilation: [], causal: [] };
  for (let a = 0; a < dims; a++) {
    const L = r.int(2, maxL);
    const d = r.chance(0.7) ? 1 : r.int(2, Math.max(2, Math.floor(L / 2)));
    const dd = 2 * d > L ? 1 : d;
    const kmax = Math.floor(L / dd);
    const k = r.chance(0.1) ? kmax : r.int(2, Math.min(kmax, dims === 1 ? 90 : 13));
    w.spatial.push(L);
    w.kernel.push(k);
    w.dilation.push(dd);
    w.stride.push(r.chance(0.65) ? 1 : r.int(1, k));
    w.causal.push(r.chance(0.25));
  }
  return w;
}

function work(c: BackwardCase): number {
  const n = c.w.spatial.reduce((a, b) => a * b, 1);
  return c.B * c.H * n * (c.w.kernel.reduce((a, b) => a * b, 1) + c.nExtra) * (c.D + c.Dv);
}

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

function scaledError(a: OTensor, e: OTensor): number {
  if (a.data.length !== e.data.length) return Infinity;
  let num = 0,
    den = 1e-3;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - e.data[i]);
    if (!(d <= num)) num = d; // NaN -> NaN -> fails below
    den = Math.max(den, Math.abs(e.data[i]));
  }
  return num / den;
}

function bitwiseEqual(a: OTensor, b: OTensor): boolean {
  if (a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) return false;
  return true;
}

interface Grads {
  dq: OTensor;
  dk: OTensor;
  dv: OTensor;
  dek?: OTensor;
  dev?: OTensor;
}

/** Device inputs of a case (O and LSE from the reference forward). */
interface Inputs extends FusedInputs {
  out: Tensor;
  lse: Tensor;
  dOut: Uploaded;
  outExact: OTensor;
  lseExact: OTensor;
}

/** Uploaded inputs of a case and one backward run with a given native config. */
class Prepared {
  constructor(
    readonly c: BackwardCase,
    readonly s: Scope,
    readonly t: Inputs,
  ) {}

  static async create(c: BackwardCase, s: Scope): Promise<Prepared> {
    const t = c.dtype;
    const seed = c.seed * 101;
    const x = await uploadFusedInputs(s, c, t, seed);
    // O and LSE from the reference forward: this test checks the backward alone.
    const { out, lse } = runNaForward(s, c, t, x, { useReference: true });
    const outExact = await download(out);
    const lseExact = await download(lse);
    const dOut = await s.upload(randnTensor(outExact.shape, seed + 6, 0.05), t);
    return new Prepared(c, s, { ...x, out, lse, dOut, outExact, lseExact });
  }

  /** One backward into freshly poisoned gradients. */
  async run(config: NativeFusedConfig): Promise<Grads> {
    const { c, s, t } = this;
    const d = runNaBackward(s, c, c.dtype, t, t, t.dOut.dev, config);
    const g: Grads = { dq: await download(d.dq), dk: await download(d.dk), dv: await download(d.dv) };
    if (d.dek) g.dek = await download(d.dek);
    if (d.dev) g.dev = await download(d.dev);
    return g;
  }

  oracle(): Grads {
    const { c, t } = this;
    const g = naBackward(
      t.dOut.exact,
      t.q.exact,
      t.k.exact,
      t.v.exact,
      t.outExact,
      t.lseExact,
      fusedOracleOptions(c, t),
    );
    return { dq: g.dq, dk: g.dk, dv: g.dv, dek: g.dAdditionalKeys, dev: g.dAdditionalValues };
  }
}

const NAMES: Array<keyof Grads> = ['dq', 'dk', 'dv', 'dek', 'dev'];

/** docs/design.md §8 tolerance and the scaled check of every gradient of `got` against `want`. */
function compare(f: Failures, what: string, got: Grads, want: Grads, dtype: HalfDType): void {
  for (const n of NAMES) {
    const a = got[n],
      e = want[n];
    if (!a && !e) continue;
    if (!a || !e) {
      f.list.push(`${what} ${n}: missing`);
      continue;
    }
    f.check(`${what} ${n}`, a, e, TOL.grad[dtype]);
    const err = scaledError(a, e);
    if (!(err <= SCALED_TOL[dtype]))
      f.list.push(`${what} ${n}: scaled error ${err.toExponential(3)} > ${SCALED_TOL[dtype]}`);
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
      const base: BackwardCase = {
        seed: 777,
        dtype: 'bfloat16',
        B: 1,
        H: 2,
        Hkv: 1,
        D: 32,
        Dv: 32,
        nExtra: 0,
        w: { spatial: [12, 10], kernel: [5, 3], stride: [1, 1], dilation: [1, 1], causal: [false, false] },
      };
      const prep = await Prepared.create(base, s);
      const expectError = async (config: NativeFusedConfig, pattern: RegExp): Promise<void> => {
        let err: unknown;
        try {
          await prep.run(config);
        } catch (e) {
          err = e;
        }
        expect((err as Error).name).toBe('RangeError'); // the addon's errors come from another realm than jest's
        expect((err as { code?: string }).code).toBe('ERR_NATTEN_UNSUPPORTED');
        expect((err as Error).message).toMatch(pattern);
      };
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
