// The sm_90a warp-specialised fused forward ('wgmma-ws': TMA producer, two consumer warpgroups, mbarrier
// ring) against the CUDA reference kernel (and every fourth case the fp64 oracle), every compiled 'wgmma-ws' config forced on
// every scenario that exercises one of its paths: windows large enough for mask-free interior tiles (TMA
// loads), dilation with ragged groups (the cp.async fallback), stride and causal windows, GQA with
// additional keys (extra-key tiles, a partial last one), odd sizes smaller than a tile with Dv != D and a
// negative scale. On compute capability 9.0 the configs must exist; elsewhere forcing the family is a coded
// error.
import * as natten from '../lib';
import { native, type NativeProblem } from '../lib/native';
import { dtypeCode } from '../lib/dtype';
import { forwardArchOf } from '../lib/ops/fused_configs';
import {
  Failures,
  type FusedCase,
  Rng,
  Scope,
  TOL,
  describeSweepCase,
  download,
  fusedOracleOptions,
  runNaForward,
  type WindowCase,
  uploadFusedInputs,
} from './cuda_common';
import { describeGpu } from './helpers/gpu';
import { naForward } from './oracle';

type HalfDType = 'float16' | 'bfloat16';

interface Scenario {
  name: string;
  /** A case of `dims` spatial dims for head-dim tier `tier` (the seed's random parts from r). */
  make(r: Rng, dims: number, tier: number): Omit<FusedCase<HalfDType>, 'seed' | 'dtype'>;
}

/** A head dim inside a tier (tier 64: 40..64, tier 128: 72..128), multiple of 8. */
function headDimIn(r: Rng, tier: number): number {
  return 8 * r.int(tier / 16 + 1, tier / 8);
}

function axes(
  dims: number,
  f: (a: number) => [L: number, k: number, s: number, d: number, causal: boolean],
): WindowCase {
  const w: WindowCase = { spatial: [], kernel: [], stride: [], dilation: [], causal: [] };
  for (let a = 0; a < dims; a++) {
    const [L, k, s, d, causal] = f(a);
    w.spatial.push(L);
    w.kernel.push(k);
    w.stride.push(s);
    w.dilation.push(d);
    w.causal.push(causal);
  }
  return w;
}

const SCENARIOS: readonly Scenario[] = [
  {
    // Windows wider than a Q half plus a KV tile: interior tiles run unmasked. In 2-D, axis 1 is wider
    // than a 64-key strip half the time (the strip configs then walk row segments).
    name: 'interior',
    make: (r, dims, tier) => {
      const D = headDimIn(r, tier);
      const wideRows = r.chance(0.5);
      const w = axes(dims, (a) =>
        dims === 1
          ? [r.int(250, 300), r.int(129, 200), 1, 1, false]
          : dims === 2
            ? a === 1 && wideRows
              ? [r.int(90, 110), r.int(66, 80), 1, 1, false]
              : [r.int(22, 26), 17, 1, 1, false]
            : [r.int(9, 11), 9, 1, 1, false],
      );
      return { w, B: 1, H: 1, Hkv: 1, D, Dv: D, nExtra: 0 };
    },
  },
  {
    // Dilation (ragged groups: L mod d != 0) loads through the cp.async producer.
    name: 'dilation',
    make: (r, dims, tier) => {
      const D = headDimIn(r, tier);
      const w = axes(dims, (a) => {
        const d = a === 0 ? r.int(2, 3) : r.int(1, 2);
        const L = dims === 1 ? r.int(150, 210) : dims === 2 ? r.int(18, 25) : r.int(8, 11);
        const k = Math.max(2, Math.min(Math.floor(L / d), dims === 1 ? 33 : dims === 2 ? 7 : 3));
        return [L, k, r.int(1, 2), d, false];
      });
      return { w, B: 2, H: 2, Hkv: 2, D, Dv: D, nExtra: 0 };
    },
  },
  {
    name: 'stride+causal',
    make: (r, dims, tier) => {
      const D = headDimIn(r, tier);
      const w = axes(dims, () => {
        const L = dims === 1 ? r.int(140, 260) : dims === 2 ? r.int(17, 24) : r.int(7, 10);
        const k = dims === 1 ? r.int(20, 90) : dims === 2 ? r.int(5, 11) : r.int(3, 5);
        return [L, k, r.int(1, Math.min(k, 4)), 1, r.chance(0.6)];
      });
      return { w, B: 1, H: 2, Hkv: 2, D, Dv: D, nExtra: 0 };
    },
  },
  {
    // GQA and additional keys: several extra tiles, the last one partial.
    name: 'gqa+extra',
    make: (r, dims, tier) => {
      const D = headDimIn(r, tier);
      const w = axes(dims, () =>
        dims === 1
          ? [r.int(100, 180), r.int(9, 40), 1, 1, false]
          : dims === 2
            ? [r.int(12, 18), 5, 1, 1, false]
            : [r.int(5, 8), 3, 1, 1, false],
      );
      return { w, B: 2, H: 4, Hkv: r.pick([1, 2]), D, Dv: D, nExtra: r.int(70, 200) };
    },
  },
  {
    // Smaller than one Q tile, Dv != D, negative scale (the consumers negate their Q halves).
    name: 'odd',
    make: (r, dims, tier) => {
      const w = axes(dims, () => {
        const L = dims === 1 ? r.int(5, 60) : dims === 2 ? r.int(3, 9) : r.int(3, 5);
        return [L, r.int(2, L), 1, 1, r.chance(0.3)];
      });
      return { w, B: 3, H: 1, Hkv: 1, D: headDimIn(r, tier), Dv: headDimIn(r, tier), nExtra: r.int(0, 9), scale: -0.3 };
    },
  },
];

