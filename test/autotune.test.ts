// The autotuner without a GPU: a fake timer (test/helpers/fake_timer.js) makes the CPU device tunable, with
// fixed candidates and times, so the switch, the candidates' pruning, the signature, one tuning per
// signature, the cache (memory, files, list/export/import/clear) and its failure modes (a corrupt, foreign or
// unwritable cache) run here; a second process and two processes at once run as child processes. What the
// ops compute while tuning is checked against the fp64 oracle.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as natten from '../lib';
import { native } from '../lib/native';
import { batchHeadsBucket, signatureOf } from '../lib/autotuner/signature';
import * as oracle from './oracle';
import { runFixture } from './reliability/child';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { FakeTimer, fakeMs, FAKE_IDENTITY } = require('./helpers/fake_timer.js');

type Fake = {
  timed: number;
  jobs: number;
  launched: natten.TuneJob['nativeConfigs'];
};

const tmpDirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'natten-autotune-'));
  tmpDirs.push(d);
  return d;
}

/** A fresh autotuner with a fake timer and the cache folder `dir` (null: NATTEN_AUTOTUNE_CACHE=0). */
function freshTuner(dir: string | null, opts: { delayMs?: number; failQ?: number } = {}): Fake {
  if (dir === null) process.env.NATTEN_AUTOTUNE_CACHE = '0';
  else {
    delete process.env.NATTEN_AUTOTUNE_CACHE;
    process.env.NATTEN_CACHE_DIR = dir;
  }
  const fake = new FakeTimer(opts) as Fake;
  natten.internal.setAutotuneTimer(fake as unknown as natten.AutotuneTimer);
  return fake;
}

/** Collects the NattenWarnings with the autotuner cache's code that `body` emits. */
async function cacheWarnings(body: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const spy = jest.spyOn(process, 'emitWarning').mockImplementation(((msg: string, opts?: { code?: string }) => {
    if (opts?.code === 'NATTEN_AUTOTUNE_CACHE') seen.push(msg);
  }) as typeof process.emitWarning);
  try {
    await body();
  } finally {
    spy.mockRestore();
  }
  return seen;
}

const SHAPE = [1, 9, 8, 2, 8];
const KERNEL = 3;

/** A 2-D forward and backward on the CPU; checks both against the oracle; returns nothing. */
async function checkedOps(seed = 1): Promise<void> {
  const data = [0, 1, 2].map((i) => oracle.randnTensor(SHAPE, seed + i));
  const [q, k, v] = data.map((t) => natten.tensor(t.data, t.shape, { dtype: 'float64' }));
  const dOutO = oracle.randnTensor(SHAPE, seed + 7);
  const dOut = natten.tensor(dOutO.data, SHAPE, { dtype: 'float64' });
  const { output, lse } = natten.na2d(q, k, v, { kernelSize: KERNEL, returnLse: true });
  const { dq } = natten.na2dBackward(dOut, q, k, v, output, lse, { kernelSize: KERNEL });
  const want = oracle.naForward(data[0], data[1], data[2], { kernelSize: KERNEL });
  const wantGrad = oracle.naBackward(dOutO, data[0], data[1], data[2], want.output, want.lse, { kernelSize: KERNEL });
  const got = await output.toArray();
  const gotDq = await dq.toArray();
  expect(oracle.relError(got, want.output.data)).toBeLessThan(1e-6);
  expect(oracle.relError(gotDq, wantGrad.dq.data)).toBeLessThan(1e-6);
  for (const t of [q, k, v, dOut, output, lse, dq]) t.dispose();
}

/** Waits for the fake timer's reports and the cache writes they trigger. */
async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 30));
  await natten.autotuner.cache.flush();
}

const cacheFiles = (dir: string): string[] => fs.readdirSync(dir).filter((n) => n.endsWith('.json'));

beforeEach(() => natten.useAutotuner());
afterEach(() => {
  natten.useAutotuner(false);
  natten.useDeterministicAlgorithms(false);
  natten.internal.setAutotuneTimer();
});
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
  delete process.env.NATTEN_CACHE_DIR;
  delete process.env.NATTEN_AUTOTUNE_CACHE;
});

