// The sm_90a fused backward on wgmma (backwardKernel 'wgmma', kernels/fused/backward/fna_backward_wgmma_*)
// forced on every one of its configs, against the CUDA reference backward (every case) and the fp64 oracle
// (every fourth case): dq, dk, dv and the additional-KV gradients, fp16 and bf16, 1/2/3-D, dilation with
// ragged groups, stride, causal, GQA/MQA, additional keys, Dv != D, odd sizes; KV-parallel (fp32 atomics)
// and deterministic mode (bitwise reproducible, within tolerance of KV-parallel). One progress line per
// config on stderr. On a GPU that is not compute capability 9.0 the forced family is a coded error.
import * as natten from '../lib';
import type { NativeFusedConfig } from '../lib/native';
import { backwardArchOf } from '../lib/ops/fused_configs';
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

const WGMMA = backwardArchOf('wgmma');

// The wgmma configs (fna_backward_configs.h backward_wgmma_tile_configs): Q tiles of 64 queries x KV tiles of
// 128 keys, each a 64-key shape doubled on axis 0; head-dim tiers 64 and 128.
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
const TIER_DIMS: Record<number, number[]> = { 64: [40, 48, 56, 64], 128: [72, 80, 96, 112, 128] };
const CASES_PER_CONFIG = 3;

function wgmmaConfigs(dims: number): TileConfig[] {
  const out: TileConfig[] = [];
  for (const q of SHAPES_64[dims])
    for (const s of SHAPES_64[dims]) out.push({ q, kv: s.map((e, a) => (a === 0 ? 2 * e : e)) });
  return out;
}

const ALL: Array<{ dims: number; tier: number; tiles: TileConfig }> = [];
for (const dims of [1, 2, 3])
  for (const tier of [64, 128]) for (const tiles of wgmmaConfigs(dims)) ALL.push({ dims, tier, tiles });

function tierOf(D: number, Dv: number): number {
  const d = Math.max(D, Dv);
  return d <= 32 ? 32 : d <= 64 ? 64 : 128;
}

/** Case `index` of config `cfg`: a random problem of the config's dims and tier, big enough to walk several
 * Q tiles per KV tile. */
function caseOf(cfg: (typeof ALL)[number], index: number): BackwardCase {
  const r = new Rng(47000 + index);
  for (;;) {
    const H = r.pick([1, 2, 3, 4]);
    const D = r.pick(TIER_DIMS[cfg.tier]);
    const c: BackwardCase = {
      seed: 47000 + index,
      dtype: index % 2 ? 'bfloat16' : 'float16',
      w: randomWindow(r, cfg.dims),
      B: r.int(1, 2),
      H,
      Hkv: r.chance(0.5) ? H : r.pick([1, 2, 3, 4].filter((x) => H % x === 0)),
      D,
      Dv: r.chance(0.8) ? D : r.pick(TIER_DIMS[cfg.tier]),
      nExtra: r.chance(0.3) ? r.pick([1, 3, 64, 70, 130]) : 0,
      scale: r.chance(0.2) ? 0.05 + r.uniform() : undefined,
      tiles: cfg.tiles,
    };
    if (tierOf(c.D, c.Dv) === cfg.tier && work(c) <= 4e6) return c;
  }
}

function forced(c: BackwardCase): NativeFusedConfig {
  const t = c.tiles as TileConfig;
  return { backwardQTileShape: t.q, backwardKvTileShape: t.kv, backwardArch: WGMMA };
}

function tag(c: BackwardCase): string {
  const t = c.tiles as TileConfig;
  return describeSweepCase(c, { tiles: `wgmma q${t.q.join('x')}/kv${t.kv.join('x')}` });
}

/** True when the device runs the wgmma family (compute capability 9.0). */
function runsWgmma(): boolean {
  return TEST_DEVICE === 'cuda' && natten.cuda.deviceInfo().computeCapability === '9.0';
}

describeGpu("CUDA fused backward, backwardKernel 'wgmma' (sm_90a)", () => {
  it('every forced wgmma config matches the reference backward and the fp64 oracle, KV-parallel', async () => {
    if (!runsWgmma()) return; // covered by the coded-error test below
    const f = new Failures();
    let n = 0;
    for (const cfg of ALL) {
      const before = f.list.length;
      for (let j = 0; j < CASES_PER_CONFIG; j++, n++) {
        const c = caseOf(cfg, n);
        await f.run(tag(c), async (s) => {
          const prep = await Prepared.create(c, s);
          const got = await prep.run({ ...forced(c), kvParallel: true, deterministic: false });
          compare(f, `reference ${tag(c)}`, got, await prep.run({ useReference: true }), c.dtype);
          if (n % 4 === 0) compare(f, `oracle ${tag(c)}`, got, prep.oracle(), c.dtype);
        });
      }
      process.stderr.write(
        `  wgmma bwd ${cfg.dims}-D tier ${cfg.tier} q${cfg.tiles.q.join('x')}/kv${cfg.tiles.kv.join('x')}: ` +
          `${f.list.length - before} failures\n`,
      );
    }
    expect(f.list).toEqual([]);
  });

  it('deterministic mode is bitwise reproducible and within tolerance of KV-parallel', async () => {
    if (!runsWgmma()) return;
    const f = new Failures();
    for (let i = 0; i < 16; i++) {
      const c = caseOf(ALL[(7 * i) % ALL.length], 9000 + i);
      await f.run(tag(c), async (s) => {
        const prep = await Prepared.create(c, s);
        const det1 = await prep.run({ ...forced(c), kvParallel: false, deterministic: true });
        const det2 = await prep.run({ ...forced(c), kvParallel: false, deterministic: true });
        for (const name of NAMES) {
          const a = det1[name],
            b = det2[name];
          if ((a || b) && !(a && b && bitwiseEqual(a, b))) f.list.push(`deterministic ${name} differs: ${tag(c)}`);
        }
        const kv = await prep.run({ ...forced(c), kvParallel: true, deterministic: false });
        compare(f, `kv-parallel vs deterministic ${tag(c)}`, kv, det1, c.dtype);
        compare(f, `deterministic vs oracle ${tag(c)}`, det1, prep.oracle(), c.dtype);
      });
    }
    expect(f.list).toEqual([]);
  });

  it('is a coded error where it cannot run: another compute capability, head dims of tier 32', async () => {
    if (TEST_DEVICE !== 'cuda') return;
    const s = new Scope();
    try {
      const c = smallCase(4242);
      const prep = await Prepared.create(c, s);
      await expectUnsupported(() => prep.run({ backwardArch: WGMMA }), /backwardKernel 'wgmma'/);
    } finally {
      s.dispose();
    }
  });
});
