// The autotuner on a real GPU (CUDA events on the device's queue; skipped without a GPU, failing under
// NATTEN_REQUIRE_GPU=1): a first call returns at once and computes the right values with the tuned config;
// reads right after it (toArraySync too) wait for the tuned op, not deadlock; the cache then serves the
// signature without tuning; natten.tune reports the best and default configs with their times; a backward
// tuned in deterministic mode stays bitwise reproducible.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as natten from '../lib';
import { native } from '../lib/native';
import * as oracle from './oracle';
import { describeGpu } from './helpers/gpu';
import { TOL } from './cuda_common';
import { describeExit, report, runFixture } from './reliability/child';

const SHAPE = [2, 24, 20, 4, 64];
const OPTS = { kernelSize: [5, 7], dilation: [1, 2] };

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'natten-cuda-autotune-'));
  process.env.NATTEN_CACHE_DIR = dir;
  delete process.env.NATTEN_AUTOTUNE_CACHE;
});
beforeEach(() => natten.internal.setAutotuneTimer());
afterEach(() => {
  natten.useAutotuner(false);
  natten.useDeterministicAlgorithms(false);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Q, K, V on the GPU (bf16) and their exact values for the oracle. */
async function inputs(seed: number) {
  const dev = [0, 1, 2].map((i) => natten.randn(SHAPE, { dtype: 'bfloat16', device: 'cuda', seed: seed + i }));
  const exact = await Promise.all(dev.map(async (t) => oracle.tensor(Float64Array.from(await t.toArray()), SHAPE)));
  return { dev, exact, dispose: () => dev.forEach((t) => t.dispose()) };
}

describeGpu('autotuner on CUDA', () => {
  // In a child first: a tuned first call and a synchronous read that never returns (the stream held for
  // ever) fails here after the timeout; in this process it would hang the whole test run.
  beforeAll(async () => {
    const r = await runFixture('autotune_gpu_probe.js', { timeoutMs: 90000 });
    const res = report<{ ok: boolean; ms: number }>(r, 'RESULT');
    if (!res) throw new Error(`a tuned first call and its synchronous read did not finish: ${describeExit(r)}`);
    expect(res.ok).toBe(true);
  }, 100000);

  it('tunes a first call off the JS thread, computes the right output, and reuses the tuning', async () => {
    natten.useAutotuner({ thorough: true });
    const x = await inputs(1);
    const naTune = jest.spyOn(native, 'naTune');
    const out = natten.na2d(x.dev[0], x.dev[1], x.dev[2], OPTS);
    expect(naTune).toHaveBeenCalledTimes(1);
    // A synchronous read right after the call waits for the tuned op (the gate is released by the tuner's
    // thread, not by the JS thread this read blocks).
    const sync = out.toArraySync();
    const want = oracle.naForward(x.exact[0], x.exact[1], x.exact[2], OPTS).output;
    expect(oracle.relError(sync, want.data)).toBeLessThan(TOL.out.bfloat16);
    const outcome = await naTune.mock.results[0].value;
    expect(outcome.chosen).toBeGreaterThanOrEqual(0);
    expect(outcome.ms.filter(Number.isFinite).length).toBeGreaterThan(1);
    await natten.autotuner.cache.flush();
    const entry = natten.autotuner.cache.list().find((e) => e.pass === 'forward')!;
    expect(entry.bestMs).toBeLessThanOrEqual(entry.defaultMs);
    const again = natten.na2d(x.dev[0], x.dev[1], x.dev[2], OPTS);
    expect(naTune).toHaveBeenCalledTimes(1);
    expect(oracle.relError(await again.toArray(), want.data)).toBeLessThan(TOL.out.bfloat16);
    naTune.mockRestore();
    for (const t of [out, again]) t.dispose();
    x.dispose();
  });

  it('natten.tune reports best and default configs and caches them for the ops', async () => {
    const progress: number[] = [];
    const spec = { spatial: [32, 32], heads: 4, headDim: 32, kernelSize: 7, isCausal: [true, false] };
    const results = await natten.tune([spec], { onProgress: (p) => progress.push(p.done) });
    expect(progress).toEqual([1, 2]);
    for (const r of results) {
      expect(r.skipped).toBe('');
      expect(r.fromCache).toBe(false);
      expect(r.best.ms).toBeLessThanOrEqual(r.default.ms);
      expect(r.candidates.map((c) => JSON.stringify(c.config))).toContain(JSON.stringify(r.default.config));
      expect(r.tuningMs).toBeGreaterThan(0);
    }
    // Thorough mode times every forward family the device runs: on compute capability 9.0 the
    // warp-specialised 'wgmma-ws' too (no family is forced-only: FORCED_ONLY_FORWARD_KERNELS is empty).
    const [hopperFwd] = await natten.tune(
      [{ spatial: [256], heads: 2, headDim: 128, kernelSize: 65, passes: ['forward'] }],
      { thorough: true },
    );
    const cc = natten.cuda.deviceInfo(0);
    expect(hopperFwd.candidates.some((c) => c.config.kernel === 'wgmma-ws')).toBe(cc.major === 9 && cc.minor === 0);
    const cached = await natten.tune([spec]);
    expect(cached.every((r) => r.fromCache)).toBe(true);
    // A second process (another tuner here: the cache re-read from the folder) finds them on disk.
    natten.internal.setAutotuneTimer();
    expect((await natten.tune([spec])).every((r) => r.fromCache)).toBe(true);
  });

  it('a backward tuned in deterministic mode computes the same bits every run', async () => {
    natten.useAutotuner();
    natten.useDeterministicAlgorithms(true);
    const x = await inputs(7);
    const { output, lse } = natten.na2d(x.dev[0], x.dev[1], x.dev[2], { ...OPTS, returnLse: true });
    const grads = [0, 1].map(() => natten.na2dBackward(output, x.dev[0], x.dev[1], x.dev[2], output, lse, OPTS));
    const [a, b] = await Promise.all(grads.map((g) => g.dq.toArray()));
    expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer))).toBe(0);
    await natten.autotuner.cache.flush();
    const bwd = natten.autotuner.cache.list().find((e) => e.pass === 'backward' && e.key.includes(' det '))!;
    expect(bwd.candidates.every((c) => c.config.dq === 'q-parallel')).toBe(true);
    for (const g of grads) for (const t of [g.dq, g.dk, g.dv]) t.dispose();
    for (const t of [output, lse]) t.dispose();
    x.dispose();
  });
});
