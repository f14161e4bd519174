// Host and device memory over long runs (reliability items 11 and 12), each in a child process so the
// measurements see only the scenario (fixtures/rss_growth.js, fixtures/forgotten_tensors.js).
import { describeGpu } from '../helpers/gpu';
import { describeExit, expectExit, report, runFixture } from './child';

describe('resident memory', () => {
  it('2000 fused forward + backward iterations with everything disposed: RSS grows by under 20 MB after warm-up', async () => {
    // [1, 32, 32, 4, 64] float32: every output and gradient is 1 MiB; kernel 3. About 10 s on 2 cores.
    const r = await runFixture('rss_growth.js', {
      args: ['2000', '200', '32', '32', '4', '64', '3'],
      nodeArgs: ['--expose-gc'],
      timeoutMs: 120000,
    });
    expectExit(r, 0);
    const res = report<{
      growthMiB: number;
      rssWarmMiB: number;
      rssEndMiB: number;
      cpuStart: number;
      cpuEnd: number;
      ms: number;
    }>(r, 'RESULT');
    if (!res) throw new Error(`no RESULT line; ${describeExit(r)}`);
    process.stderr.write(
      `  [rss] after warm-up ${res.rssWarmMiB.toFixed(1)} MiB, at the end ${res.rssEndMiB.toFixed(1)} MiB: growth ${res.growthMiB.toFixed(1)} MiB (${res.ms} ms)\n`,
    );
    expect(res.cpuEnd).toBe(res.cpuStart);
    expect(res.growthMiB * 2 ** 20).toBeLessThan(20e6);
  });

  it('300 forgotten 4 MiB tensors (never disposed, no --expose-gc): RSS grows by under 300 MB of the 1.2 GB', async () => {
    const r = await runFixture('forgotten_tensors.js', {
      args: ['cpu'],
      env: { COUNT: '300', FILL: 'zeros' },
      timeoutMs: 120000,
    });
    expectExit(r, 0);
    const res = report<{ baseRssMiB: number; peakRssMiB: number; ms: number }>(r, 'RESULT');
    if (!res) throw new Error(`no RESULT line; ${describeExit(r)}`);
    const growth = res.peakRssMiB - res.baseRssMiB;
    process.stderr.write(
      `  [forgotten tensors] RSS ${res.baseRssMiB.toFixed(1)} MiB before, peak ${res.peakRssMiB.toFixed(1)} MiB: growth ${growth.toFixed(1)} MiB (${res.ms} ms)\n`,
    );
    // Without the native sizes reported to V8 nothing is collected in time and the growth is the whole 1.2 GB.
    expect(growth * 2 ** 20).toBeLessThan(300e6);
  });
});

describeGpu('device memory', () => {
  it('forgotten CUDA tensors of 1/8 of the memory cap, 12 times: every allocation succeeds (GC and retry on OOM)', async () => {
    const r = await runFixture('forgotten_tensors.js', {
      args: ['cuda'],
      env: { NATTEN_CUDA_MEMORY_LIMIT: String(2 * 2 ** 30) },
      timeoutMs: 120000,
    });
    const res = report<{ ok: boolean }>(r, 'RESULT');
    process.stderr.write(`  [forgotten CUDA tensors] ${JSON.stringify(res)}\n`);
    expectExit(r, 0);
    expect(res?.ok).toBe(true);
  });
});