describe('useAutotuner', () => {
  it('is off by default, switches on and off, validates its options', () => {
    natten.useAutotuner(false);
    expect(natten.isAutotunerEnabled()).toBe(false);
    natten.useAutotuner({ steps: 3, thorough: true });
    expect(natten.isAutotunerEnabled()).toBe(true);
    expect(() => natten.useAutotuner({ steps: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_NATTEN_INVALID_ARG_VALUE' }),
    );
    expect(() => natten.useAutotuner({ warmup: 1 } as never)).toThrow(/unknown option "warmup"/);
    expect(() => natten.useAutotuner({ forward: 1 } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_NATTEN_INVALID_ARG_TYPE' }),
    );
  });

  it('while off, nothing is tuned', async () => {
    const fake = freshTuner(tmpDir());
    natten.useAutotuner(false);
    await checkedOps();
    expect(fake.timed).toBe(0);
  });
});

describe('signature', () => {
  const problem = { dims: 2, batch: 2, heads: 4, headsKv: 2, headDim: 32, length: [16, 16], kernel: [5, 5] };
  it('buckets batch x heads above 32 to a power of two and keeps small products exact', () => {
    expect([1, 7, 32, 33, 64, 65, 200].map((bh) => batchHeadsBucket(bh, 1))).toEqual([1, 7, 32, 64, 64, 128, 256]);
    const sig = (p: Partial<typeof problem> & Record<string, unknown>, cfg = {}) =>
      signatureOf('forward', { ...problem, ...p } as never, 'bfloat16', cfg);
    expect(sig({ batch: 10, heads: 4 })).toBe(sig({ batch: 16, heads: 4 })); // 40 and 64: one bucket
    expect(sig({ batch: 3 })).not.toBe(sig({ batch: 4 })); // 12 and 16: exact
  });
  it('tells apart what changes the candidates or their speed', () => {
    const base = signatureOf('forward', problem, 'bfloat16', {});
    const variants = [
      signatureOf('forward', { ...problem, length: [16, 17] }, 'bfloat16', {}),
      signatureOf('forward', { ...problem, kernel: [5, 7] }, 'bfloat16', {}),
      signatureOf('forward', { ...problem, dilation: [1, 2] }, 'bfloat16', {}),
      signatureOf('forward', { ...problem, stride: [2, 1] }, 'bfloat16', {}),
      signatureOf('forward', { ...problem, causal: [true, false] }, 'bfloat16', {}),
      signatureOf('forward', { ...problem, headsKv: 4 }, 'bfloat16', {}),
      signatureOf('forward', { ...problem, headDimV: 64 }, 'bfloat16', {}),
      signatureOf('forward', { ...problem, nExtra: 3 } as never, 'bfloat16', {}),
      signatureOf('forward', problem, 'float16', {}),
      signatureOf('backward', problem, 'bfloat16', {}),
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
    const bwd = (cfg: object) => signatureOf('backward', problem, 'bfloat16', cfg);
    expect(
      new Set([bwd({}), bwd({ deterministic: true }), bwd({ kvParallel: false }), bwd({ scratchLimitBytes: 64 })]).size,
    ).toBe(4);
  });
});

describe('tuning with a fake timer', () => {
  it('tunes a first call once, runs the fastest config, and reuses it', async () => {
    const dir = tmpDir();
    const fake = freshTuner(dir);
    await checkedOps();
    // Forward: the cost model's best 4 of 6; backward: its best 2 tile pairs x 2 dQ strategies.
    expect(fake.timed).toBe(8);
    expect(fake.launched[0]).toEqual(
      expect.objectContaining({ qTileShape: [128, 128], kvTileShape: [64, 64], forwardArch: 90 }),
    );
    await settle();
    const entries = natten.autotuner.cache.list();
    expect(entries.map((e) => e.pass).sort()).toEqual(['backward', 'forward']);
    const fwd = entries.find((e) => e.pass === 'forward')!;
    expect(fwd.best).toEqual({ kernel: 'wgmma', qTileShape: [128, 128], kvTileShape: [64, 64] });
    expect(fwd.bestMs).toBeCloseTo(fakeMs(fwd.best));
    expect(fwd.default).toEqual({ kernel: 'mma', qTileShape: [64, 64], kvTileShape: [64, 64] });
    expect(fwd.defaultMs).toBeGreaterThan(fwd.bestMs);
    expect(cacheFiles(dir)).toHaveLength(1);

    // The same signature again (another batch in the same bucket is a different signature: 1x2 is exact).
    const spy = jest.spyOn(native, 'naForward');
    await checkedOps(11);
    expect(fake.timed).toBe(8);
    expect(spy.mock.calls[0][0].config).toEqual(expect.objectContaining({ qTileShape: [128, 128], forwardArch: 90 }));
    spy.mockRestore();
  });

  it('tunes concurrent first calls of one signature once', async () => {
    const fake = freshTuner(tmpDir(), { delayMs: 40 });
    await Promise.all([checkedOps(1), checkedOps(2), checkedOps(3)]);
    expect(fake.jobs).toBe(2); // one forward, one backward tuning
    expect(fake.timed).toBe(8);
  });

  it('skips failing candidates, times every config when thorough, respects deterministic mode', async () => {
    const fake = freshTuner(tmpDir(), { failQ: 128 });
    natten.useAutotuner({ thorough: true });
    natten.useDeterministicAlgorithms(true);
    await checkedOps();
    expect(fake.timed).toBe(6 + 6); // every forward config; every tile pair, Q-parallel dQ only
    await settle();
    const [fwd, bwd] = ['forward', 'backward'].map((p) => natten.autotuner.cache.list().find((e) => e.pass === p)!);
    expect(fwd.candidates.filter((c) => c.error)).toHaveLength(2);
    expect(fwd.best.qTileShape[0]).not.toBe(128);
    expect(bwd.candidates.every((c) => c.config.dq === 'q-parallel')).toBe(true);
  });

  it('leaves calls with explicit kernel choices, and passes switched off, alone', async () => {
    const fake = freshTuner(tmpDir());
    natten.useAutotuner({ backward: false });
    const q = natten.randn(SHAPE, { seed: 1 });
    natten.na2d(q, q, q, { kernelSize: 3, qTileShape: [8, 8], kvTileShape: [8, 8] }).dispose();
    natten.na2d(q, q, q, { kernelSize: 3, backend: 'reference' }).dispose();
    expect(fake.timed).toBe(0);
    const { output, lse } = natten.na2d(q, q, q, { kernelSize: 3, returnLse: true });
    expect(fake.timed).toBe(4);
    const g = natten.na2dBackward(output, q, q, q, output, lse, { kernelSize: 3 });
    expect(fake.timed).toBe(4);
    await natten.synchronize('cpu');
    for (const t of [q, output, lse, g.dq, g.dk, g.dv]) t.dispose();
  });

  it('keeps the cache in memory only with NATTEN_AUTOTUNE_CACHE=0', async () => {
    const dir = tmpDir();
    process.env.NATTEN_CACHE_DIR = dir;
    const fake = freshTuner(null);
    await checkedOps();
    await settle();
    expect(natten.autotuner.cache.dir).toBeNull();
    expect(natten.autotuner.cache.list()).toHaveLength(2);
    expect(fs.readdirSync(dir)).toEqual([]);
    await checkedOps(5);
    expect(fake.timed).toBe(8);
  });
});

describe('the cache', () => {
  it('lists, exports, imports and clears entries; an import saves the tuning', async () => {
    const dir = tmpDir();
    freshTuner(dir);
    await checkedOps();
    await settle();
    const exported = JSON.stringify(natten.autotuner.cache.export());
    await natten.autotuner.cache.clear();
    expect(natten.autotuner.cache.list()).toEqual([]);
    expect(cacheFiles(dir)).toEqual([]);

    const fake = freshTuner(tmpDir());
    expect(natten.autotuner.cache.import(exported)).toBe(2);
    await checkedOps(4);
    expect(fake.timed).toBe(0);
    expect(natten.autotuner.cache.list().every((e) => e.device.name === FAKE_IDENTITY.name)).toBe(true);
    expect(() => natten.autotuner.cache.import('{"format":"x"}')).toThrow(/expected \{format: 'natten-node-autotune'/);
    expect(() => natten.autotuner.cache.import('not json')).toThrow(
      expect.objectContaining({ code: 'ERR_NATTEN_INVALID_ARG_VALUE' }),
    );
  });

  it('ignores a corrupt file with one warning, works, and rewrites it valid', async () => {
    const dir = tmpDir();
    freshTuner(dir);
    await checkedOps();
    await settle();
    const [file] = cacheFiles(dir);
    fs.writeFileSync(path.join(dir, file), '{"format": "natten-node-autotune", "entr');
    let fake: Fake | undefined;
    const warnings = await cacheWarnings(async () => {
      fake = freshTuner(dir);
      await checkedOps(2);
      await checkedOps(3);
      await settle();
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/ignoring the autotuner cache .* it is corrupt/);
    expect(fake!.timed).toBe(8);
    expect(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')).entries).toHaveLength(2);
  });

  it.each([
    ['another format version', (doc: Record<string, unknown>) => ({ ...doc, version: 99 }), /format version 99/],
    [
      'another GPU',
      (doc: Record<string, unknown>) => ({ ...doc, device: { ...FAKE_IDENTITY, multiProcessorCount: 108 } }),
      /another GPU/,
    ],
  ])('ignores a file of %s with a warning', async (_what, edit, message) => {
    const dir = tmpDir();
    freshTuner(dir);
    await checkedOps();
    await settle();
    const file = path.join(dir, cacheFiles(dir)[0]);
    fs.writeFileSync(file, JSON.stringify(edit(JSON.parse(fs.readFileSync(file, 'utf8')))));
    let fake: Fake | undefined;
    const warnings = await cacheWarnings(async () => {
      fake = freshTuner(dir);
      await checkedOps(2);
    });
    expect(warnings).toEqual([expect.stringMatching(message)]);
    expect(fake!.timed).toBe(8);
  });

  it('works with one warning where the cache folder cannot be written', async () => {
    const parent = tmpDir();
    let dir: string;
    if (process.getuid?.() === 0) {
      // root writes through permissions: a folder under a regular file cannot be created by anyone.
      fs.writeFileSync(path.join(parent, 'file'), '');
      dir = path.join(parent, 'file', 'cache');
    } else {
      dir = path.join(parent, 'ro');
      fs.mkdirSync(dir, { mode: 0o555 });
    }
    let fake: Fake | undefined;
    const warnings = await cacheWarnings(async () => {
      fake = freshTuner(dir);
      await checkedOps();
      await settle();
      await checkedOps(2);
      await settle();
    });
    expect(warnings).toEqual([expect.stringMatching(/cannot write the autotuner cache .*kept in memory/)]);
    expect(fake!.timed).toBe(8); // the second round is served from memory
  });
});

describe('processes sharing a cache', () => {
  it('a second process with the same cache tunes nothing', async () => {
    const env = { NATTEN_CACHE_DIR: tmpDir(), NATTEN_AUTOTUNE_CACHE: undefined };
    const parse = (out: string) => JSON.parse(/RESULT (.*)/.exec(out)![1]);
    const first = await runFixture('autotune_child.js', { args: ['a'], env });
    expect(first.code).toBe(0);
    const a = parse(first.stdout);
    expect(a).toEqual(expect.objectContaining({ jobs: 6, entries: 6, finite: true, warnings: [] }));
    const second = await runFixture('autotune_child.js', { args: ['a'], env });
    expect(parse(second.stdout)).toEqual(expect.objectContaining({ timed: 0, jobs: 0, entries: 6, finite: true }));
  });

  it('two processes tuning at once leave a valid cache', async () => {
    const dir = tmpDir();
    const env = { NATTEN_CACHE_DIR: dir, NATTEN_AUTOTUNE_CACHE: undefined };
    const parse = (out: string) => JSON.parse(/RESULT (.*)/.exec(out)![1]);
    const [a, b] = await Promise.all([
      runFixture('autotune_child.js', { args: ['a', '20'], env }),
      runFixture('autotune_child.js', { args: ['b', '20'], env }),
    ]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(parse(a.stdout).finite && parse(b.stdout).finite).toBe(true);
    const files = cacheFiles(dir);
    expect(files).toHaveLength(1);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    const doc = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'));
    expect(doc.entries.length).toBeGreaterThanOrEqual(6);
    // A third process over both sets reuses what the file holds.
    const [third, again] = [
      await runFixture('autotune_child.js', { args: ['a'], env }),
      await runFixture('autotune_child.js', { args: ['b'], env }),
    ].map((r) => parse(r.stdout));
    expect(third.jobs + again.jobs).toBeLessThan(12 - 6);
  });
});
