// The wgmma backward's switched variants (natten.internal.kernelSwitches, kernels/runtime/kernel_switches.h):
// the TMA loads of Q and dO (fna_backward_wgmma_tma.h) and the persistent CTAs (fna_backward_wgmma_schedule.h).
// Per case, the backward runs with both switches off (row copies, one KV tile per CTA) and with each variant
// and both together (TMA loads alone is the default); the persistent launches are capped at 3 CTAs, so every CTA walks many tiles (walk buffers
// and the KV tile handed back and forth, empty dilation slots, tiles without steps). The variants compute
// the same sums in the same order, so dK, dV and the additional-KV gradients must be bitwise equal to the
// row-copy kernel's, and dQ too in deterministic mode (KV-parallel dQ sums in no fixed order: within tolerance); the
// variants also match the fp64 oracle. The cases cover what the TMA maps must get right: 1-D, 2-D and 3-D
// maps, Q tiles past an axis end (zero-filled rows), head dims below the tier (zero-filled columns), Dv != D,
// GQA, stride, causal, additional keys, and the 3-D batch fold; the launch counters show which runs took the
// TMA path (dilation and a fold that would read another batch's rows must not) and the persistent one.
import * as natten from '../lib';
import type { KernelSwitchSettings, NativeFusedConfig } from '../lib/native';
import { backwardArchOf } from '../lib/ops/fused_configs';
import { Failures, TEST_DEVICE, describeSweepCase } from './cuda_common';
import {
  type BackwardCase,
  type Grads,
  NAMES,
  Prepared,
  type TileConfig,
  bitwiseEqual,
  compare,
} from './helpers/fused_backward';
import { describeGpu } from './helpers/gpu';

const WGMMA = backwardArchOf('wgmma');

interface TmaCase {
  c: BackwardCase;
  /** Whether the window pass can load by TMA (dilation 1, no fold into another batch's rows). */
  tma: boolean;
}

function win(spatial: number[], kernel: number[], extra: Partial<BackwardCase['w']> = {}): BackwardCase['w'] {
  const n = spatial.length;
  return {
    spatial,
    kernel,
    stride: extra.stride ?? new Array<number>(n).fill(1),
    dilation: extra.dilation ?? new Array<number>(n).fill(1),
    causal: extra.causal ?? new Array<boolean>(n).fill(false),
  };
}

function tiles(q: number[]): TileConfig {
  return { q, kv: q.map((e, a) => (a === 0 ? 2 * e : e)) };
}

const base = { B: 1, H: 2, Hkv: 2, D: 64, Dv: 64, nExtra: 0 };
const CASES: TmaCase[] = [
  // 1-D: the last Q tile runs past the axis (300 = 4 x 64 + 44), stride 2; head dim below tier 64; causal.
  {
    c: { ...base, seed: 1, dtype: 'bfloat16', B: 2, H: 4, w: win([300], [33], { stride: [2] }), tiles: tiles([64]) },
    tma: true,
  },
  {
    c: {
      ...base,
      seed: 2,
      dtype: 'float16',
      D: 40,
      Dv: 40,
      w: win([200], [90], { causal: [true] }),
      tiles: tiles([64]),
    },
    tma: true,
  },
  // 2-D, tier 128: D 96 (the second column block half past the head dim), Dv 128; GQA, causal and stride.
  {
    c: { ...base, seed: 3, dtype: 'bfloat16', B: 2, D: 96, Dv: 128, w: win([20, 22], [7, 9]), tiles: tiles([8, 8]) },
    tma: true,
  },
  {
    c: {
      ...base,
      seed: 4,
      dtype: 'float16',
      H: 3,
      Hkv: 1,
      D: 128,
      Dv: 128,
      w: win([17, 33], [5, 13], { causal: [true, false], stride: [1, 2] }),
      tiles: tiles([4, 16]),
    },
    tma: true,
  },
  // 3-D: batch folded into axis 0 of the map; axis 0 a multiple of the Q tile's extent, or batch 1: TMA.
  {
    c: { ...base, seed: 5, dtype: 'bfloat16', B: 2, w: win([8, 9, 7], [3, 5, 3]), tiles: tiles([4, 4, 4]) },
    tma: true,
  },
  { c: { ...base, seed: 6, dtype: 'float16', B: 1, w: win([9, 6, 6], [5, 3, 3]), tiles: tiles([4, 4, 4]) }, tma: true },
  {
    c: {
      ...base,
      seed: 7,
      dtype: 'bfloat16',
      B: 2,
      D: 72,
      Dv: 72,
      w: win([5, 10, 9], [3, 7, 5]),
      tiles: tiles([1, 8, 8]),
    },
    tma: true,
  },
  // Additional keys: the window pass by TMA, the extra pass by rows.
  { c: { ...base, seed: 8, dtype: 'bfloat16', nExtra: 70, w: win([16, 18], [5, 7]), tiles: tiles([8, 8]) }, tma: true },
  // Row copies: a fold that would bring the next batch's rows into a Q tile (9 % 4 != 0), and dilation.
  {
    c: { ...base, seed: 9, dtype: 'float16', B: 2, w: win([9, 6, 6], [5, 3, 3]), tiles: tiles([4, 4, 4]) },
    tma: false,
  },
  {
    // Dilation 2 on an axis of 33: groups of 17 and 16 rows, so the second KV slot of the shorter group is empty.
    c: {
      ...base,
      seed: 10,
      dtype: 'bfloat16',
      w: win([33, 12], [5, 5], { dilation: [2, 1] }),
      tiles: tiles([8, 8]),
    },
    tma: false,
  },
];

