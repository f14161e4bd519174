// natten.nn.NeighborhoodAttention1D/2D/3D on CUDA against the fp64 module oracle (test/oracle/na_module.ts)
// on seeded random shapes: every dims x {plain, dilation, causal, even kernel, stride, padding (an axis
// shorter than kernel x dilation), rpb} twice, odd sizes, batch and heads > 1, float32/float16/bfloat16,
// fused and unfused (rpb: unfused), outputs poisoned with NaN. Also: modules moved to and loaded on the GPU,
// and a CPU input into a CUDA module is a coded error.
// NATTEN_CUDA_TESTS_ON=cpu runs the sweep on the CPU engine (to check the test on a machine without a GPU).
import * as natten from '../lib';
import * as o from './oracle';
import { download, Failures, GPU_DTYPES, itOnCuda, Rng, TEST_DEVICE, type GpuDType } from './cuda_common';
import { describeGpu } from './helpers/gpu';
import { MODULE_TOL } from './helpers/module_tolerance';
import { loadRandomParams, moduleOf, oracleParams } from './helpers/na_module_case';

const suite = TEST_DEVICE === 'cpu' ? describe : describeGpu;
const KINDS = ['plain', 'dilation', 'causal', 'even kernel', 'stride', 'padding', 'rpb'] as const;
type Kind = (typeof KINDS)[number];
/** 3 dims x 7 kinds, each combination twice (3 and 7 are coprime: case i has dims i % 3, kind i % 7). */
const CASES = 42;

interface ModuleCase {
  kind: Kind;
  cfg: o.NAModuleConfig;
  spatial: number[];
  batch: number;
  seed: number;
}

/** One axis of a case of `kind`: kernel, dilation, stride, causal, length. */
function axis(r: Rng, kind: Kind, dims: number, first: boolean): [number, number, number, boolean, number] {
  const odd = dims === 3 ? [3] : dims === 2 ? [3, 5] : [3, 5, 7];
  const k = kind === 'even kernel' ? r.pick(dims === 3 ? [2, 4] : [2, 4, 6]) : r.pick(odd);
  const d = kind === 'dilation' || (kind === 'rpb' && r.chance(0.5)) ? r.int(2, 3) : 1;
  const s = kind === 'stride' ? r.int(2, k) : 1;
  const causal = kind === 'causal' && (first || r.chance(0.5));
  const maxL = dims === 1 ? 31 : dims === 2 ? 11 : 7;
  let L: number;
  if (kind === 'padding' && (first || r.chance(0.5))) L = r.int(1, k * d - 1);
  else L = r.int(k * d, Math.max(k * d, maxL)) | 1; // odd sizes
  return [k, d, s, causal, L];
}

/** Case i: dims and kind from i, the rest drawn from a seeded generator. */
function moduleCase(i: number): ModuleCase {
  const r = new Rng(1700 + i);
  const dims = ((i % 3) + 1) as 1 | 2 | 3;
  const kind = KINDS[i % KINDS.length];
  const axes = Array.from({ length: dims }, (_, a) => axis(r, kind, dims, a === 0));
  const heads = r.int(2, 4);
  const cfg: o.NAModuleConfig = {
    dims,
    C: heads * r.pick([8, 12, 16, 24, 32]),
    heads,
    kernel: axes.map((x) => x[0]),
    dilation: axes.map((x) => x[1]),
    stride: axes.map((x) => x[2]),
    causal: axes.map((x) => x[3]),
    rpb: kind === 'rpb',
    scale: r.chance(0.2) ? 0.3 : undefined,
  };
  return { kind, cfg, spatial: axes.map((x) => x[4]), batch: r.int(2, 3), seed: 100 * i };
}

/** The case, dtype and path as a failure message names them. */
function tag(c: ModuleCase, dtype: GpuDType, fused: boolean): string {
  return `${c.kind} ${JSON.stringify({ ...c.cfg, spatial: c.spatial, B: c.batch })} ${dtype} ${fused ? 'fused' : 'unfused'}`;
}

