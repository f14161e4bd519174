// The wgmma backward's TMA loads of Q and dO (kernels/fused/backward/fna_backward_wgmma_tma.h, switched on
// through natten.internal.kernelSwitches): per case, the backward with the switch off (row copies) and on.
// The loads bring the same data, so dK, dV and the additional-KV gradients must be bitwise equal, and dQ too
// in deterministic mode (KV-parallel dQ sums in no fixed order: within tolerance); the TMA results also match
// the fp64 oracle. The cases cover what the maps must get right: 1-D, 2-D and 3-D maps, Q tiles past an
// axis end (zero-filled rows), head dims below the tier (zero-filled columns), Dv != D, GQA, stride, causal,
// additional keys, and the 3-D batch fold; the launch counter shows which cases took the TMA path (dilation
// and a fold that would read another batch's rows must not).
import * as natten from '../lib';
import type { NativeFusedConfig } from '../lib/native';
import { backwardArchOf } from '../lib/ops/fused_configs';
import { Failures, TEST_DEVICE, describeSweepCase } from './cuda_common';
import { type BackwardCase, NAMES, Prepared, type TileConfig, bitwiseEqual, compare } from './helpers/fused_backward';
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
    c: { ...base, seed: 10, dtype: 'bfloat16', w: win([20, 16], [5, 5], { dilation: [2, 1] }), tiles: tiles([8, 8]) },
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

describeGpu('CUDA fused backward on wgmma: Q and dO by TMA', () => {
  it("gives the row copies' gradients (bitwise where the order is fixed) on every case, and the oracle's", async () => {
    if (!runsWgmma()) return; // no wgmma backward on this GPU (cuda_fused_backward_wgmma.test.ts checks the error)
    const before = natten.internal.kernelSwitches().backwardTma;
    const f = new Failures();
    try {
      for (const { c, tma } of CASES) {
        await f.run(tag(c), async (s) => {
          const prep = await Prepared.create(c, s);
          natten.internal.kernelSwitches({ backwardTma: false });
          const rowsKv = await prep.run(forced(c, false));
          const rowsDet = await prep.run(forced(c, true));
          natten.internal.kernelSwitches({ backwardTma: true });
          const n0 = natten.internal.kernelSwitches().backwardTmaLaunches;
          const tmaKv = await prep.run(forced(c, false));
          const tmaDet = await prep.run(forced(c, true));
          const launches = natten.internal.kernelSwitches().backwardTmaLaunches - n0;
          // One window-pass launch per backward (KV-parallel, deterministic) takes the TMA path, or none.
          if (launches !== (tma ? 2 : 0)) f.list.push(`${tag(c)}: ${launches} TMA launches, expected ${tma ? 2 : 0}`);
          for (const name of NAMES) {
            const pairs: Array<[string, typeof rowsKv, typeof tmaKv]> = [['deterministic', rowsDet, tmaDet]];
            if (name !== 'dq') pairs.push(['kv-parallel', rowsKv, tmaKv]);
            for (const [mode, a, b] of pairs) {
              const x = a[name],
                y = b[name];
              if ((x || y) && !(x && y && bitwiseEqual(x, y)))
                f.list.push(`${mode} ${name}: TMA and row copies differ: ${tag(c)}`);
            }
          }
          compare(f, `TMA kv-parallel vs rows ${tag(c)}`, tmaKv, rowsKv, c.dtype);
          compare(f, `TMA vs oracle ${tag(c)}`, tmaKv, prep.oracle(), c.dtype);
        });
      }
    } finally {
      natten.internal.kernelSwitches({ backwardTma: before });
    }
    process.stderr.write(`  wgmma bwd TMA: ${CASES.length} cases, ${f.list.length} failures\n`);
    expect(f.list).toEqual([]);
  });
});

describe('natten.internal.kernelSwitches', () => {
  it('reports the switches and checks what it is given', () => {
    const s = natten.internal.kernelSwitches();
    expect(typeof s.backwardTma).toBe('boolean');
    expect(s.backwardTmaLaunches).toBeGreaterThanOrEqual(0);
    for (const bad of [null, 5, 'on'] as unknown[]) {
      expect(() => natten.internal.kernelSwitches(bad as { backwardTma?: boolean })).toThrow(
        expect.objectContaining({ code: 'ERR_NATTEN_INVALID_ARG_TYPE' }),
      );
    }
    expect(() => natten.internal.kernelSwitches({ backwardTma: 1 as unknown as boolean })).toThrow(
      expect.objectContaining({ code: 'ERR_NATTEN_INVALID_ARG_TYPE', name: 'TypeError' }),
    );
    if (!natten.buildInfo().cuda) {
      expect(() => natten.internal.kernelSwitches({ backwardTma: true })).toThrow(
        expect.objectContaining({ code: 'ERR_NATTEN_NO_CUDA' }),
      );
    } else {
      const before = s.backwardTma;
      try {
        expect(natten.internal.kernelSwitches({ backwardTma: !before }).backwardTma).toBe(!before);
        expect(natten.internal.kernelSwitches({}).backwardTma).toBe(!before);
      } finally {
        expect(natten.internal.kernelSwitches({ backwardTma: before }).backwardTma).toBe(before);
      }
    }
  });
});
