// Tensors: creation, shapes, devices, dispose/tidy, memory accounting, errors with codes.
import * as natten from '../lib';
import { LagMeter } from '../dev/lag_meter';
import { gc, settle } from './helpers/settle';

function codeOf(fn: () => unknown): { name: string; code: string } {
  try {
    fn();
  } catch (e) {
    const err = e as Error & { code: string };
    return { name: err.constructor.name, code: err.code };
  }
  throw new Error('expected a throw');
}

describe('tensor creation', () => {
  it('creates from flat, nested and typed arrays with the right shape and values', async () => {
    const a = natten.tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      [2, 3],
    );
    expect(a.shape).toEqual([2, 3]);
    expect(a.numel).toBe(6);
    expect(a.dtype).toBe('float32');
    expect(a.device).toBe('cpu');
    expect(Array.from(await a.toArray())).toEqual([1, 2, 3, 4, 5, 6]);
    const b = natten.tensor(new Float32Array([1.5, -2]), [2, 1], { dtype: 'bfloat16' });
    expect(Array.from(b.toArraySync())).toEqual([1.5, -2]);
    const c = natten.tensor(new Int32Array([7, 8]));
    expect(Array.from(c.toArraySync())).toEqual([7, 8]);
  });

  it('zeros, empty and scalar/zero-size shapes', async () => {
    expect(Array.from(await natten.zeros([3, 2], { dtype: 'float16' }).toArray())).toEqual([0, 0, 0, 0, 0, 0]);
    expect(natten.empty([0, 4]).numel).toBe(0);
    expect((await natten.zeros([0]).toArray()).length).toBe(0);
    expect(natten.tensor([5], []).numel).toBe(1);
  });

  it('randn is reproducible from its seed and roughly standard normal', async () => {
    const a = await natten.randn([100000], { seed: 42 }).toArray();
    const b = await natten.randn([100000], { seed: 42 }).toArray();
    const c = await natten.randn([100000], { seed: 43 }).toArray();
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const mean = a.reduce((s, x) => s + x, 0) / a.length;
    const variance = a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.03);
    // Lower precision = the float32 values rounded.
    const h = await natten.randn([1000], { seed: 42, dtype: 'float16' }).toArray();
    const f = await natten.randn([1000], { seed: 42, dtype: 'float64' }).toArray();
    const ref = natten.tensor(f, [1000], { dtype: 'float16' }).toArraySync();
    expect(h).toEqual(ref);
  });

  it('reshape shares storage and checks the size', () => {
    const a = natten.tensor([1, 2, 3, 4, 5, 6], [6]);
    const b = a.reshape([3, 2]);
    a.dispose();
    expect(Array.from(b.toArraySync())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(codeOf(() => b.reshape([4]))).toEqual({ name: 'RangeError', code: 'ERR_NATTEN_INVALID_SHAPE' });
  });

  it('Tensor.to converts dtypes on the CPU queue', async () => {
    const a = natten.tensor([1.0009765625, 3], [2]); // 1 + 2^-10: representable in float16, not bfloat16
    expect(Array.from(await a.to({ dtype: 'float16' }).toArray())).toEqual([1.0009765625, 3]);
    expect(Array.from(await a.to({ dtype: 'bfloat16' }).toArray())).toEqual([1, 3]);
    expect(a.to('cpu').device).toBe('cpu');
  });
});