function forced(c: BackwardCase, deterministic: boolean): NativeFusedConfig {
  const t = c.tiles as TileConfig;
  return {
    backwardQTileShape: t.q,
    backwardKvTileShape: t.kv,
    backwardArch: WGMMA,
    kvParallel: !deterministic,
    deterministic,
  };
}

function tag(c: BackwardCase): string {
  const t = c.tiles as TileConfig;
  return describeSweepCase(c, { tiles: `wgmma q${t.q.join('x')}/kv${t.kv.join('x')}` });
}

/** True when the device runs the wgmma family (compute capability 9.0). */
function runsWgmma(): boolean {
  return TEST_DEVICE === 'cuda' && natten.cuda.deviceInfo().computeCapability === '9.0';
}

interface Variant {
  name: string;
  backwardTma: boolean;
  backwardPersistent: boolean;
}
const VARIANTS: Variant[] = [
  { name: 'TMA', backwardTma: true, backwardPersistent: false },
  { name: 'persistent', backwardTma: false, backwardPersistent: true },
  { name: 'TMA + persistent', backwardTma: true, backwardPersistent: true },
];

describeGpu('CUDA fused backward on wgmma: the switched variants', () => {
  it("give the row-copy kernel's gradients (bitwise where the order is fixed) on every case, and the oracle's", async () => {
    if (!runsWgmma()) return; // no wgmma backward on this GPU (cuda_fused_backward_wgmma.test.ts checks the error)
    const before = natten.internal.kernelSwitches();
    const f = new Failures();
    try {
      for (const { c, tma } of CASES) {
        await f.run(tag(c), async (s) => {
          const prep = await Prepared.create(c, s);
          natten.internal.kernelSwitches({ backwardTma: false, backwardPersistent: false, persistentCtas: 3 });
          const baseKv = await prep.run(forced(c, false));
          const baseDet = await prep.run(forced(c, true));
          const oracle = prep.oracle();
          for (const v of VARIANTS) {
            natten.internal.kernelSwitches({ backwardTma: v.backwardTma, backwardPersistent: v.backwardPersistent });
            const n0 = natten.internal.kernelSwitches();
            const kv = await prep.run(forced(c, false));
            const det = await prep.run(forced(c, true));
            const n1 = natten.internal.kernelSwitches();
            // One window-pass launch per backward (KV-parallel, deterministic); the extra pass never loads by
            // TMA but runs persistent too.
            const passes = c.nExtra > 0 ? 2 : 1;
            const wantTma = v.backwardTma && tma ? 2 : 0;
            const wantPersistent = v.backwardPersistent ? 2 * passes : 0;
            const gotTma = n1.backwardTmaLaunches - n0.backwardTmaLaunches;
            const gotPersistent = n1.backwardPersistentLaunches - n0.backwardPersistentLaunches;
            if (gotTma !== wantTma) f.list.push(`${v.name} ${tag(c)}: ${gotTma} TMA launches, expected ${wantTma}`);
            if (gotPersistent !== wantPersistent)
              f.list.push(`${v.name} ${tag(c)}: ${gotPersistent} persistent launches, expected ${wantPersistent}`);
            for (const name of NAMES) {
              const pairs: Array<[string, Grads, Grads]> = [['deterministic', baseDet, det]];
              if (name !== 'dq') pairs.push(['kv-parallel', baseKv, kv]);
              for (const [mode, a, b] of pairs) {
                const x = a[name],
                  y = b[name];
                if ((x || y) && !(x && y && bitwiseEqual(x, y)))
                  f.list.push(`${v.name}, ${mode} ${name}: differs from row copies: ${tag(c)}`);
              }
            }
            compare(f, `${v.name} kv-parallel vs row copies ${tag(c)}`, kv, baseKv, c.dtype);
            compare(f, `${v.name} vs oracle ${tag(c)}`, kv, oracle, c.dtype);
          }
        });
      }
    } finally {
      natten.internal.kernelSwitches({
        backwardTma: before.backwardTma,
        backwardPersistent: before.backwardPersistent,
        persistentCtas: before.persistentCtas,
      });
    }
    process.stderr.write(`  wgmma bwd switched variants: ${CASES.length} cases, ${f.list.length} failures\n`);
    expect(f.list).toEqual([]);
  });
});

