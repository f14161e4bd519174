// The high-level fused/unfused toggle and mergeAttentions on CUDA: neighborhoodAttention2d/3d with
// useFusedNA(false) (layout permutes, scale, QK, softmax, AV on the GPU) equals the fused op and the CPU
// engine, with GQA and extra KV; mergeAttentions on CUDA equals the CPU's.
import * as natten from '../lib';
import { describeGpu } from './helpers/gpu';

async function maxDiff(a: natten.Tensor, b: natten.Tensor): Promise<number> {
  const [x, y] = await Promise.all([a.toArray(), b.toArray()]);
  expect(x.length).toBe(y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Number.isNaN(x[i] - y[i]) ? Infinity : Math.abs(x[i] - y[i]));
  return m;
}

describeGpu('unfused chain and merge on CUDA', () => {
  afterEach(() => natten.useFusedNA(true));

  it.each([
    ['float16', 2e-2],
    ['bfloat16', 6e-2],
    ['float32', 1e-4],
  ] as const)('neighborhoodAttention2d fused vs unfused chain vs CPU (%s)', async (dtype, tol) => {
    const [B, X, Y, H, Hkv, D, E] = [2, 13, 11, 4, 2, 32, 3];
    const mk = (shape: number[], seed: number) => natten.randn(shape, { seed, dtype: 'float32' });
    const cpu = {
      q: mk([B, X, Y, H, D], 1),
      k: mk([B, X, Y, Hkv, D], 2),
      v: mk([B, X, Y, Hkv, D], 3),
      ek: mk([B, E, Hkv, D], 4),
      ev: mk([B, E, Hkv, D], 5),
    };
    const gpu = Object.fromEntries(
      Object.entries(cpu).map(([n, t]) => [n, t.to({ device: 'cuda', dtype })]),
    ) as typeof cpu;
    const opts = (t: typeof cpu) => ({
      kernelSize: [5, 4],
      dilation: [2, 1],
      isCausal: [false, true],
      additionalKeys: t.ek,
      additionalValues: t.ev,
    });
    natten.useFusedNA(true);
    const fused = natten.neighborhoodAttention2d(gpu.q, gpu.k, gpu.v, opts(gpu));
    natten.useFusedNA(false);
    const chain = natten.neighborhoodAttention2d(gpu.q, gpu.k, gpu.v, opts(gpu));
    const reference = natten.neighborhoodAttention2d(cpu.q, cpu.k, cpu.v, opts(cpu));
    expect(chain.device).toBe('cuda:0');
    expect(await maxDiff(chain, reference)).toBeLessThan(tol);
    expect(await maxDiff(fused, reference)).toBeLessThan(tol);
  });

  it('neighborhoodAttention3d unfused chain on CUDA equals the CPU', async () => {
    const shape = [1, 5, 6, 7, 2, 16];
    const cpu = [1, 2, 3].map((seed) => natten.randn(shape, { seed }));
    const gpu = cpu.map((t) => t.to('cuda'));
    natten.useFusedNA(false);
    const o = { kernelSize: [3, 3, 5], stride: [1, 2, 1] };
    const a = natten.neighborhoodAttention3d(gpu[0], gpu[1], gpu[2], o);
    const b = natten.neighborhoodAttention3d(cpu[0], cpu[1], cpu[2], o);
    expect(await maxDiff(a, b)).toBeLessThan(1e-4);
  });

  it('mergeAttentions on CUDA equals the CPU', async () => {
    const [B, X, H, D] = [2, 40, 3, 24];
    const cpuParts = [1, 2, 3].map((s) =>
      natten.na1d(
        natten.randn([B, X, H, D], { seed: s }),
        natten.randn([B, X, H, D], { seed: s + 10 }),
        natten.randn([B, X, H, D], { seed: s + 20 }),
        { kernelSize: 5 + 2 * s, returnLse: true },
      ),
    );
    const gpuParts = cpuParts.map((p) => ({ output: p.output.to('cuda'), lse: p.lse.to('cuda') }));
    const c = natten.mergeAttentions(
      cpuParts.map((p) => p.output),
      cpuParts.map((p) => p.lse),
    );
    const g = natten.mergeAttentions(
      gpuParts.map((p) => p.output),
      gpuParts.map((p) => p.lse),
    );
    expect(g.output.device).toBe('cuda:0');
    expect(await maxDiff(g.output, c.output)).toBeLessThan(1e-5);
    expect(await maxDiff(g.lse, c.lse)).toBeLessThan(1e-5);
  });
});