describe('errors', () => {
  it('bad shapes, dtypes, devices and data throw coded TypeError/RangeError', () => {
    expect(codeOf(() => natten.tensor([1, 2, 3], [2]))).toEqual({
      name: 'RangeError',
      code: 'ERR_NATTEN_INVALID_SHAPE',
    });
    expect(codeOf(() => natten.zeros([2, -1]))).toEqual({ name: 'RangeError', code: 'ERR_NATTEN_INVALID_SHAPE' });
    expect(codeOf(() => natten.zeros([2.5]))).toEqual({ name: 'RangeError', code: 'ERR_NATTEN_INVALID_SHAPE' });
    expect(codeOf(() => natten.zeros('3' as never))).toEqual({
      name: 'TypeError',
      code: 'ERR_NATTEN_INVALID_ARG_TYPE',
    });
    expect(codeOf(() => natten.zeros([2], { dtype: 'int8' as natten.DType }))).toEqual({
      name: 'RangeError',
      code: 'ERR_NATTEN_INVALID_DTYPE',
    });
    expect(codeOf(() => natten.zeros([2], { dtype: 5 as never }))).toEqual({
      name: 'TypeError',
      code: 'ERR_NATTEN_INVALID_ARG_TYPE',
    });
    expect(codeOf(() => natten.zeros([2], { device: 'tpu' as natten.DeviceLike }))).toEqual({
      name: 'RangeError',
      code: 'ERR_NATTEN_INVALID_DEVICE',
    });
    expect(codeOf(() => natten.zeros([2], { device: 7 as never }))).toEqual({
      name: 'TypeError',
      code: 'ERR_NATTEN_INVALID_ARG_TYPE',
    });
    expect(codeOf(() => natten.tensor(new Uint16Array(2), [2]))).toEqual({
      name: 'TypeError',
      code: 'ERR_NATTEN_INVALID_DTYPE',
    });
    expect(codeOf(() => natten.tensor('abc' as never))).toEqual({
      name: 'TypeError',
      code: 'ERR_NATTEN_INVALID_ARG_TYPE',
    });
    expect(codeOf(() => natten.tensor([1, 'x' as never]))).toEqual({
      name: 'TypeError',
      code: 'ERR_NATTEN_INVALID_ARG_TYPE',
    });
    expect(codeOf(() => natten.randn([2], { seed: -1 }))).toEqual({
      name: 'TypeError',
      code: 'ERR_NATTEN_INVALID_ARG_TYPE',
    });
    const msg = (() => {
      try {
        natten.tensor([1, 2, 3], [2]);
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })();
    expect(msg).toMatch(/shape \[2\] needs 2 elements, data has 3/);
  });

  it('a device that does not exist is a coded error', () => {
    const n = natten.cuda.deviceCount();
    const r = codeOf(() => natten.zeros([2], { device: `cuda:${n}` }));
    expect(['ERR_NATTEN_DEVICE', 'ERR_NATTEN_NO_CUDA']).toContain(r.code);
  });

  it('use after dispose throws ERR_NATTEN_DISPOSED; dispose is idempotent', async () => {
    const t = natten.randn([4]);
    t.dispose();
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expect(codeOf(() => t.toArraySync())).toEqual({ name: 'NattenError', code: 'ERR_NATTEN_DISPOSED' });
    expect(codeOf(() => t.to({ dtype: 'float16' }))).toEqual({ name: 'NattenError', code: 'ERR_NATTEN_DISPOSED' });
    expect(codeOf(() => t.reshape([2, 2]))).toEqual({ name: 'NattenError', code: 'ERR_NATTEN_DISPOSED' });
    expect(() => t.toArray()).toThrow(natten.NattenError);
  });
});

describe('lifetime and memory', () => {
  it('Symbol.dispose and tidy free what they should', async () => {
    await settle();
    const start = natten.memory().cpu;
    {
      using t = natten.zeros([1000]);
      expect(natten.memory().cpu).toBe(start + 4000);
      void t;
    }
    await natten.synchronize();
    expect(natten.memory().cpu).toBe(start);
    let kept: natten.Tensor | undefined;
    const out = natten.tidy(() => {
      natten.zeros([10]);
      const inner = natten.tidy(() => {
        natten.zeros([10]);
        return natten.zeros([3]);
      });
      kept = natten.zeros([5]);
      return { inner, list: [kept] };
    });
    await natten.synchronize();
    expect(out.inner.isDisposed).toBe(false);
    expect(kept?.isDisposed).toBe(false);
    expect(natten.memory().cpu).toBe(start + 12 + 20);
    out.inner.dispose();
    kept?.dispose();
    await natten.synchronize();
    expect(natten.memory().cpu).toBe(start);
  });

  it('allocating and disposing 10^5 tensors leaves memory() where it started', async () => {
    await settle();
    const before = natten.memory();
    for (let i = 0; i < 100000; i++) {
      const t = i % 3 === 0 ? natten.zeros([16]) : natten.empty([7, 3], { dtype: 'float16' });
      t.dispose();
    }
    await natten.synchronize();
    expect(natten.memory()).toEqual(before);
  });

  it('natten.internal.liveStorages counts storages: a view shares one, dispose frees it', async () => {
    await settle();
    const live = () => natten.internal.liveStorages('cpu');
    const before = live();
    const t = natten.empty([4, 4]);
    const view = t.reshape([16]);
    expect(live()).toBe(before + 1);
    t.dispose();
    expect(live()).toBe(before + 1); // the view still holds it
    view.dispose();
    expect(live()).toBe(before);
    expect(codeOf(() => natten.internal.liveStorages('gpu' as never))).toEqual({
      name: 'RangeError',
      code: 'ERR_NATTEN_INVALID_DEVICE',
    });
  });

  it('a forgotten tensor is freed by the finalizer once garbage collected', async () => {
    await natten.synchronize();
    const before = natten.memory().cpu;
    (() => {
      for (let i = 0; i < 100; i++) natten.zeros([100000]);
    })();
    await natten.synchronize();
    for (let i = 0; i < 20 && natten.memory().cpu !== before; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(natten.memory().cpu).toBe(before);
  });
});

describe('execution model', () => {
  it('a multi-second CPU workload delays a 10 ms interval by under 50 ms (stalls of the whole process aside)', async () => {
    // dev/lag_meter.ts: a control thread's interval runs alongside, so a busy or paused test machine
    // is not counted against the workload.
    const meter = await LagMeter.start();
    // Op-like work on the CPU queue: large conversions and random fills. One round is timed first so the
    // workload lasts a few seconds whatever the core count.
    const n = 1 << 22;
    const round = (x: natten.Tensor): natten.Tensor => {
      const y = natten.randn([n], { seed: 1 }).to({ dtype: 'float64' }).to({ dtype: 'bfloat16' });
      const z = y.to({ dtype: 'float32' });
      y.dispose();
      x.dispose();
      return z;
    };
    // Calibrate on a warm round (the first one pays for page faults and first allocations).
    let x = round(natten.zeros([1]));
    await x.toArray();
    let t0 = performance.now();
    x = round(x);
    await x.toArray();
    const perRound = performance.now() - t0;
    const rounds = Math.max(2, Math.ceil(3000 / Math.max(perRound, 1)));
    t0 = performance.now();
    for (let i = 0; i < rounds; i++) x = round(x);
    const enqueueMs = performance.now() - t0;
    // The enqueueing loop above is this test's own synchronous JavaScript (bounded below); what must not
    // stall the event loop is the work it queued, which runs from here on.
    meter.reset();
    const values = await x.toArray();
    const totalMs = performance.now() - t0;
    const lag = await meter.stop();
    x.dispose();
    expect(values.length).toBe(n);
    expect(enqueueMs).toBeLessThan(250); // ops only enqueue
    expect(totalMs).toBeGreaterThan(1000); // the workload really took seconds
    expect(lag.maxLagMs).toBeLessThan(50);
  });

  it('synchronize resolves; toArray resolves after the producing work', async () => {
    const t = natten.randn([1 << 20], { seed: 3 }).to({ dtype: 'float16' });
    await natten.synchronize('cpu');
    await natten.synchronize();
    expect((await t.toArray()).length).toBe(1 << 20);
  });
});

describe('build and device info', () => {
  it('buildInfo reports the version, CUDA and architectures', () => {
    const b = natten.buildInfo();
    expect(b.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(typeof b.cuda).toBe('boolean');
    if (b.cuda) {
      expect(b.cudaVersion).toMatch(/^\d+\.\d+/);
      expect(b.cudaArchitectures.length).toBeGreaterThan(0);
    } else {
      expect(b.cudaArchitectures).toEqual([]);
    }
    expect(b.cpuThreads).toBeGreaterThanOrEqual(1);
  });

  it('cuda queries are consistent', () => {
    expect(natten.cuda.isAvailable()).toBe(natten.cuda.deviceCount() > 0);
    if (!natten.cuda.isAvailable()) {
      expect(() => natten.cuda.deviceInfo(0)).toThrow();
    }
  });
});