/** Checks one case against the CUDA reference kernel and, where `withOracle`, the fp64 oracle too (the host
 * oracle costs seconds on the large windows; the reference kernel is itself checked against it in
 * test/cuda_reference.test.ts). */
async function runCase(
  c: FusedCase<HalfDType>,
  config: natten.FusedConfigInfo,
  f: Failures,
  withOracle: boolean,
): Promise<void> {
  const tag = describeSweepCase(c, { q: config.qTileShape, kv: config.kvTileShape, scale: c.scale ?? 'default' });
  await f.run(tag, async (s) => {
    const x = await uploadFusedInputs(s, c, c.dtype, c.seed * 131);
    const forced = {
      qTileShape: config.qTileShape,
      kvTileShape: config.kvTileShape,
      forwardArch: forwardArchOf('wgmma-ws'),
    };
    const fused = runNaForward(s, c, c.dtype, x, forced);
    const reference = runNaForward(s, c, c.dtype, x, { useReference: true });
    const out = await download(fused.out);
    const lse = await download(fused.lse);
    if (withOracle) {
      const ref = naForward(x.q.exact, x.k.exact, x.v.exact, fusedOracleOptions(c, x));
      f.check(`O vs oracle ${tag}`, out, ref.output, TOL.out[c.dtype]);
      f.check(`LSE vs oracle ${tag}`, lse, ref.lse, TOL.lse);
    }
    f.check(`O vs reference kernel ${tag}`, out, await download(reference.out), TOL.out[c.dtype]);
    f.check(`LSE vs reference kernel ${tag}`, lse, await download(reference.lse), TOL.lse);
  });
}

/** Every compiled 'wgmma-ws' forward config on the test device. */
function wsConfigs(): natten.FusedConfigInfo[] {
  const all: natten.FusedConfigInfo[] = [];
  for (const dims of [1, 2, 3])
    for (const headDim of [64, 128])
      for (const dtype of ['float16', 'bfloat16'] as const)
        all.push(
          ...natten
            .fusedConfigs({ dims, headDim, dtype, device: 'cuda' })
            .filter((c) => c.pass === 'forward' && c.kernel === 'wgmma-ws'),
        );
  return all;
}

