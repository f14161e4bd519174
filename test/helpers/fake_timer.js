// A fake timing source for the autotuner (natten.internal.setAutotuneTimer), shared by the in-process tests
// (test/autotune.test.ts) and their child-process fixture: it treats the CPU device as tunable, lists fixed
// candidate configs, "times" each as a fixed function of its config, counts what it timed, runs the op
// with the fastest (the CPU engine ignores tile configs, so outputs stay checkable), and reports the times
// after `delayMs`, as a GPU's tuner thread would report them later.
'use strict';

/** Fixed identity of the fake device. */
const FAKE_IDENTITY = {
  name: 'Fake GPU',
  computeCapability: '9.0',
  multiProcessorCount: 132,
  driverVersion: 12040,
  build: 'fake-build',
};

/** Tile extents per axis of the fake candidates, cheapest by the fake cost model first. */
const TILES = [
  [64, 64],
  [128, 64],
  [64, 128],
  [32, 32],
  [128, 128],
  [16, 64],
];

/** The fake time of a config: the same config always takes the same time, and the default (first) config is
 * never the fastest; a config whose first extent is 128 wins forward, [64, 128] wins backward. */
function fakeMs(config) {
  const q = config.qTileShape[0];
  const kv = config.kvTileShape[0];
  const base = 1 + Math.abs(q - 128) / 64 + Math.abs(kv - 64) / 256;
  const dq = config.dq === 'q-parallel' ? 0.05 : 0;
  return config.kernel === 'wgmma' ? base * 0.9 : base + dq;
}

class FakeTimer {
  constructor(opts = {}) {
    this.delayMs = opts.delayMs ?? 5;
    /** Candidates whose qTileShape[0] equals this fail as out of memory. */
    this.failQ = opts.failQ;
    this.timed = 0;
    this.jobs = 0;
    this.launched = [];
  }
  tunes(device) {
    return device === 'cpu';
  }
  identity() {
    return FAKE_IDENTITY;
  }
  candidates(device, pass, problem) {
    const out = [];
    TILES.forEach(([q, kv], i) => {
      const config = { qTileShape: Array(problem.dims).fill(q), kvTileShape: Array(problem.dims).fill(kv) };
      if (pass === 'forward') out.push({ config: { kernel: i % 2 ? 'wgmma' : 'mma', ...config }, cost: i });
      else out.push({ config, cost: i });
    });
    return out;
  }
  tuneAndRun(job) {
    this.jobs++;
    this.timed += job.candidates.length;
    const errors = job.candidates.map((c) =>
      c.qTileShape[0] === this.failQ ? 'ERR_NATTEN_OOM: fake out of memory' : '',
    );
    const ms = job.candidates.map((c, i) => (errors[i] ? NaN : fakeMs(c)));
    let chosen = -1;
    ms.forEach((t, i) => {
      if (!Number.isNaN(t) && (chosen < 0 || t < ms[chosen])) chosen = i;
    });
    const config = chosen >= 0 ? job.nativeConfigs[chosen] : job.options.config;
    this.launched.push(config);
    job.launch(config);
    return new Promise((resolve) => setTimeout(() => resolve({ ms, errors, chosen }), this.delayMs));
  }
}

module.exports = { FakeTimer, fakeMs, FAKE_IDENTITY, TILES };
