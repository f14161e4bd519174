// natten.nn.NeighborhoodAttention1D/2D/3D on the CPU against an fp64 oracle of NATTEN's module
// (qkv linear, split into heads, NA, proj; zero-padding of short axes; rpb on the scaled scores),
// fused and unfused, all dtypes; state dicts from safetensors files; bad state dicts and inputs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as natten from '../lib';
import * as o from './oracle';
import { MODULE_TOL } from './helpers/module_tolerance';
import { loadRandomParams, moduleOf, oracleParams } from './helpers/na_module_case';

type Case = o.NAModuleConfig & { spatial: number[] };
const CASES: Case[] = [
  { dims: 1, spatial: [9], C: 8, heads: 2, kernel: 3, dilation: 2, rpb: true },
  { dims: 1, spatial: [4], C: 6, heads: 3, kernel: 5, dilation: 1 }, // padded 4 -> 5
  { dims: 2, spatial: [3, 7], C: 8, heads: 2, kernel: 3, dilation: 2, rpb: true }, // padded 3 -> 6
  { dims: 2, spatial: [5, 6], C: 4, heads: 1, kernel: 4, dilation: 1, stride: 2, causal: true },
  { dims: 3, spatial: [2, 4, 3], C: 4, heads: 2, kernel: 3, dilation: 1 }, // padded 2 -> 3
];

describe('NeighborhoodAttention modules (CPU) against the fp64 oracle', () => {
  afterEach(() => natten.useFusedNA(true));
  for (const c of CASES) {
    for (const dtype of ['float64', 'float32', 'float16', 'bfloat16'] as natten.DType[]) {
      for (const fused of [true, false]) {
        it(`${c.dims}-D ${JSON.stringify(c)} ${dtype} ${fused ? 'fused' : 'unfused'}`, async () => {
          natten.setPoisonOutputs(true);
          natten.useFusedNA(fused);
          const m = moduleOf(c, dtype);
          loadRandomParams(m, 100);
          const xShape = [2, ...c.spatial, c.C];
          const x64 = natten.randn(xShape, { seed: 7, dtype: 'float64' });
          const x = x64.to({ dtype });
          const y = m.forward(x);
          expect(y.shape).toEqual(xShape);
          expect(y.dtype).toBe(dtype);
          // The oracle sees the values the module holds (rounded to dtype).
          const xo = o.tensor(Float64Array.from(await x.toArray()), xShape);
          const want = o.naModule(c, await oracleParams(m), xo);
          const got = await y.toArray();
          expect(o.maxAbsDiff(got, want.data) / Math.max(1, o.maxAbs(want.data))).toBeLessThan(MODULE_TOL[dtype]);
          [x64, x, y].forEach((t) => t.dispose());
          m.dispose();
          natten.setPoisonOutputs(false);
        });
      }
    }
  }
});

describe('state dicts', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'natten-nn-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names and shapes as NATTEN; a state dict saved with saveSafetensors loads into a fresh module', async () => {
    const c = CASES[2];
    const a = moduleOf(c, 'float32');
    expect([...a.parameterShapes]).toEqual([
      ['qkv.weight', [24, 8]],
      ['qkv.bias', [24]],
      ['rpb', [2, 5, 5]],
      ['proj.weight', [8, 8]],
      ['proj.bias', [8]],
    ]);
    const path = join(dir, 'na2d.safetensors');
    await natten.saveSafetensors(path, a.stateDict());
    const b = moduleOf(c, 'float32').loadStateDict(await natten.loadSafetensors(path));
    const x = natten.randn([1, ...c.spatial, c.C], { seed: 3 });
    const [ya, yb] = [a.forward(x), b.forward(x)];
    expect(await yb.toArray()).toEqual(await ya.toArray());
    [x, ya, yb].forEach((t) => t.dispose());
    a.dispose();
    b.dispose();
  });

  it('one error lists every missing, unexpected and mis-shaped key; strict: false ignores the first two', () => {
    const m = moduleOf(CASES[1], 'float32');
    const bad = { 'qkv.weight': natten.zeros([18, 5]), 'proj.bias': natten.zeros([6]), extra: natten.zeros([1]) };
    expect(() => m.loadStateDict(bad)).toThrow(
      /"qkv.weight" has shape \[18, 5\], the module's is \[18, 6\]; unexpected key "extra".*missing key "qkv.bias".*missing key "proj.weight"/,
    );
    expect(() => m.loadStateDict(bad, { strict: false })).toThrow(/"qkv.weight" has shape/);
    expect(() => m.loadStateDict(bad)).toThrow(expect.objectContaining({ code: 'ERR_NATTEN_STATE_DICT' }));
    const before = m.stateDict().get('proj.bias');
    m.loadStateDict({ 'proj.bias': natten.tensor([1, 2, 3, 4, 5, 6]) }, { strict: false });
    expect(m.stateDict().get('proj.bias')).not.toBe(before);
    Object.values(bad).forEach((t) => t.dispose());
    m.dispose();
  });

  it('to() moves parameters in place; train/eval set the flag', async () => {
    const m = moduleOf(CASES[0], 'float32');
    const w = Array.from(await (m.stateDict().get('qkv.weight') as natten.Tensor).toArray());
    expect(m.to('float64')).toBe(m);
    expect(m.dtype).toBe('float64');
    expect(Array.from(await (m.stateDict().get('qkv.weight') as natten.Tensor).toArray())).toEqual(w);
    expect(m.eval().training).toBe(false);
    expect(m.train().training).toBe(true);
    m.dispose();
  });

  it('rejects bad options and inputs with coded errors', () => {
    expect(() => new natten.nn.NeighborhoodAttention2D({ embedDim: 6, numHeads: 4, kernelSize: 3 })).toThrow(
      /not divisible/,
    );
    expect(
      () =>
        new natten.nn.NeighborhoodAttention1D({
          embedDim: 4,
          numHeads: 1,
          kernelSize: 3,
          isCausal: true,
          relPosBias: true,
        }),
    ).toThrow(/relPosBias/);
    const m = new natten.nn.NeighborhoodAttention2D({ embedDim: 4, numHeads: 2, kernelSize: 3 });
    const x = natten.zeros([1, 5, 5, 3]);
    expect(() => m.forward(x)).toThrow(expect.objectContaining({ code: 'ERR_NATTEN_INVALID_SHAPE' }));
    x.dispose();
    m.dispose();
  });
});