describeGpu("CUDA warp-specialised fused NA forward (forwardKernel 'wgmma-ws')", () => {
  const supported = natten.cuda.isAvailable() && native.hasFused({ device: 0 });
  const hopper = (() => {
    if (!supported) return false;
    const { major, minor } = natten.cuda.deviceInfo(0);
    return major === 9 && minor === 0;
  })();

  it('lists wgmma-ws configs (tiers 64 and 128, 1/2/3-D, fp16 and bf16) exactly on compute capability 9.0', () => {
    if (!supported) return;
    const configs = wsConfigs();
    if (!hopper) {
      expect(configs).toEqual([]);
      return;
    }
    for (const dims of [1, 2, 3])
      for (const tier of [64, 128])
        for (const dtype of ['float16', 'bfloat16'])
          expect(configs.some((c) => c.dims === dims && c.headDimTier === tier && c.dtype === dtype)).toBe(true);
    for (const c of configs) {
      expect(c.threads).toBe(384);
      expect(c.qTileShape.reduce((a, b) => a * b, 1)).toBe(128);
    }
  });

  it('forcing wgmma-ws where it has no config is ERR_NATTEN_UNSUPPORTED', () => {
    if (!supported) return;
    const s = new Scope();
    try {
      // Head dim 32 (tier 32) has no wgmma-ws kernels on any device; off cc 9.0 none exist at all.
      const p: NativeProblem = { dims: 1, batch: 1, heads: 1, headDim: 32, length: [20], kernel: [5] };
      const q = s.keep(natten.randn([1, 20, 1, 32], { dtype: 'bfloat16', device: 'cuda', seed: 3 }));
      const out = s.poisoned([1, 20, 1, 32], 'bfloat16');
      const call = () =>
        native.naForward({
          dtype: dtypeCode('bfloat16'),
          problem: p,
          q: q.handle(),
          k: q.handle(),
          v: q.handle(),
          output: out.handle(),
          config: { forwardArch: forwardArchOf('wgmma-ws') },
        });
      expect(call).toThrow(expect.objectContaining({ code: 'ERR_NATTEN_UNSUPPORTED' }));
      expect(call).toThrow(/kernel 'wgmma-ws'/);
    } finally {
      s.dispose();
    }
  });

  it('matches the fp64 oracle and the reference kernel with every wgmma-ws config forced, every scenario', async () => {
    if (!hopper) return;
    const configs = wsConfigs();
    expect(configs.length).toBeGreaterThan(0);
    const f = new Failures();
    let n = 0;
    for (let i = 0; i < configs.length; i++) {
      const config = configs[i];
      for (let j = 0; j < SCENARIOS.length; j++, n++) {
        const seed = 70000 + 16 * i + j;
        const r = new Rng(seed);
        const dtype = config.dtype as HalfDType;
        // The oracle on every fourth case (each scenario meets it on several configs); the reference on all.
        await runCase(
          { seed, dtype, ...SCENARIOS[j].make(r, config.dims, config.headDimTier) },
          config,
          f,
          n % 4 === 0,
        );
      }
      // A line per config: a kernel that hangs shows where the sweep stopped.
      process.stderr.write(
        `  wgmma-ws config ${i + 1}/${configs.length} (${config.dims}-D q ${config.qTileShape} kv ${config.kvTileShape}` +
          ` tier ${config.headDimTier} ${config.dtype}): ${f.list.length} failures so far\n`,
      );
    }
    process.stderr.write(
      `  wgmma-ws sweep: ${n} cases (${configs.length} configs), ${f.checks} comparisons, ${f.list.length} failures\n`,
    );
    expect(f.list).toEqual([]);
  });

  it('persistent CTAs walking many Q tiles, and one CTA per tile, give the same results', async () => {
    if (!hopper) return;
    const configs = wsConfigs().filter((c) => c.dtype === 'bfloat16');
    const before = natten.internal.kernelSwitches();
    const f = new Failures();
    let n = 0;
    try {
      // 3 persistent CTAs: every CTA walks many items, both Q buffers, the ring across items, the empty slots
      // of short dilation groups (scenario 'dilation') and additional-key tiles (scenario 'gqa+extra'); then
      // the non-persistent launch (one CTA per item) on the wide windows.
      const runs = [
        { scenario: 1, switches: { forwardWsPersistent: true, persistentCtas: 3 } },
        { scenario: 3, switches: { forwardWsPersistent: true, persistentCtas: 3 } },
        { scenario: 0, switches: { forwardWsPersistent: false, persistentCtas: 0 } },
      ];
      for (let i = 0; i < configs.length; i++) {
        for (const run of runs) {
          natten.internal.kernelSwitches(run.switches);
          const n0 = natten.internal.kernelSwitches().forwardWsPersistentLaunches;
          const seed = 71000 + 16 * i + run.scenario;
          const c = SCENARIOS[run.scenario].make(new Rng(seed), configs[i].dims, configs[i].headDimTier);
          await runCase({ seed, dtype: 'bfloat16', ...c }, configs[i], f, false);
          const persistent = natten.internal.kernelSwitches().forwardWsPersistentLaunches - n0;
          if (persistent > 0 !== run.switches.forwardWsPersistent)
            f.list.push(`config ${i} ${SCENARIOS[run.scenario].name}: ${persistent} persistent launches`);
          n++;
        }
      }
    } finally {
      natten.internal.kernelSwitches({
        forwardWsPersistent: before.forwardWsPersistent,
        persistentCtas: before.persistentCtas,
      });
    }
    process.stderr.write(
      `  wgmma-ws persistent sweep: ${n} cases, ${f.checks} comparisons, ${f.list.length} failures\n`,
    );
    expect(f.list).toEqual([]);
  });
});