describe('natten.internal.kernelSwitches', () => {
  it('reports the switches and checks what it is given', () => {
    const s = natten.internal.kernelSwitches();
    expect(typeof s.backwardTma).toBe('boolean');
    expect(typeof s.backwardPersistent).toBe('boolean');
    expect(typeof s.forwardWsPersistent).toBe('boolean');
    expect(s.forwardWsPersistentLaunches).toBeGreaterThanOrEqual(0);
    expect(Number.isInteger(s.persistentCtas)).toBe(true);
    expect(s.backwardTmaLaunches).toBeGreaterThanOrEqual(0);
    expect(s.backwardPersistentLaunches).toBeGreaterThanOrEqual(0);
    // The defaults: TMA loads on, persistent CTAs off (unless the environment starts them otherwise).
    if (process.env.NATTEN_BWD_WGMMA_TMA === undefined) expect(s.backwardTma).toBe(true);
    if (process.env.NATTEN_BWD_WGMMA_PERSISTENT === undefined) expect(s.backwardPersistent).toBe(false);
    if (process.env.NATTEN_FWD_WS_PERSISTENT === undefined) expect(s.forwardWsPersistent).toBe(true);
    const set = (x: unknown) => () => natten.internal.kernelSwitches(x as KernelSwitchSettings);
    for (const bad of [null, 5, 'on', { backwardTma: 1 }, { backwardPersistent: 'yes' }, { forwardWsPersistent: 0 }])
      expect(set(bad)).toThrow(expect.objectContaining({ code: 'ERR_NATTEN_INVALID_ARG_TYPE', name: 'TypeError' }));
    for (const bad of [-1, 2.5, 'many', 2 ** 21])
      expect(set({ persistentCtas: bad })).toThrow(
        expect.objectContaining({ code: 'ERR_NATTEN_INVALID_ARG_VALUE', name: 'RangeError' }),
      );
    if (!natten.buildInfo().cuda) {
      expect(set({ backwardTma: true })).toThrow(expect.objectContaining({ code: 'ERR_NATTEN_NO_CUDA' }));
      return;
    }
    try {
      const flipped = natten.internal.kernelSwitches({
        backwardTma: !s.backwardTma,
        backwardPersistent: !s.backwardPersistent,
        forwardWsPersistent: !s.forwardWsPersistent,
        persistentCtas: 7,
      });
      expect([
        flipped.backwardTma,
        flipped.backwardPersistent,
        flipped.forwardWsPersistent,
        flipped.persistentCtas,
      ]).toEqual([!s.backwardTma, !s.backwardPersistent, !s.forwardWsPersistent, 7]);
      // Fields not given keep their values.
      expect(natten.internal.kernelSwitches({ persistentCtas: 0 }).backwardTma).toBe(!s.backwardTma);
    } finally {
      natten.internal.kernelSwitches({
        backwardTma: s.backwardTma,
        backwardPersistent: s.backwardPersistent,
        forwardWsPersistent: s.forwardWsPersistent,
        persistentCtas: s.persistentCtas,
      });
    }
    expect(natten.internal.kernelSwitches()).toEqual(s);
  });
});
