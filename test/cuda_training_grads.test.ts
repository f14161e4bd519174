// The training API on a GPU: every tensor-op backward, mseLoss and the modules (dX and every parameter's
// gradient) in float32, float16 and bfloat16 against the same computation in float64 on the CPU (itself
// gradchecked in test/training_gradcheck.test.ts), within docs/design.md §8's gradient tolerances; half
// parameters' gradients are float32 on the GPU; memory() on the GPU returns to its baseline.
import * as natten from '../lib';
import type { Tensor } from '../lib';
import { GPU_DTYPES, TEST_DEVICE, TOL, type GpuDType } from './cuda_common';
import { describeGpu } from './helpers/gpu';
import { MODULE_CASES, OP_CASES, randomParams, type Inputs } from './helpers/grad_cases';

/** A float64 CPU tensor rounded to `dtype` on the device, and the float64 CPU copy of those values. */
function pair(t: Tensor, dtype: GpuDType): [Tensor, Tensor] {
  const dev = t.to({ device: TEST_DEVICE, dtype });
  return [dev, dev.to({ device: 'cpu', dtype: 'float64' })];
}

/** The gradient tensors of a backward's result by name (a single tensor is '_'). */
function gradsOf(r: Tensor | object): Map<string, Tensor> {
  if (r instanceof natten.Tensor) return new Map([['_', r]]);
  return new Map(Object.entries(r).filter((e): e is [string, Tensor] => e[1] instanceof natten.Tensor));
}

/** max |got - want| / max(1, max |want|). */
async function relError(got: Tensor, want: Tensor): Promise<number> {
  const [g, w] = await Promise.all([got.toArray(), want.toArray()]);
  let diff = 0,
    scale = 1;
  w.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(g[i] - v));
    scale = Math.max(scale, Math.abs(v));
  });
  return Number.isNaN(diff) || g.length !== w.length ? Infinity : diff / scale;
}

/** Expects every gradient of `got` within tol of `want`'s, by name; returns the worst relative error. */
async function expectClose(got: Map<string, Tensor>, want: Map<string, Tensor>, tol: number): Promise<number> {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  let worst = 0;
  for (const [name, w] of want) {
    const g = got.get(name)!;
    expect(g.shape).toEqual(w.shape);
    const e = await relError(g, w);
    if (!(e <= tol)) throw new Error(`gradient ${name}: relative error ${e} > ${tol}`);
    worst = Math.max(worst, e);
  }
  return worst;
}

describeGpu('training gradients on the GPU against float64 on the CPU', () => {
  const cases = OP_CASES.flatMap((c) => GPU_DTYPES.map((d) => [`${c.name} (${d})`, c, d] as const));
  test.each(cases)('%s', async (_n, c, dtype) => {
    const held: Tensor[] = [];
    const dev: Inputs = {},
      ref: Inputs = {};
    try {
      Object.entries(c.shapes).forEach(([name, shape], i) => {
        [dev[name], ref[name]] = pair(natten.randn(shape, { dtype: 'float64', seed: 30 + i }), dtype);
        held.push(dev[name], ref[name]);
      });
      const yRef = c.forward(ref);
      const [dOut, dOutRef] = pair(natten.randn(yRef.shape, { dtype: 'float64', seed: 7 }), dtype);
      held.push(yRef, dOut, dOutRef);
      const got = gradsOf(c.backward(dOut, dev)),
        want = gradsOf(c.backward(dOutRef, ref));
      held.push(...got.values(), ...want.values());
      for (const g of got.values()) expect([g.device, g.dtype]).toEqual([dOut.device, dtype]);
      await expectClose(got, want, TOL.grad[dtype]);
    } finally {
      held.forEach((t) => t.dispose());
    }
  });

  const modules = MODULE_CASES.flatMap((c) => GPU_DTYPES.map((d) => [`${c.name} (${d})`, c, d] as const));
  test.each(modules)('%s', async (_n, c, dtype) => {
    const cpu = c.make({ device: 'cpu', dtype: 'float64' });
    const gpu = c.make({ device: TEST_DEVICE, dtype });
    const params = randomParams(cpu, 50);
    gpu.loadStateDict(params);
    // Both modules hold the GPU dtype's rounding of the same values.
    const rounded = new Map([...gpu.stateDict()].map(([n, t]) => [n, t.to({ device: 'cpu', dtype: 'float64' })]));
    cpu.loadStateDict(rounded);
    rounded.forEach((t) => t.dispose());
    const [x, xRef] = pair(natten.randn(c.input, { dtype: 'float64', seed: 8 }), dtype);
    const yShape = natten.noGrad(() => natten.tidy(() => [...cpu.forward(xRef).shape]));
    const [dY, dYRef] = pair(natten.randn(yShape, { dtype: 'float64', seed: 9 }), dtype);
    if (c.unfused) natten.useFusedNA(false);
    try {
      gpu.forward(x).dispose();
      cpu.forward(xRef).dispose();
      const got = new Map([['x', gpu.backward(dY)]]),
        want = new Map([['x', cpu.backward(dYRef)]]);
      for (const p of gpu.parameters()) {
        expect(p.grad?.dtype).toBe('float32'); // float32 parameters, and float32 gradients of half ones
        got.set(p.name, p.grad!);
      }
      for (const p of cpu.parameters()) want.set(p.name, p.grad!);
      await expectClose(got, want, TOL.grad[dtype]);
      got.get('x')!.dispose();
      want.get('x')!.dispose();
    } finally {
      natten.useFusedNA(true);
      [x, xRef, dY, dYRef, ...Object.values(params)].forEach((t) => t.dispose());
      cpu.dispose();
      gpu.dispose();
    }
  });

  test('memory() on the GPU returns to its baseline after forward, backward and zeroGrad', async () => {
    const m = new natten.nn.NeighborhoodAttention2D({
      embedDim: 64,
      numHeads: 4,
      kernelSize: 7,
      device: TEST_DEVICE,
      dtype: 'bfloat16',
    });
    const x = natten.randn([2, 16, 16, 64], { dtype: 'bfloat16', device: TEST_DEVICE, seed: 1 });
    const dY = natten.randn([2, 16, 16, 64], { dtype: 'bfloat16', device: TEST_DEVICE, seed: 2 });
    await natten.synchronize(TEST_DEVICE);
    const key = TEST_DEVICE === 'cpu' ? 'cpu' : 'cuda:0';
    const base = natten.memory()[key];
    for (let i = 0; i < 3; i++) {
      m.forward(x).dispose();
      m.backward(dY).dispose();
    }
    m.zeroGrad();
    await natten.synchronize(TEST_DEVICE);
    expect(natten.memory()[key]).toBe(base);
    [x, dY].forEach((t) => t.dispose());
    m.dispose();
  });
});
