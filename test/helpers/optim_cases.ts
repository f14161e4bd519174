/**
 * The optimizer checks both devices run (test/optim.test.ts on the CPU, test/cuda_optim.test.ts on a GPU):
 * SGD and AdamW over every option combination against the fp64 oracle (test/oracle/optim.ts) for several
 * steps, with parameters that span several kernel chunks, a parameter skipped (null grad) on one step, more
 * parameters than one CUDA launch takes, half parameters on fp32 master weights, mixed dtypes, the state dict
 * round trip through safetensors, and GradScaler's skip/growth/backoff sequences.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as natten from '../../lib';
import type { Parameter } from '../../lib/nn';
import * as oracle from '../oracle';
import * as ref from '../oracle/optim';
import { expectCoded } from './tensor_ops_cases';

/** expectCoded with the error class given by name. */
export const expectCodedSync = (fn: () => unknown, cls: string, code: string): void =>
  expectCoded(fn, { name: cls }, code);

export type OptimDtype = 'float32' | 'float16' | 'bfloat16' | 'float64';

/** Tolerances on oracle.relError of updated parameters (fp32 masters for the half types). */
const TOL: Record<OptimDtype, number> = { float64: 1e-12, float32: 1e-5, float16: 1e-5, bfloat16: 1e-5 };
/** Of the half parameter itself: its rounding of the master. */
const HALF_TOL: Record<OptimDtype, number> = { float64: 1e-12, float32: 1e-5, float16: 1e-3, bfloat16: 8e-3 };

const stateDtype = (d: OptimDtype): 'float32' | 'float64' => (d === 'float64' ? 'float64' : 'float32');
const isHalf = (d: OptimDtype): boolean => d === 'float16' || d === 'bfloat16';

/** `values` rounded to dtype (through the CPU's conversion), as float64. */
async function rounded(values: Float64Array, dtype: OptimDtype): Promise<Float64Array> {
  const t = natten.tensor(values, [values.length], { dtype });
  const r = Float64Array.from(await t.toArray());
  t.dispose();
  return r;
}

/** A parameter of random values in dtype on device, and the exact values it holds. */
export async function makeParam(
  name: string,
  shape: number[],
  seed: number,
  dtype: OptimDtype,
  device: string,
): Promise<{ p: Parameter; exact: Float64Array }> {
  const exact = await rounded(oracle.randnTensor(shape, seed).data, dtype);
  return { p: { name, value: natten.tensor(exact, shape, { dtype, device: device as 'cpu' }), grad: null }, exact };
}

/** Sets p.grad to random values (times `scale`) in the parameter's gradient dtype; returns the exact values. */
async function setGrad(p: Parameter, seed: number, scale: number): Promise<Float64Array> {
  const dt = stateDtype(p.value.dtype as OptimDtype);
  const g = await rounded(oracle.randnTensor(p.value.shape, seed, scale).data, dt);
  p.grad?.dispose();
  p.grad = natten.tensor(g, p.value.shape, { dtype: dt, device: p.value.device });
  return g;
}

async function expectClose(what: string, t: natten.Tensor, want: Float64Array, tol: number): Promise<void> {
  const err = oracle.relError(await t.toArray(), want);
  if (!(err <= tol)) throw new Error(`${what}: relError ${err.toExponential(3)} > ${tol}`);
}

/** An optimizer of either kind over params, with its oracle step. */
interface Case {
  name: string;
  make(params: Parameter[]): natten.optim.Optimizer;
  step(p: Float64Array, g: Float64Array, st: ref.ParamState): void;
}

function sgdCase(o: natten.optim.SGDOptions): Case {
  const c: ref.SgdConfig = {
    lr: o.lr,
    momentum: o.momentum ?? 0,
    dampening: o.dampening ?? 0,
    weightDecay: o.weightDecay ?? 0,
    nesterov: o.nesterov ?? false,
    maximize: o.maximize ?? false,
  };
  const step = (p: Float64Array, g: Float64Array, st: ref.ParamState) => ref.sgdStep(c, p, g, st);
  return { name: `SGD ${JSON.stringify(o)}`, make: (ps) => new natten.optim.SGD(ps, o), step };
}