/** Runs a case in one dtype on the test device, fused and unfused, each checked against the oracle. */
async function runCase(f: Failures, c: ModuleCase, dtype: GpuDType): Promise<void> {
  const paths = c.cfg.rpb ? [false] : [true, false];
  await f.run(tag(c, dtype, true), async (s) => {
    const m = moduleOf(c.cfg, dtype, TEST_DEVICE);
    try {
      loadRandomParams(m, c.seed);
      const x = await s.upload(o.randnTensor([c.batch, ...c.spatial, c.cfg.C], c.seed + 50), dtype);
      const want = o.naModule(c.cfg, await oracleParams(m), x.exact);
      for (const fused of paths) {
        natten.useFusedNA(fused);
        const y = s.keep(m.forward(x.dev));
        f.check(tag(c, dtype, fused), await download(y), want, MODULE_TOL[dtype]);
      }
    } finally {
      natten.useFusedNA(true);
      m.dispose();
    }
  });
}

suite(`NeighborhoodAttention modules (${TEST_DEVICE}) against the fp64 oracle`, () => {
  beforeAll(() => natten.setPoisonOutputs(true));
  afterAll(() => {
    natten.setPoisonOutputs(false);
    natten.useFusedNA(true);
  });

  it.each(GPU_DTYPES)(`${CASES} random cases, fused and unfused (%s)`, async (dtype) => {
    const f = new Failures();
    for (let i = 0; i < CASES; i++) await runCase(f, moduleCase(i), dtype);
    expect(f.list).toEqual([]);
    expect(f.checks).toBe(CASES * 2 - CASES / 7);
  });

  it('the sweep covers every dims x kind, padded axes, odd sizes, batch and heads > 1', () => {
    const cases = Array.from({ length: CASES }, (_, i) => moduleCase(i));
    const combos = new Set(cases.map((c) => `${c.cfg.dims} ${c.kind}`));
    expect(combos.size).toBe(3 * KINDS.length);
    const padded = (c: ModuleCase) =>
      c.spatial.some((L, a) => L < (c.cfg.kernel as number[])[a] * (c.cfg.dilation as number[])[a]);
    expect(cases.filter((c) => c.kind === 'padding').every(padded)).toBe(true);
    expect(cases.every((c) => c.batch > 1 && c.cfg.heads > 1)).toBe(true);
    expect(cases.some((c) => c.spatial.some((L) => L % 2 === 1 && L > 1))).toBe(true);
  });

  itOnCuda('a module moved to the GPU and one loaded there give the same output on the GPU', async () => {
    const cfg: o.NAModuleConfig = { dims: 2, C: 32, heads: 4, kernel: 5, dilation: 2, rpb: true };
    const a = moduleOf(cfg, 'float32');
    loadRandomParams(a, 5);
    const b = moduleOf(cfg, 'bfloat16', 'cuda').loadStateDict(a.stateDict());
    a.to('cuda').to('bfloat16');
    const x = natten.randn([2, 9, 13, 32], { seed: 6, dtype: 'bfloat16', device: 'cuda' });
    const [ya, yb] = [a.forward(x), b.forward(x)];
    expect([ya.device, yb.device]).toEqual(['cuda:0', 'cuda:0']);
    expect(o.maxAbsDiff(await ya.toArray(), await yb.toArray())).toBe(0);
    [x, ya, yb].forEach((t) => t.dispose());
    a.dispose();
    b.dispose();
  });

  itOnCuda('a CPU input into a CUDA module is ERR_NATTEN_DEVICE_MISMATCH at call time', () => {
    const m = moduleOf({ dims: 1, C: 8, heads: 2, kernel: 3, dilation: 1 }, 'float32', 'cuda');
    const x = natten.zeros([2, 7, 8]);
    expect(() => m.forward(x)).toThrow(expect.objectContaining({ code: 'ERR_NATTEN_DEVICE_MISMATCH' }));
    x.dispose();
    m.dispose();
  });
});
