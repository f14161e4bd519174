// Tensor-core fused NA forward (kernels/fused) against the fp64 oracle and the CUDA reference kernel on a
// seeded sweep: 1/2/3-D with several tiles per axis, odd and even k, dilation with ragged groups, stride,
// causal per axis, GQA/MQA, additional keys/values, Dv != D, every head-dim tier (8..256, multiples of 8),
// scale, fp16/bf16, every compiled forward tile config forced at least once (and the heuristic's choice).
// Outputs are poisoned with NaN before each run. Also: natten.fusedConfigs() and tile-config errors.
import * as natten from '../lib';
import { native, type NativeFusedConfig, type NativeProblem } from '../lib/native';
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
  fusedProblem,
  runNaForward,
  type WindowCase,
  uploadFusedInputs,
} from './cuda_common';
import { describeGpu } from './helpers/gpu';
import { naForward, prod } from './oracle';

type HalfDType = 'float16' | 'bfloat16';
const HALF: readonly HalfDType[] = ['float16', 'bfloat16'];
const TIERS = [32, 64, 128, 256];
const SWEEP_CASES = 240;

interface Case extends FusedCase<HalfDType> {
  /** Forced config, or undefined for the heuristic. */
  config?: natten.FusedConfigInfo;
}

/** A window with several Q tiles per axis (tiles are 64-128 queries, 8-16 per 2-D axis, 4-8 per 3-D axis). */
function window(r: Rng, dims: number): WindowCase {
  const maxL = dims === 1 ? 300 : dims === 2 ? 26 : 11;
  const w: WindowCase = { spatial: [], kernel: [], stride: [], dilation: [], causal: [] };
  for (let a = 0; a < dims; a++) {
    const L = r.int(dims === 3 ? 2 : 3, maxL);
    let d = r.chance(0.7) ? 1 : r.int(2, 4);
    while (d > 1 && 2 * d > L) d--;
    const kmax = Math.min(Math.floor(L / d), dims === 1 ? 70 : dims === 2 ? 15 : 7);
    const k = r.chance(0.1) ? Math.floor(L / d) : r.int(2, Math.max(2, kmax));
    w.spatial.push(L);
    w.kernel.push(Math.max(2, Math.min(k, Math.floor(L / d))));
    w.dilation.push(d);
    w.stride.push(r.chance(0.65) ? 1 : r.int(1, w.kernel[a]));
    w.causal.push(r.chance(0.25));
  }
  return w;
}

/** A head dim (multiple of 8) inside a tier. */
function headDimIn(r: Rng, tier: number): number {
  const lo = tier === 32 ? 1 : tier / 16 + 1;
  return 8 * (r.chance(0.5) ? tier / 8 : r.int(lo, tier / 8));
}

function randomCase(seed: number, config?: natten.FusedConfigInfo): Case {
  const r = new Rng(seed);
  for (;;) {
    const dims = config?.dims ?? r.pick([1, 2, 2, 3]);
    const tier = config?.headDimTier ?? r.pick(TIERS);
    const H = r.pick([1, 2, 3, 4]);
    const c: Case = {
      seed,
      dtype: config?.dtype === 'float16' || config?.dtype === 'bfloat16' ? config.dtype : r.pick(HALF),
      w: window(r, dims),
      B: r.int(1, 2),
      H,
      Hkv: r.chance(0.5) ? H : r.pick([1, 2, 3, 4].filter((x) => H % x === 0)),
      D: headDimIn(r, tier),
      Dv: 0,
      nExtra: r.chance(0.25) ? r.int(1, 70) : 0,
      // Negative and zero scales too (the tensor-core kernels run a negative scale on -Q).
      scale: r.chance(0.2)
        ? 0.05 + r.uniform()
        : r.chance(0.08)
          ? -(0.05 + r.uniform())
          : r.chance(0.03)
            ? 0
            : undefined,
      config,
    };
    c.Dv = r.chance(0.7) ? c.D : headDimIn(r, tier);
    const n = prod(c.w.spatial);
    if (c.B * c.H * n * (prod(c.w.kernel) + c.nExtra) * (c.D + c.Dv) <= 4e6 && (!config || runsCase(c, config)))
      return c;
  }
}

/** Whether a forced config runs the case: the window-union configs take only windows whose Q tiles' unions fit. */
function runsCase(c: Case, config: natten.FusedConfigInfo): boolean {
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  return native
    .fusedConfigs({
      device: 0,
      dims: config.dims,
      headDim: c.D,
      headDimV: c.Dv,
      dtype: dtypeCode(c.dtype),
      problem: fusedProblem(c),
    })
    .some(
      (x) =>
        x.pass === 'forward' &&
        x.kernel === config.kernel &&
        same(x.qTileShape, config.qTileShape) &&
        same(x.kvTileShape, config.kvTileShape),
    );
}

