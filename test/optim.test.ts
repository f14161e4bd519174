// Optimizers and GradScaler on the CPU engine against the fp64 oracle in all four dtypes
// (test/helpers/optim_cases.ts), plus the option checks and the state-dict errors (device independent),
// and the addon's own bounds checks of the step.
import * as natten from '../lib';
import { native } from '../lib/native';
import type { Parameter } from '../lib/nn';
import { describeOptim, expectCodedSync, makeParam } from './helpers/optim_cases';

describe('optimizers (CPU)', () => {
  describeOptim('cpu', ['float32', 'float16', 'bfloat16', 'float64']);
});

/** Expects a rejected promise with an error of class name `cls` and `code`. */
async function expectRejects(p: Promise<unknown>, cls: string, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ name: cls, code });
}

async function params2(dtype: 'float32' | 'float16' | 'float64' = 'float32'): Promise<Parameter[]> {
  return [(await makeParam('a.weight', [3, 4], 1, dtype, 'cpu')).p, (await makeParam('b', [5], 2, dtype, 'cpu')).p];
}

describe('optimizer and GradScaler errors', () => {
  it('bad options are coded errors at construction', async () => {
    const ps = await params2();
    const SGD = natten.optim.SGD,
      AdamW = natten.optim.AdamW;
    const bad: [() => unknown, string, string][] = [
      [() => new SGD(ps, {} as natten.optim.SGDOptions), 'TypeError', 'ERR_NATTEN_INVALID_ARG_TYPE'],
      [() => new SGD(ps, { lr: -1 }), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE'],
      [() => new SGD(ps, { lr: NaN }), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE'],
      [() => new SGD(ps, { lr: '0.1' as unknown as number }), 'TypeError', 'ERR_NATTEN_INVALID_ARG_TYPE'],
      [() => new SGD(ps, { lr: 0.1, momentum: -0.5 }), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE'],
      [() => new SGD(ps, { lr: 0.1, weightDecay: -1 }), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE'],
      [() => new SGD(ps, { lr: 0.1, nesterov: true }), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE'],
      [
        () => new SGD(ps, { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }),
        'RangeError',
        'ERR_NATTEN_INVALID_ARG_VALUE',
      ],
      [() => new SGD(ps, { lr: 0.1, foo: 1 } as natten.optim.SGDOptions), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE'],
      [() => new AdamW(ps, { betas: [1, 0.9] }), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE'],
      [() => new AdamW(ps, { betas: [0.9, -0.1] }), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE'],
      [
        () => new AdamW(ps, { betas: [0.9] as unknown as [number, number] }),
        'TypeError',
        'ERR_NATTEN_INVALID_ARG_TYPE',
      ],
      [() => new AdamW(ps, { eps: -1 }), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE'],
      [() => new AdamW(ps, { weightDecay: -0.1 }), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE'],
      [() => new AdamW(ps, { amsgrad: 1 as unknown as boolean }), 'TypeError', 'ERR_NATTEN_INVALID_ARG_TYPE'],
      [() => new AdamW([]), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE'],
      [() => new AdamW(5 as unknown as Parameter[]), 'TypeError', 'ERR_NATTEN_INVALID_ARG_TYPE'],
      [() => new AdamW([{ name: 'x', value: 3 } as unknown as Parameter]), 'TypeError', 'ERR_NATTEN_INVALID_ARG_TYPE'],
      [() => new AdamW([ps[0], { ...ps[1], name: ps[0].name }]), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE'],
      [() => (new AdamW(ps).lr = -1), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE'],
      [() => new natten.amp.GradScaler({ initScale: 0 }), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE'],
      [() => new natten.amp.GradScaler({ growthFactor: 1 }), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE'],
      [() => new natten.amp.GradScaler({ backoffFactor: 1 }), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE'],
      [() => new natten.amp.GradScaler({ growthInterval: 2.5 }), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE'],
      [
        () => new natten.amp.GradScaler({ enabled: 'yes' as unknown as boolean }),
        'TypeError',
        'ERR_NATTEN_INVALID_ARG_TYPE',
      ],
      [() => new natten.amp.GradScaler().scale('x' as unknown as number), 'TypeError', 'ERR_NATTEN_INVALID_ARG_TYPE'],
    ];
    for (const [i, [fn, cls, code]] of bad.entries()) {
      let thrown: unknown;
      try {
        fn();
      } catch (e) {
        thrown = e;
      }
      expect({ i, name: (thrown as Error)?.name, code: (thrown as { code?: string })?.code }).toEqual({
        i,
        name: cls,
        code,
      });
    }
    const opt = new AdamW(ps, { lr: 0.5 });
    opt.lr = 0.25;
    expect(opt.options).toEqual({
      lr: 0.25,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0.01,
      amsgrad: false,
      maximize: false,
    });
  });

  it('a bad gradient is a coded error at step() and changes no parameter', async () => {
    const ps = await params2();
    const before = Array.from(await ps[0].value.toArray());
    const opt = new natten.optim.SGD(ps, { lr: 1 });
    ps[0].grad = natten.randn([3, 4], { seed: 1 });
    const cases: [natten.Tensor, string, string][] = [
      [natten.randn([4]), 'RangeError', 'ERR_NATTEN_INVALID_SHAPE'],
      [natten.randn([5], { dtype: 'float16' }), 'TypeError', 'ERR_NATTEN_DTYPE_MISMATCH'],
      [natten.randn([5], { dtype: 'float64' }), 'TypeError', 'ERR_NATTEN_DTYPE_MISMATCH'],
    ];
    for (const [g, cls, code] of cases) {
      ps[1].grad = g;
      expectCodedSync(() => opt.step(), cls, code);
    }
    const gone = natten.randn([5]);
    gone.dispose();
    ps[1].grad = gone;
    expectCodedSync(() => opt.step(), 'NattenError', 'ERR_NATTEN_DISPOSED');
    expect(Array.from(await ps[0].value.toArray())).toEqual(before);
    // A parameter converted after its state was made.
    ps[1].grad = natten.randn([5]);
    opt.step();
    ps[1].value = ps[1].value.to({ dtype: 'float64' });
    ps[1].grad = natten.randn([5], { dtype: 'float64' });
    expectCodedSync(() => opt.step(), 'TypeError', 'ERR_NATTEN_DTYPE_MISMATCH');
  });

  it('half parameters take float32 gradients; float64 parameters float64 ones', async () => {
    const [h] = await params2('float16');
    const [, d] = await params2('float64');
    const opt = new natten.optim.AdamW([h, d]);
    h.grad = natten.randn([3, 4], { dtype: 'float16' });
    expectCodedSync(() => opt.step(), 'TypeError', 'ERR_NATTEN_DTYPE_MISMATCH');
    h.grad = natten.randn([3, 4]);
    d.grad = natten.randn([5], { dtype: 'float64' });
    opt.step();
    const sd = opt.stateDict();
    const dtypes = ['state.a.weight.master', 'state.a.weight.exp_avg', 'state.b.exp_avg'].map((k) => sd.get(k)?.dtype);
    expect(dtypes).toEqual(['float32', 'float32', 'float64']);
    expect(sd.has('state.b.master')).toBe(false);
  });

  it('state tensors made inside natten.tidy outlive it', async () => {
    const ps = await params2();
    const opt = new natten.optim.AdamW(ps, { amsgrad: true });
    natten.tidy(() => {
      ps[0].grad = natten.randn([3, 4], { seed: 3 });
      opt.step();
    });
    ps[0].grad = natten.randn([3, 4], { seed: 4 });
    opt.step();
    const sd = opt.stateDict();
    expect(Array.from(await sd.get('state.a.weight.step')!.toArray())).toEqual([2]);
    expect((await sd.get('state.a.weight.exp_avg_sq')!.toArray()).every((x) => x > 0)).toBe(true);
  });

  it('loadStateDict: missing, unexpected and mis-shaped keys throw at once, listed; bad values reject', async () => {
    const ps = await params2();
    const src = new natten.optim.AdamW(ps, { amsgrad: true });
    for (const p of ps) p.grad = natten.randn(p.value.shape, { seed: 9 });
    src.step();
    const good = src.stateDict();
    const dst = new natten.optim.AdamW(ps);
    const broken = new Map(good);
    broken.delete('hyper.eps');
    broken.set('state.nope.exp_avg', natten.zeros([1]));
    broken.set('state.b.exp_avg', natten.zeros([4]));
    let thrown: unknown;
    try {
      void dst.loadStateDict(broken);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({ name: 'RangeError', code: 'ERR_NATTEN_STATE_DICT' });
    const msg = (thrown as Error).message;
    for (const part of [
      'missing key hyper.eps',
      'unexpected key state.nope.exp_avg',
      'state.b.exp_avg is [4], expected [5]',
    ])
      expect(msg).toContain(part);

    const badLr = new Map(good).set('hyper.lr', natten.tensor([-1], [], { dtype: 'float64' }));
    await expectRejects(dst.loadStateDict(badLr), 'RangeError', 'ERR_NATTEN_INVALID_ARG_VALUE');
    const noMax = new Map(good);
    noMax.delete('state.b.max_exp_avg_sq');
    await expectRejects(dst.loadStateDict(noMax), 'RangeError', 'ERR_NATTEN_STATE_DICT');
    expect(dst.options.amsgrad).toBe(false); // nothing changed
    const pending = dst.loadStateDict(good);
    expectCodedSync(() => dst.step(), 'NattenError', 'ERR_NATTEN_INVALID_STATE');
    await pending;
    expect(dst.options).toEqual(src.options);
  });

  it('the addon refuses buffers smaller than a step touches and half steps without master weights', () => {
    const small = natten.zeros([4]),
      big = natten.zeros([64]);
    const hyper = {
      kind: 1 as const,
      lr: 1,
      weightDecay: 0,
      maximize: false,
      momentum: 0,
      dampening: 0,
      nesterov: false,
    };
    const step = { ...hyper, beta1: 0.9, beta2: 0.99, eps: 1e-8, amsgrad: false };
    const t = { numel: 64, param: big.handle(), grad: big.handle(), state0: big.handle(), state1: small.handle() };
    const fields = { first: true, stepSize: 1, biasCorrection2Sqrt: 1 };
    expectCodedSync(
      () => native.optimStep({ dtype: 0, ...step, tensors: [{ ...t, ...fields }] }),
      'RangeError',
      'ERR_NATTEN_INVALID_SHAPE',
    );
    const half = natten.zeros([64], { dtype: 'float16' });
    const t2 = { ...t, param: half.handle(), state1: big.handle(), ...fields };
    expectCodedSync(
      () => native.optimStep({ dtype: 1, ...step, tensors: [t2] }),
      'TypeError',
      'ERR_NATTEN_INVALID_ARG_TYPE',
    );
    const flag = natten.zeros([1]);
    expectCodedSync(
      () =>
        native.unscaleGrads({ dtype: 1, grads: [half.handle()], numels: [64], invScale: 1, foundInf: flag.handle() }),
      'RangeError',
      'ERR_NATTEN_INVALID_DTYPE',
    );
    expectCodedSync(
      () =>
        native.unscaleGrads({ dtype: 0, grads: [small.handle()], numels: [64], invScale: 1, foundInf: flag.handle() }),
      'RangeError',
      'ERR_NATTEN_INVALID_SHAPE',
    );
  });
});