function adamwCase(o: natten.optim.AdamWOptions): Case {
  const [beta1, beta2] = o.betas ?? [0.9, 0.999];
  const c: ref.AdamWConfig = { lr: o.lr ?? 1e-3, beta1, beta2, eps: o.eps ?? 1e-8, weightDecay: o.weightDecay ?? 1e-2 };
  c.amsgrad = o.amsgrad ?? false;
  c.maximize = o.maximize ?? false;
  const step = (p: Float64Array, g: Float64Array, st: ref.ParamState) => ref.adamwStep(c, p, g, st);
  return { name: `AdamW ${JSON.stringify(o)}`, make: (ps) => new natten.optim.AdamW(ps, o), step };
}

/** Every option of both optimizers, alone and combined. */
export const CASES: Case[] = [
  sgdCase({ lr: 0.1 }),
  sgdCase({ lr: 0.05, momentum: 0.9 }),
  sgdCase({ lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0.01 }),
  sgdCase({ lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.02, maximize: true }),
  sgdCase({ lr: 0.1, weightDecay: 0.1, maximize: true }),
  adamwCase({}),
  adamwCase({ lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.05 }),
  adamwCase({ lr: 0.01, amsgrad: true }),
  adamwCase({ lr: 0.02, amsgrad: true, maximize: true, weightDecay: 0 }),
];

/** Shapes of the oracle runs: tiny, 2-D, and one spanning several CPU and CUDA chunks. */
const SHAPES = [[7], [3, 5], [20001]];
/** Gradient scale per step (varying, so amsgrad's maximum changes hands). */
const GRAD_SCALE = [1, 0.1, 2, 0.5];

/** Runs `steps` steps of a case on params and the oracle (param 1 has no gradient on step 2) and checks the
 * parameters (and the master weights of half parameters) after each. */
async function checkAgainstOracle(c: Case, dtype: OptimDtype, device: string, seed: number, steps = 4): Promise<void> {
  const made = await Promise.all(SHAPES.map((s, i) => makeParam(`p${i}`, s, seed + i, dtype, device)));
  const params = made.map((m) => m.p);
  const want = made.map((m) => m.exact.slice());
  const states = made.map(() => ref.newState());
  const opt = c.make(params);
  try {
    for (let s = 0; s < steps; s++) {
      for (const [i, p] of params.entries()) {
        if (i === 1 && s === 2) {
          p.grad?.dispose();
          p.grad = null;
          continue;
        }
        const g = await setGrad(p, seed * 100 + s * 10 + i, GRAD_SCALE[s]);
        c.step(want[i], g, states[i]);
      }
      opt.step();
      for (const [i, p] of params.entries()) {
        const what = `${c.name} ${dtype} step ${s + 1} ${p.name}`;
        await expectClose(what, p.value, want[i], isHalf(dtype) ? HALF_TOL[dtype] : TOL[dtype]);
      }
    }
    if (isHalf(dtype)) await checkMasters(c.name, opt, params, want, dtype);
  } finally {
    opt.dispose();
    for (const p of params) {
      p.value.dispose();
      p.grad?.dispose();
    }
  }
}

/** The fp32 master weights match the oracle and each half parameter is exactly its master rounded. */
async function checkMasters(
  name: string,
  opt: natten.optim.Optimizer,
  params: Parameter[],
  want: Float64Array[],
  dtype: OptimDtype,
): Promise<void> {
  const sd = opt.stateDict();
  for (const [i, p] of params.entries()) {
    const master = sd.get(`state.${p.name}.master`)!;
    expect(master.dtype).toBe('float32');
    await expectClose(`${name} ${dtype} master of ${p.name}`, master, want[i], TOL[dtype]);
    const roundedMaster = master.to({ dtype });
    expect(Array.from(await p.value.toArray())).toEqual(Array.from(await roundedMaster.toArray()));
    roundedMaster.dispose();
  }
  for (const t of sd.values()) t.dispose();
}

/** Steps opt and its twin with the same gradients; their parameters must stay bitwise equal. */
async function stepTwins(
  a: Parameter[],
  b: Parameter[],
  oa: natten.optim.Optimizer,
  ob: natten.optim.Optimizer,
  seed: number,
) {
  for (let s = 0; s < 2; s++) {
    for (const [i, p] of a.entries()) {
      await setGrad(p, seed + 10 * s + i, GRAD_SCALE[s]);
      b[i].grad?.dispose();
      b[i].grad = p.grad!.to({});
    }
    oa.step();
    ob.step();
  }
  for (const [i, p] of a.entries())
    expect(Array.from(await b[i].value.toArray())).toEqual(Array.from(await p.value.toArray()));
}

function disposeAll(params: Parameter[], ...opts: natten.optim.Optimizer[]): void {
  for (const o of opts) o.dispose();
  for (const p of params) {
    p.value.dispose();
    p.grad?.dispose();
  }
}

