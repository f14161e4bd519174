// The training API in float64 on the CPU: gradcheck passes for every tensor-op backward, mseLoss, and the
// modules (dX and every parameter: NeighborhoodAttention1D/2D/3D fused and unfused, Linear, LayerNorm, the
// example NAT block); gradients accumulate over backwards and are float32 for half parameters; a backward
// after eval() or inside noGrad() is ERR_NATTEN_NO_SAVED_FORWARD; memory() returns to its baseline.
import * as natten from '../lib';
import type { Tensor } from '../lib';
import { MODULE_CASES, OP_CASES, moduleOp, randomParams, type Inputs } from './helpers/grad_cases';

const inputsFor = (shapes: Record<string, number[]>, seed: number): Inputs =>
  Object.fromEntries(
    Object.entries(shapes).map(([n, s], i) => [n, natten.randn(s, { dtype: 'float64', seed: seed + i })]),
  );
const disposeAll = (i: Inputs): void => Object.values(i).forEach((t) => t.dispose());

describe('gradcheck of the tensor-op backwards (float64, CPU)', () => {
  test.each(OP_CASES.map((c) => [c.name, c]))('%s', async (_n, c) => {
    const inputs = inputsFor(c.shapes, 10);
    await expect(natten.gradcheck(c, inputs)).resolves.toBe(true);
    disposeAll(inputs);
  });

  test('a wrong gradient fails (the cases can fail): linear with dWeight doubled', async () => {
    const c = OP_CASES[0];
    const inputs = inputsFor(c.shapes, 10);
    const wrong = {
      forward: c.forward,
      backward: (d: Tensor, i: Inputs) => {
        const g = natten.linearBackward(d, i.x, i.weight, i.bias);
        return { ...g, dWeight: natten.mul(g.dWeight, 2) };
      },
    };
    await expect(natten.gradcheck(wrong, inputs)).rejects.toMatchObject({ code: 'ERR_NATTEN_GRADCHECK' });
    disposeAll(inputs);
  });
});

describe('gradcheck of the modules (dX and every parameter, float64, CPU)', () => {
  test.each(MODULE_CASES.map((c) => [c.name, c]))('%s', async (_n, c) => {
    const m = c.make({ device: 'cpu', dtype: 'float64' });
    const inputs: Inputs = { x: natten.randn(c.input, { dtype: 'float64', seed: 3 }), ...randomParams(m, 20) };
    if (c.unfused) natten.useFusedNA(false);
    try {
      await expect(natten.gradcheck(moduleOp(m), inputs, { atol: 1e-7 })).resolves.toBe(true);
    } finally {
      natten.useFusedNA(true);
    }
    expect(new Set([...m.parameters()].map((p) => p.name))).toEqual(new Set([...m.parameterShapes.keys()]));
    disposeAll(inputs);
    m.dispose();
  });
});

describe('module gradient semantics', () => {
  const make = (dtype: natten.DType = 'float32'): natten.nn.NeighborhoodAttention2D =>
    new natten.nn.NeighborhoodAttention2D({ embedDim: 8, numHeads: 2, kernelSize: 3, dtype });

  test('gradients accumulate over backwards until zeroGrad frees them', async () => {
    const m = make();
    const x = natten.randn([1, 5, 5, 8], { seed: 1 }),
      dY = natten.randn([1, 5, 5, 8], { seed: 2 });
    expect([...m.parameters()].every((p) => p.grad === null)).toBe(true);
    m.forward(x).dispose();
    m.backward(dY).dispose();
    const once = new Map<string, Float32Array>();
    for (const p of m.parameters()) once.set(p.name, (await p.grad!.toArray()) as Float32Array);
    m.forward(x).dispose();
    m.backward(dY).dispose();
    for (const p of m.parameters()) {
      const twice = await p.grad!.toArray();
      const want = once.get(p.name)!;
      let worst = 0;
      want.forEach((v, i) => (worst = Math.max(worst, Math.abs(twice[i] - 2 * v) / Math.max(1, Math.abs(2 * v)))));
      expect(worst).toBeLessThan(1e-5);
      expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(0);
    }
    m.zeroGrad();
    expect([...m.parameters()].every((p) => p.grad === null)).toBe(true);
    [x, dY].forEach((t) => t.dispose());
    m.dispose();
  });

  test('half-precision parameters get float32 gradients on their device', () => {
    const m = make('bfloat16');
    const x = natten.randn([1, 4, 4, 8], { dtype: 'bfloat16', seed: 1 });
    m.forward(x).dispose();
    const dY = natten.randn([1, 4, 4, 8], { dtype: 'bfloat16', seed: 2 });
    const dx = m.backward(dY);
    expect(dx.dtype).toBe('bfloat16');
    for (const p of m.parameters()) {
      expect(p.grad?.dtype).toBe('float32');
      expect(p.grad?.device).toBe('cpu');
      expect(p.grad?.shape).toEqual(p.value.shape);
    }
    [x, dY, dx].forEach((t) => t.dispose());
    m.dispose();
  });

  test('backward after eval(), inside noGrad, twice, or without forward throws ERR_NATTEN_NO_SAVED_FORWARD', () => {
    const m = make();
    const x = natten.randn([1, 4, 4, 8], { seed: 1 }),
      dY = natten.randn([1, 4, 4, 8], { seed: 2 });
    const code = { code: 'ERR_NATTEN_NO_SAVED_FORWARD', name: 'NattenError' };
    expect(() => m.backward(dY)).toThrow(
      expect.objectContaining({ ...code, message: expect.stringMatching(/no forward/) }),
    );
    m.eval();
    m.forward(x).dispose();
    expect(() => m.backward(dY)).toThrow(
      expect.objectContaining({ ...code, message: expect.stringMatching(/eval\(\)/) }),
    );
    m.train();
    natten.noGrad(() => m.forward(x)).dispose();
    expect(natten.isGradEnabled()).toBe(true);
    expect(() => m.backward(dY)).toThrow(
      expect.objectContaining({ ...code, message: expect.stringMatching(/noGrad/) }),
    );
    m.forward(x).dispose();
    m.backward(dY).dispose();
    expect(() => m.backward(dY)).toThrow(expect.objectContaining(code));
    [x, dY].forEach((t) => t.dispose());
    m.dispose();
  });

  test('memory() returns to its baseline after backward, after zeroGrad, and with a forward kept inside tidy', async () => {
    const x = natten.randn([2, 6, 6, 8], { seed: 1 }),
      dY = natten.randn([2, 6, 6, 8], { seed: 2 });
    await natten.synchronize();
    const base = natten.memory().cpu;
    const m = make();
    await natten.synchronize(); // the initialisation's temporaries are released once their ops ran
    const withParams = natten.memory().cpu;
    const y = natten.tidy(() => m.forward(x));
    y.dispose();
    expect(natten.memory().cpu).toBeGreaterThan(withParams); // the forward's saved tensors
    const dx = m.backward(dY); // works although the forward ran inside tidy
    dx.dispose();
    m.zeroGrad();
    await natten.synchronize();
    expect(natten.memory().cpu).toBe(withParams);
    m.forward(x).dispose();
    m.zeroGrad(); // frees the forward's saved tensors without a backward
    await natten.synchronize();
    expect(natten.memory().cpu).toBe(withParams);
    m.dispose();
    expect(natten.memory().cpu).toBe(base);
    [x, dY].forEach((t) => t.dispose());
  });
});
