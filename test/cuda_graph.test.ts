// natten.captureGraph on a GPU: a module forward captured once and replayed gives bitwise the eager forward's
// output, for the input it was captured with and for new inputs copied in; the outputs outlive the graph's
// user handles; a function that throws, reads back or nests a capture leaves a coded error and a usable
// device; the autotuner does not tune inside a capture. CPU-side argument checks: test/cuda_graph_args.test.ts.
import * as natten from '../lib';
import { describeGpu } from './helpers/gpu';

const opts = { device: 'cuda' as const, dtype: 'bfloat16' as const };

function layer(): natten.nn.NeighborhoodAttention2D {
  return new natten.nn.NeighborhoodAttention2D({ embedDim: 64, numHeads: 4, kernelSize: 5, ...opts }).eval();
}

describeGpu('CUDA graphs', () => {
  it('a captured module forward replays bitwise like the eager forward, on new inputs copied in', async () => {
    const m = layer();
    const xs = natten.randn([2, 13, 11, 64], { ...opts, seed: 1 });
    const warm = m.forward(xs); // warm-up: GEMM plans, kernels loaded
    const want1 = await warm.toArray();
    warm.dispose();
    const { graph, output } = natten.captureGraph('cuda', () => m.forward(xs));
    graph.replay();
    expect(await output.toArray()).toEqual(want1);
    for (const seed of [2, 3]) {
      const x = natten.randn([2, 13, 11, 64], { ...opts, seed });
      const want = await m.forward(x).toArray();
      natten.copyInto(xs, x);
      graph.replay();
      expect(await output.toArray()).toEqual(want);
      x.dispose();
    }
    // The graph keeps its output's memory: the caller's handle may go first.
    output.dispose();
    graph.replay();
    await natten.synchronize('cuda');
    graph.dispose();
    expect(graph.isDisposed).toBe(true);
    expect(() => graph.replay()).toThrow(expect.objectContaining({ code: 'ERR_NATTEN_DISPOSED' }));
    m.dispose();
    xs.dispose();
  });

  it('a function that throws discards the capture; the device stays usable', async () => {
    const m = layer();
    const xs = natten.randn([1, 7, 7, 64], { ...opts, seed: 4 });
    m.forward(xs).dispose();
    expect(() =>
      natten.captureGraph('cuda', () => {
        m.forward(xs);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    const y = m.forward(xs);
    expect((await y.toArray()).every(Number.isFinite)).toBe(true);
    y.dispose();
    m.dispose();
    xs.dispose();
  });

  it('reading back inside a capture and nesting captures are ERR_NATTEN_GRAPH-or-coded errors, never a hang', async () => {
    const x = natten.randn([64], { ...opts, seed: 5 });
    let thrown: unknown;
    try {
      natten.captureGraph('cuda', () => {
        natten.mul(x, 2).toArraySync();
      });
    } catch (e) {
      thrown = e;
    }
    expect((thrown as { code?: string }).code).toMatch(/^ERR_NATTEN_/);
    expect(() =>
      natten.captureGraph('cuda', () => {
        natten.captureGraph('cuda', () => natten.mul(x, 2));
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_NATTEN_GRAPH' }));
    // The device works after both.
    expect(Array.from(await natten.mul(x, 2).toArray())).toEqual(Array.from(await x.toArray()).map((v) => v * 2));
    x.dispose();
  });

  it('the autotuner does not tune inside a capture', async () => {
    natten.useAutotuner({ forward: true, backward: false });
    try {
      const q = natten.randn([1, 16, 16, 2, 32], { ...opts, seed: 6 });
      const before = natten.autotuner.cache.list().length;
      const { graph, output } = natten.captureGraph('cuda', () => natten.na2d(q, q, q, { kernelSize: [5, 5] }));
      graph.replay();
      expect(natten.autotuner.cache.list().length).toBe(before);
      expect((await output.toArray()).every(Number.isFinite)).toBe(true);
      graph.dispose();
      q.dispose();
    } finally {
      natten.useAutotuner(false);
    }
  });
});