async function runCase(c: Case, f: Failures): Promise<void> {
  const t = c.dtype;
  const tag = describeSweepCase(c, {
    scale: c.scale ?? 'default',
    q: c.config?.qTileShape ?? 'auto',
    kv: c.config?.kvTileShape ?? 'auto',
    kernel: c.config?.kernel ?? 'auto',
  });
  await f.run(tag, async (s) => {
    const x = await uploadFusedInputs(s, c, t, c.seed * 131);
    const fused = runNaForward(
      s,
      c,
      t,
      x,
      c.config
        ? {
            qTileShape: c.config.qTileShape,
            kvTileShape: c.config.kvTileShape,
            forwardArch: forwardArchOf(c.config.kernel),
          }
        : {},
    );
    const reference = runNaForward(s, c, t, x, { useReference: true });
    const ref = naForward(x.q.exact, x.k.exact, x.v.exact, fusedOracleOptions(c, x));
    const out = await download(fused.out);
    const lse = await download(fused.lse);
    f.check(`O vs oracle ${tag}`, out, ref.output, TOL.out[t]);
    f.check(`LSE vs oracle ${tag}`, lse, ref.lse, TOL.lse);
    f.check(`O vs reference kernel ${tag}`, out, await download(reference.out), TOL.out[t]);
    f.check(`LSE vs reference kernel ${tag}`, lse, await download(reference.lse), TOL.lse);
  });
}

/** Every compiled forward config on the test device (both half dtypes, every dims and tier). */
function forwardConfigs(): natten.FusedConfigInfo[] {
  const all: natten.FusedConfigInfo[] = [];
  for (const dims of [1, 2, 3])
    for (const headDim of TIERS)
      for (const dtype of HALF)
        all.push(...natten.fusedConfigs({ dims, headDim, dtype, device: 'cuda' }).filter((c) => c.pass === 'forward'));
  return all;
}

