// CUDA tensors: round trips for every dtype and sizes from 0 to > 2^28 elements, transfers in queue
// order, out-of-memory as a coded error with the device still usable, memory accounting.
import * as natten from '../lib';
import { describeGpu } from './helpers/gpu';
import { settle } from './helpers/settle';
import { expectSameArray } from './helpers/same_array';

const GPU_DTYPES = ['float32', 'float16', 'bfloat16'] as const;

describeGpu('CUDA tensors', () => {
  it('reports device info', () => {
    const info = natten.cuda.deviceInfo(0);
    expect(info.name.length).toBeGreaterThan(0);
    expect(info.major).toBeGreaterThanOrEqual(7);
    expect(info.totalMemory).toBeGreaterThan(1e9);
    expect(natten.buildInfo().cuda).toBe(true);
  });

  it('round-trips every dtype for small and odd sizes', async () => {
    for (const dtype of GPU_DTYPES) {
      for (const n of [0, 1, 7, 1000, (1 << 20) + 3]) {
        const host = natten.randn([n], { seed: n + 1, dtype });
        const expected = await host.toArray();
        const dev = host.to('cuda');
        expect(dev.device).toBe('cuda:0');
        expectSameArray(await dev.toArray(), expected);
        expectSameArray(dev.toArraySync(), expected);
        const back = dev.to('cpu');
        expectSameArray(await back.toArray(), expected);
        // Direct upload and device-side conversion agree with the CPU's.
        const f32 = natten.tensor(expected, [n], { device: 'cuda' }).to({ dtype });
        expectSameArray(await f32.toArray(), expected);
        for (const t of [host, dev, back, f32]) t.dispose();
      }
    }
  });

  it('round-trips more than 2^28 elements in each dtype', async () => {
    const n = 2 ** 28 + 17;
    const log = (what: string, t0: number): void =>
      void process.stderr.write(`  [> 2^28] ${what}: ${(performance.now() - t0).toFixed(0)} ms\n`);
    for (const dtype of GPU_DTYPES) {
      let t0 = performance.now();
      const dev = natten.randn([n], { seed: 7, dtype, device: 'cuda' });
      const host = dev.to('cpu');
      const viaHost = host.to('cuda');
      const a = await dev.toArray();
      const b = await viaHost.toArray();
      log(`${dtype} randn + device->host->device + 2 reads`, t0);
      t0 = performance.now();
      expect(a.length).toBe(n);
      let mismatches = 0;
      for (let i = 0; i < n; i++) if (a[i] !== b[i]) mismatches++;
      expect(mismatches).toBe(0);
      // Counter-based generator: the CPU's first elements equal the device's (up to the last bit of
      // the device's fp64 log/cos, invisible after rounding to these dtypes in practice).
      const cpu = await natten.randn([1024], { seed: 7, dtype }).toArray();
      for (let i = 0; i < 1024; i++)
        expect(Math.abs(a[i] - cpu[i])).toBeLessThanOrEqual(Math.abs(cpu[i]) * 1e-2 + 1e-6);
      log(`${dtype} compare`, t0);
      for (const t of [dev, host, viaHost]) t.dispose();
    }
  });

  it('keeps queue order across devices (CPU producer -> GPU consumer -> CPU)', async () => {
    let x = natten.randn([1 << 22], { seed: 11 });
    const expected = await x.toArray();
    for (let i = 0; i < 4; i++) {
      const g = x.to('cuda').to({ dtype: 'float32' });
      x.dispose();
      x = g.to('cpu');
      g.dispose();
    }
    expectSameArray(await x.toArray(), expected);
  });

  it('an allocation larger than the card throws ERR_NATTEN_OOM and the next one works', async () => {
    const total = natten.cuda.deviceInfo(0).totalMemory;
    let err: (Error & { code?: string }) | undefined;
    try {
      natten.empty([Math.ceil((total * 2) / 4)], { device: 'cuda' });
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err).toBeInstanceOf(natten.NattenError);
    expect(err?.code).toBe('ERR_NATTEN_OOM');
    expect(err?.message).toMatch(/out of memory/);
    const ok = natten.tensor([1, 2, 3], [3], { device: 'cuda' });
    expect(Array.from(await ok.toArray())).toEqual([1, 2, 3]);
  });

  it('allocating and disposing 10^5 CUDA tensors leaves memory() where it started', async () => {
    await settle();
    const before = natten.memory()['cuda:0'];
    for (let i = 0; i < 100000; i++) natten.empty([64], { device: 'cuda', dtype: 'float16' }).dispose();
    await natten.synchronize();
    expect(natten.memory()['cuda:0']).toBe(before);
  });

  it('float64 is rejected on CUDA with a coded TypeError', () => {
    let code = '';
    try {
      natten.zeros([2], { device: 'cuda', dtype: 'float64' });
    } catch (e) {
      code = (e as { code: string }).code;
    }
    expect(code).toBe('ERR_NATTEN_INVALID_DTYPE');
  });
});