/** Registers the optimizer tests of one device over dtypes. */
export function describeOptim(device: string, dtypes: readonly OptimDtype[]): void {
  for (const dtype of dtypes) {
    it(`${dtype}: SGD and AdamW over every option combination match the fp64 oracle step by step`, async () => {
      for (const [i, c] of CASES.entries()) await checkAgainstOracle(c, dtype, device, 1000 + 7 * i);
    });
  }

  it('more parameters than one CUDA launch takes, with empty ones, and mixed dtypes in one optimizer', async () => {
    const dts = dtypes.filter((d) => d !== 'float64');
    const made = await Promise.all(
      Array.from({ length: 31 }, (_, i) =>
        makeParam(`w${i}`, i % 10 === 9 ? [0, 3] : [1 + ((i * 37) % 50), 3], 50 + i, dts[i % dts.length], device),
      ),
    );
    const params = made.map((m) => m.p);
    const c = adamwCase({ lr: 0.01, amsgrad: true });
    const opt = c.make(params);
    const want = made.map((m) => m.exact.slice());
    const states = made.map(() => ref.newState());
    try {
      for (let s = 0; s < 2; s++) {
        for (const [i, p] of params.entries()) c.step(want[i], await setGrad(p, 900 + 31 * s + i, 1), states[i]);
        opt.step();
      }
      for (const [i, p] of params.entries()) {
        const dt = p.value.dtype as OptimDtype;
        await expectClose(`${p.name} (${dt})`, p.value, want[i], isHalf(dt) ? HALF_TOL[dt] : TOL[dt]);
      }
    } finally {
      disposeAll(params, opt);
    }
  });

  it('zeroGrad disposes the gradients; parameters without a gradient are left alone', async () => {
    const { p, exact } = await makeParam('w', [5, 4], 3, dtypes[0], device);
    const opt = new natten.optim.SGD([p], { lr: 0.1, momentum: 0.9 });
    try {
      opt.step(); // no gradient yet: nothing happens
      await setGrad(p, 4, 1);
      const g = p.grad!;
      opt.zeroGrad();
      expect(p.grad).toBeNull();
      expect(g.isDisposed).toBe(true);
      opt.step();
      expect(Array.from(await p.value.toArray())).toEqual(Array.from(exact));
      expect(opt.stateDict().has('state.w.step')).toBe(false);
    } finally {
      disposeAll([p], opt);
    }
  });

  for (const dtype of dtypes) {
    it(`${dtype}: a state dict saved with saveSafetensors and loaded into a new optimizer continues identically`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'natten-optim-'));
      const makers: [string, (ps: Parameter[], lr: number) => natten.optim.Optimizer][] = [
        ['AdamW', (ps, lr) => new natten.optim.AdamW(ps, { lr, amsgrad: true, betas: [0.85, 0.995] })],
        ['SGD', (ps, lr) => new natten.optim.SGD(ps, { lr, momentum: 0.9, nesterov: true })],
      ];
      try {
        for (const [kind, make] of makers) {
          const a = (
            await Promise.all(SHAPES.map((s, i) => makeParam(`blk.${i}.weight`, s, 70 + i, dtype, device)))
          ).map((m) => m.p);
          const oa = make(a, 0.01);
          for (let s = 0; s < 2; s++) {
            for (const [i, p] of a.entries()) await setGrad(p, 600 + 10 * s + i, GRAD_SCALE[s]);
            oa.step();
          }
          const file = path.join(dir, `${kind}.safetensors`);
          const sd = oa.stateDict();
          await natten.saveSafetensors(file, sd);
          for (const t of sd.values()) t.dispose();
          const b = a.map((p) => ({ name: p.name, value: p.value.to({}), grad: null as natten.Tensor | null }));
          const ob = make(b, 0.5);
          const loaded = await natten.loadSafetensors(file);
          await ob.loadStateDict(loaded);
          for (const t of loaded.values()) t.dispose();
          expect(ob.options).toEqual(oa.options);
          await stepTwins(a, b, oa, ob, 700);
          disposeAll([...a, ...b], oa, ob);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('GradScaler: skips steps with inf/NaN gradients, backs off, grows after growthInterval clean steps', async () => {
    const dtype = dtypes.includes('float16') ? 'float16' : dtypes[0];
    const made = await Promise.all([[9], [4, 33]].map((s, i) => makeParam(`g${i}`, s, 80 + i, dtype, device)));
    const params = made.map((m) => m.p);
    const c = sgdCase({ lr: 0.1, momentum: 0.5 });
    const opt = c.make(params);
    const want = made.map((m) => m.exact.slice());
    const states = made.map(() => ref.newState());
    const scaler = new natten.amp.GradScaler({ initScale: 1024, growthInterval: 3 });
    const twin = new ref.ScalerOracle(1024, 2, 0.5, 3);
    // Per iteration: which parameter gets a bad value, and which (inf or NaN).
    const plan: (null | [number, number])[] = [
      null,
      null,
      [1, Infinity],
      null,
      null,
      null,
      null,
      [0, NaN],
      [1, -Infinity],
      null,
    ];
    try {
      for (const [it, bad] of plan.entries()) {
        const grads: Float64Array[] = [];
        for (const [i, p] of params.entries()) {
          const g = await rounded(oracle.randnTensor(p.value.shape, 300 + 10 * it + i).data, 'float32');
          const scaled = g.map((x) => x * scaler.getScale());
          if (bad && bad[0] === i) scaled[it % scaled.length] = bad[1];
          p.grad?.dispose();
          p.grad = natten.tensor(scaled, p.value.shape, { dtype: 'float32', device: device as 'cpu' });
          grads.push(g);
        }
        const stepped = await scaler.step(opt);
        expect({ it, stepped }).toEqual({ it, stepped: bad === null });
        if (stepped) {
          for (const [i, p] of params.entries()) await expectClose(`unscaled grad ${it}`, p.grad!, grads[i], 1e-6);
          for (const [i] of params.entries()) c.step(want[i], grads[i], states[i]);
        }
        for (const [i, p] of params.entries())
          await expectClose(`param after ${it}`, p.value, want[i], HALF_TOL[dtype]);
        scaler.update();
        twin.update(bad !== null);
        expect({ it, scale: scaler.getScale(), tracker: scaler.getGrowthTracker() }).toEqual({
          it,
          scale: twin.scale,
          tracker: twin.tracker,
        });
      }
      expect(scaler.getScale()).not.toBe(1024); // the plan both grew and backed off the scale
    } finally {
      disposeAll(params, opt);
    }
  });

  it('GradScaler: scale(), unscale() then step(), call-order errors, disabled scaler', async () => {
    const { p } = await makeParam('w', [6], 5, dtypes[0], device);
    const opt = new natten.optim.SGD([p], { lr: 1 });
    const scaler = new natten.amp.GradScaler({ initScale: 8 });
    try {
      const loss = natten.tensor([1.5, -2], [2], { device: device as 'cpu' });
      expect(Array.from(await scaler.scale(loss).toArray())).toEqual([12, -16]);
      expect(scaler.scale(0.25)).toBe(2);
      await setGrad(p, 6, 8);
      const g = Float64Array.from(await p.grad!.toArray());
      scaler.unscale(opt);
      await expectClose(
        'unscaled',
        p.grad!,
        g.map((x) => x / 8),
        1e-7,
      );
      expectCodedSync(() => scaler.unscale(opt), 'NattenError', 'ERR_NATTEN_INVALID_STATE');
      const pending = scaler.step(opt);
      let early: unknown;
      try {
        scaler.update(); // before step() has finished
      } catch (e) {
        early = e;
      }
      expect(await pending).toBe(true);
      expect(early).toMatchObject({ name: 'NattenError', code: 'ERR_NATTEN_INVALID_STATE' });
      await expect(scaler.step(opt)).rejects.toMatchObject({ code: 'ERR_NATTEN_INVALID_STATE' });
      expectCodedSync(() => scaler.unscale(opt), 'NattenError', 'ERR_NATTEN_INVALID_STATE');
      scaler.update();
      expect(scaler.getGrowthTracker()).toBe(1);
      expectCodedSync(() => scaler.update(), 'NattenError', 'ERR_NATTEN_INVALID_STATE');
      scaler.update(4);
      expect(scaler.getScale()).toBe(4);

      const off = new natten.amp.GradScaler({ enabled: false });
      expect(off.scale(loss)).toBe(loss);
      const before = Float64Array.from(await p.value.toArray());
      await setGrad(p, 7, 1);
      const g2 = Float64Array.from(await p.grad!.toArray());
      expect(await off.step(opt)).toBe(true);
      off.update();
      await expectClose(
        'disabled step',
        p.value,
        before.map((x, i) => x - g2[i]),
        1e-6,
      );
      loss.dispose();
    } finally {
      disposeAll([p], opt);
    }
  });
}