describeGpu('CUDA tensor-core fused NA forward', () => {
  // sm_80+ runs the tensor-core path; older GPUs fall back to the reference kernel (nothing to test here).
  const supported = natten.cuda.isAvailable() && native.hasFused({ device: 0 });

  it('lists compiled forward configs per (dims, head-dim tier, dtype); none for float32 or the CPU', () => {
    if (!supported) return;
    for (const dims of [1, 2, 3]) {
      for (const headDim of [8, 40, 64, 72, 128, 200, 256]) {
        const list = natten.fusedConfigs({ dims, headDim, dtype: 'bfloat16' }).filter((c) => c.pass === 'forward');
        expect(list.length).toBeGreaterThan(0);
        for (const c of list) {
          expect(c.dims).toBe(dims);
          expect(c.qTileShape).toHaveLength(dims);
          expect(c.kvTileShape).toHaveLength(dims);
          expect(c.headDimTier).toBeGreaterThanOrEqual(headDim);
          expect(c.dtype).toBe('bfloat16');
        }
      }
    }
    expect(natten.fusedConfigs({ dims: 2, headDim: 64, dtype: 'float32' })).toEqual([]);
    expect(natten.fusedConfigs({ dims: 2, headDim: 60, dtype: 'float16' })).toEqual([]);
    expect(natten.fusedConfigs({ dims: 2, headDim: 264, dtype: 'float16' })).toEqual([]);
    expect(natten.fusedConfigs({ dims: 2, headDim: 64, device: 'cpu' })).toEqual([]);
  });

  it('lists the wgmma (sm_90a) forward configs exactly on compute capability 9.0', () => {
    if (!supported) return;
    const { major, minor } = natten.cuda.deviceInfo(0);
    for (const dims of [1, 2, 3]) {
      for (const headDim of [64, 128]) {
        const kernels = natten
          .fusedConfigs({ dims, headDim })
          .filter((c) => c.pass === 'forward')
          .map((c) => c.kernel);
        expect(kernels).toContain('mma');
        expect(kernels.includes('wgmma')).toBe(major === 9 && minor === 0);
      }
    }
  });

  it('rejects bad fusedConfigs queries with coded errors', () => {
    expect(() => natten.fusedConfigs({ dims: 4, headDim: 64 })).toThrow(
      expect.objectContaining({ code: 'ERR_NATTEN_INVALID_ARG_VALUE' }),
    );
    expect(() => natten.fusedConfigs({ dims: 2, headDim: 0 })).toThrow(RangeError);
    expect(() => natten.fusedConfigs({ dims: 2, headDim: '64' as never })).toThrow(TypeError);
    expect(() => natten.fusedConfigs({ dims: 2, headDim: 64, dtype: 'int8' as natten.DType })).toThrow(
      expect.objectContaining({ code: 'ERR_NATTEN_INVALID_DTYPE' }),
    );
  });

  it('names the valid configs when a tile shape does not exist', () => {
    if (!supported) return;
    const s = new Scope();
    try {
      const p: NativeProblem = { dims: 2, batch: 1, heads: 1, headDim: 32, length: [12, 12], kernel: [3, 3] };
      const q = s.keep(natten.randn([1, 12, 12, 1, 32], { dtype: 'bfloat16', device: 'cuda', seed: 1 }));
      const out = s.poisoned([1, 12, 12, 1, 32], 'bfloat16');
      const call = (config: NativeFusedConfig) =>
        native.naForward({
          dtype: dtypeCode('bfloat16'),
          problem: p,
          q: q.handle(),
          k: q.handle(),
          v: q.handle(),
          output: out.handle(),
          config,
        });
      let err: (Error & { code?: string }) | undefined;
      try {
        call({ qTileShape: [3, 5] });
      } catch (e) {
        err = e as Error & { code?: string };
      }
      expect(err?.name).toBe('RangeError'); // (the addon's RangeError is from another realm than jest's)
      expect(err?.code).toBe('ERR_NATTEN_UNSUPPORTED');
      expect(err?.message).toMatch(/qTileShape \[3, 5\].*valid: .*qTileShape: \[8, 8\]/);
      // The window-union config (Q 8x8, unions up to 16x16 keys) runs k3 here, and refuses k11 on 24x24 (unions of
      // 18 keys per axis).
      call({ qTileShape: [8, 8], kvTileShape: [16, 16], forwardArch: 80 });
      err = undefined;
      try {
        const q24 = s.keep(natten.randn([1, 24, 24, 1, 32], { dtype: 'bfloat16', device: 'cuda', seed: 1 }));
        native.naForward({
          dtype: dtypeCode('bfloat16'),
          problem: { ...p, length: [24, 24], kernel: [11, 11] },
          q: q24.handle(),
          k: q24.handle(),
          v: q24.handle(),
          output: s.poisoned([1, 24, 24, 1, 32], 'bfloat16').handle(),
          config: { qTileShape: [8, 8], kvTileShape: [16, 16], forwardArch: 80 },
        });
      } catch (e) {
        err = e as Error & { code?: string };
      }
      expect(err?.code).toBe('ERR_NATTEN_UNSUPPORTED');
      expect(err?.message).toMatch(/window-union .*at most \[16, 16\] keys; this problem's Q tiles see up to 18 x 18/);
      const q32 = s.keep(natten.randn([1, 12, 12, 1, 32], { dtype: 'float32', device: 'cuda', seed: 1 }));
      const out32 = s.poisoned([1, 12, 12, 1, 32], 'float32');
      expect(() =>
        native.naForward({
          dtype: dtypeCode('float32'),
          problem: p,
          q: q32.handle(),
          k: q32.handle(),
          v: q32.handle(),
          output: out32.handle(),
          config: { qTileShape: [8, 8] },
        }),
      ).toThrow(expect.objectContaining({ code: 'ERR_NATTEN_UNSUPPORTED' }));
    } finally {
      s.dispose();
    }
  });

  it(`matches the fp64 oracle and the reference kernel on ${SWEEP_CASES}+ random problems, every config`, async () => {
    if (!supported) return;
    const configs = forwardConfigs();
    expect(configs.length).toBeGreaterThan(0);
    const f = new Failures();
    let n = 0;
    // Every compiled config once, then a mix of forced configs and the heuristic's choice.
    for (let i = 0; i < configs.length; i++, n++) await runCase(randomCase(50000 + i, configs[i]), f);
    const r = new Rng(4242);
    for (let i = 0; i < SWEEP_CASES; i++, n++) {
      await runCase(randomCase(60000 + i, r.chance(0.5) ? r.pick(configs) : undefined), f);
    }
    process.stderr.write(
      `  fused forward sweep: ${n} cases (${configs.length} configs), ${f.checks} comparisons, ` +
        `${f.list.length} failures\n`,
    );
    expect(f.list).toEqual([]);
  });
});
