/**
 * Soak harness: runs natten under a server-like mixed load for N minutes and fails on any crash,
 * unexpected error, leaked device memory or resident-memory growth.
 *
 *   npm run soak -- --minutes N [--devices cpu,cuda] [--workers 3] [--json FILE] [--seed S]
 *
 * Load: random ops (randn/tensor/zeros, dtype conversions and device copies, reshape, na1d/na2d/na3d fused
 * forward and backward, the unfused na2dQK -> softmax -> na2dAV chain, disposes, toArray reads checked for
 * shape and finite values, native error probes checked for class and code) on every selected device, from
 * the main thread and from worker threads. Workers are terminated at random while their work is queued
 * and replaced. Child processes queue work and end abruptly (process.exit, uncaught exception, script end);
 * each must exit with the expected code and no signal.
 *
 * A progress line is printed every ~10 s. At the end of the warm-up (the first 10% of the time, at least
 * 20 s) and at the end, every worker is stopped and every tensor disposed; natten.memory() must then be
 * zero on every device, and RSS may grow by at most 20 MB from the warm-up measurement to the final one.
 * Exit code 0 when everything held, 1 otherwise; a crash of the soak process itself is its signal.
 *
 * The same file runs as a worker thread (workerData) and as a child process (--child MODE).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { isMainThread, parentPort, Worker, workerData } from 'worker_threads';
import * as natten from '../lib';
import { gc } from './gc';
import { mulberry32 as makeRng } from '../test/oracle/util';

const MiB = 2 ** 20;
const RSS_GROWTH_LIMIT = 20e6;
const PROGRESS_MS = 10000;
const CHILD_UNCAUGHT = 'soak-child-uncaught-exception';
const POOL_LIMIT = 32;

// ---------------------------------------------------------------------------------------------------------
// Random load shared by the main thread and the workers.

/** A tensor in a load generator's pool; `qkv` marks fused-layout tensors usable as q = k = v. */
interface Entry {
  t: natten.Tensor;
  qkv: boolean;
}

/** One thread's random load: a pool of live tensors and the ops that grow, use and shrink it. */
class Load {
  readonly pool: Entry[] = [];
  ops = 0;
  reads = 0;
  errors: string[] = [];
  private readonly rng: () => number;

  constructor(
    private readonly devices: natten.DeviceName[],
    seed: number,
    private readonly where: string,
  ) {
    this.rng = makeRng(seed);
  }

  private int(lo: number, hi: number): number {
    return lo + Math.floor(this.rng() * (hi - lo + 1));
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rng() * xs.length)];
  }

  private dtypeFor(device: natten.DeviceName): natten.DType {
    return this.pick(
      device === 'cpu' ? ['float32', 'float32', 'float16', 'bfloat16'] : ['float16', 'bfloat16', 'float16', 'float32'],
    );
  }

  private add(t: natten.Tensor, qkv = false): natten.Tensor {
    this.pool.push({ t, qkv });
    return t;
  }

  /** Records an unexpected error (kept: the first 20). */
  fail(what: string, e: unknown): void {
    const err = e as Error & { code?: string };
    const msg =
      `${this.where}: ${what}: ${err?.name ?? typeof e} ${err?.code ?? ''} ${err?.message ?? String(e)}`.trim();
    if (this.errors.length < 20) this.errors.push(msg);
  }

  /** Disposes pool entries at random until at most `keep` remain. */
  shrink(keep: number): void {
    while (this.pool.length > keep) {
      const i = Math.floor(this.rng() * this.pool.length);
      this.pool[i].t.dispose();
      this.pool.splice(i, 1);
    }
  }

  disposeAll(): void {
    this.shrink(0);
  }

  /** A fresh fused-layout problem [B, ...spatial, H, D] on the device. */
  private fusedShape(dims: number): { shape: number[]; kernel: number[] } {
    const spatial: number[] = [];
    const kernel: number[] = [];
    for (let a = 0; a < dims; a++) {
      const L = dims === 1 ? this.int(8, 128) : dims === 2 ? this.int(4, 24) : this.int(3, 8);
      spatial.push(L);
      kernel.push(this.int(2, Math.min(L, dims === 1 ? 15 : 7)));
    }
    return { shape: [this.int(1, 2), ...spatial, this.int(1, 4), this.pick([16, 32, 64])], kernel };
  }

  /** One random operation; reads are awaited (they are the sync points that keep the queues bounded). */
  async step(): Promise<void> {
    this.ops++;
    const r = this.rng();
    const device = this.pick(this.devices);
    try {
      if (r < 0.14) this.create(device);
      else if (r < 0.22) this.convert();
      else if (r < 0.27) this.copyAcross();
      else if (r < 0.3) this.reshape();
      else if (r < 0.46) this.fused(device);
      else if (r < 0.54) this.unfused(device);
      else if (r < 0.64) this.shrink(Math.max(0, this.pool.length - this.int(1, 4)));
      else if (r < 0.78) await this.read();
      else if (r < 0.8) this.errorProbe(device);
      else if (r < 0.81 && device === 'cpu') this.largeCpu();
      else await new Promise<void>((res) => setImmediate(res));
    } catch (e) {
      this.fail('op', e);
    }
    if (this.pool.length > POOL_LIMIT) this.shrink(POOL_LIMIT / 2);
  }

  private create(device: natten.DeviceName): void {
    const dtype = this.dtypeFor(device);
    const k = this.rng();
    if (k < 0.5) {
      const { shape } = this.fusedShape(this.int(1, 3));
      this.add(natten.randn(shape, { device, dtype, seed: this.int(0, 1e9) }), true);
    } else if (k < 0.8) {
      const n = this.int(0, 5000);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = this.rng() * 4 - 2;
      this.add(natten.tensor(data, [n], { device, dtype }));
    } else {
      this.add(natten.zeros([this.int(1, 64), this.int(1, 64)], { device, dtype }));
    }
  }

  private convert(): void {
    if (!this.pool.length) return;
    const e = this.pick(this.pool);
    const dtype = this.dtypeFor(e.t.device);
    this.add(e.t.to({ dtype }), e.qkv);
  }

  private copyAcross(): void {
    if (!this.pool.length || this.devices.length < 2) return;
    const e = this.pick(this.pool);
    const target = this.pick(this.devices.filter((d) => d !== e.t.device));
    const dtype = e.t.dtype === 'float64' ? 'float32' : e.t.dtype;
    this.add(e.t.to({ device: target, dtype }), e.qkv);
  }

  private reshape(): void {
    if (!this.pool.length) return;
    const e = this.pick(this.pool);
    this.add(e.t.reshape([e.t.numel]));
  }

  private fused(device: natten.DeviceName): void {
    const dims = this.int(1, 3);
    // Reuse a pooled fused-layout tensor of this rank and device as q = k = v, or draw a new problem.
    const reuse = this.pool.filter((e) => e.qkv && e.t.device === device && e.t.ndim === dims + 3);
    let q: natten.Tensor;
    let kernel: number[];
    if (reuse.length && this.rng() < 0.5) {
      q = this.pick(reuse).t;
      kernel = q.shape.slice(1, 1 + dims).map((L) => this.int(2, Math.min(L, dims === 1 ? 15 : 7)));
    } else {
      const p = this.fusedShape(dims);
      q = this.add(natten.randn(p.shape, { device, dtype: this.dtypeFor(device), seed: this.int(0, 1e9) }), true);
      kernel = p.kernel;
    }
    if (kernel.some((k, a) => k < 2 || k > q.shape[1 + a])) return;
    const fwd = [natten.na1d, natten.na2d, natten.na3d][dims - 1];
    const bwd = [natten.na1dBackward, natten.na2dBackward, natten.na3dBackward][dims - 1];
    const opts = { kernelSize: kernel };
    if (this.rng() < 0.5) {
      this.add(fwd(q, q, q, opts), true);
      return;
    }
    const { output, lse } = fwd(q, q, q, { ...opts, returnLse: true });
    this.add(output, true);
    this.add(lse);
    const dOut = this.add(natten.randn(output.shape, { device, dtype: q.dtype, seed: this.int(0, 1e9) }), true);
    const g = bwd(dOut, q, q, q, output, lse, opts);
    this.add(g.dq, true);
    this.add(g.dk, true);
    this.add(g.dv, true);
  }

  private unfused(device: natten.DeviceName): void {
    const dtype = this.dtypeFor(device);
    const [X, Y] = [this.int(4, 20), this.int(4, 20)];
    const kernel = this.int(2, Math.min(X, Y, 7));
    const shape = [this.int(1, 2), this.int(1, 3), X, Y, this.pick([16, 32])];
    const q = this.add(natten.randn(shape, { device, dtype, seed: this.int(0, 1e9) }));
    const k = this.add(natten.randn(shape, { device, dtype, seed: this.int(0, 1e9) }));
    const attn = this.add(natten.na2dQK(q, k, { kernelSize: kernel }));
    const probs = this.add(natten.softmax(attn));
    this.add(natten.na2dAV(probs, k, { kernelSize: kernel }));
  }

  private async read(): Promise<void> {
    if (!this.pool.length) return;
    const { t } = this.pick(this.pool);
    const numel = t.numel;
    const values = await t.toArray();
    this.reads++;
    if (values.length !== numel)
      throw new Error(`toArray returned ${values.length} values for shape [${t.shape.join(', ')}]`);
    for (const i of [0, numel >> 1, numel - 1]) {
      if (i >= 0 && i < numel && !Number.isFinite(values[i])) {
        throw new Error(
          `non-finite value ${values[i]} at ${i} of a ${t.dtype} [${t.shape.join(', ')}] tensor on ${t.device}`,
        );
      }
    }
  }

  /** Native errors that must come back as NattenErrors of this thread's realm with their codes. */
  private errorProbe(device: natten.DeviceName): void {
    const expect = (what: string, code: string, fn: () => unknown): void => {
      try {
        fn();
      } catch (e) {
        if (e instanceof natten.NattenError && e.code === code) return;
        this.fail(`${what} (expected a NattenError ${code})`, e);
        return;
      }
      this.fail(what, new Error(`no error (expected ${code})`));
    };
    if (device === 'cpu' || this.rng() < 0.5)
      expect('empty([2 ** 50])', 'ERR_NATTEN_OOM', () => natten.empty([2 ** 50], { device }));
    // A storage released natively but reached through a second JS tensor: the addon raises the error.
    const t = natten.randn([4], { device, seed: 1 });
    const alias = new natten.Tensor(t.handle(), t.shape, t.dtype, t.device);
    t.dispose();
    expect('read of a natively disposed tensor', 'ERR_NATTEN_DISPOSED', () => alias.toArraySync());
    expect('use of a disposed tensor', 'ERR_NATTEN_DISPOSED', () => t.to({ dtype: 'float32' }));
  }

  /** Some tens of milliseconds of CPU work, so that terminations and exits find work in flight. */
  private largeCpu(): void {
    const x = this.add(natten.randn([1, 4096, 2, 32], { seed: this.int(0, 1e9) }), true);
    this.add(natten.na1d(x, x, x, { kernelSize: this.int(255, 2047) }), true);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Worker thread: runs a Load until terminated, reporting counts and errors.

interface WorkerStats {
  type: 'stats';
  ops: number;
  errors: string[];
}

async function workerMain(): Promise<void> {
  const { devices, seed, id } = workerData as { devices: natten.DeviceName[]; seed: number; id: number };
  const load = new Load(devices, seed, `worker ${id}`);
  let reported = 0;
  let last = Date.now();
  for (let i = 1; ; i++) {
    await load.step();
    // Let the event loop run (timers, message port, resolved reads) every few ops.
    if (i % 8 === 0) await new Promise<void>((r) => setImmediate(r));
    if (load.errors.length > reported || Date.now() - last > 500) {
      parentPort!.postMessage({
        type: 'stats',
        ops: load.ops,
        errors: load.errors.slice(reported),
      } satisfies WorkerStats);
      reported = load.errors.length;
      last = Date.now();
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Child process: queues work and ends abruptly.

type ChildMode = 'exit' | 'uncaught' | 'end';
const CHILD_CODES: Record<ChildMode, number> = { exit: 0, uncaught: 1, end: 0 };

function childMain(mode: ChildMode, devices: natten.DeviceName[], delayMs: number, pendingRead: boolean): void {
  for (const device of devices) {
    const dtype = device === 'cpu' ? 'float32' : 'float16';
    const x = natten.randn([1, 4096, 2, 32], { device, dtype, seed: 1 });
    for (let i = 0; i < 20; i++) natten.na1d(x, x, x, { kernelSize: 2047 });
    // Sometimes a pending read as well (never for 'end': a pending read keeps the script alive).
    if (pendingRead && mode !== 'end') void natten.randn([1, 16, 16, 2, 32], { device, dtype }).toArray();
  }
  if (mode === 'exit') setTimeout(() => process.exit(0), delayMs);
  else if (mode === 'uncaught') {
    setTimeout(() => {
      throw new Error(CHILD_UNCAUGHT);
    }, delayMs);
  } else {
    const t0 = Date.now();
    while (Date.now() - t0 < delayMs) {
      // busy: the script ends while the queued work is running
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Main thread: orchestration, checks and reporting.

interface Summary {
  status: 'running' | 'passed' | 'failed';
  minutes: number;
  seed: number;
  devices: string[];
  workers: number;
  elapsedS: number;
  ops: { main: number; workers: number; total: number };
  reads: number;
  workersStarted: number;
  workersCycled: number;
  children: { run: number; exit: number; uncaught: number; end: number };
  rss: { warmupMiB: number | null; endMiB: number | null; growthMiB: number | null; peakMiB: number };
  memoryAtWarmup: Record<string, number> | null;
  memoryAtEnd: Record<string, number> | null;
  errors: string[];
  failures: string[];
}

function parseDevices(spec: string | undefined): natten.DeviceName[] {
  const available: natten.DeviceName[] = ['cpu'];
  for (let i = 0; i < natten.cuda.deviceCount(); i++) available.push(`cuda:${i}`);
  if (!spec) return available;
  const out: natten.DeviceName[] = [];
  for (const d of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (d === 'cpu') out.push('cpu');
    else if (d === 'cuda') {
      const gpus = available.filter((x) => x !== 'cpu');
      if (!gpus.length)
        throw new Error(
          `--devices asks for cuda but no CUDA device is visible (buildInfo: ${JSON.stringify(natten.buildInfo())})`,
        );
      out.push(...gpus);
    } else if (/^cuda:\d+$/.test(d)) {
      if (!available.includes(d as natten.DeviceName)) throw new Error(`--devices: ${d} is not visible`);
      out.push(d as natten.DeviceName);
    } else throw new Error(`--devices: unknown device ${JSON.stringify(d)} (use cpu, cuda or cuda:N)`);
  }
  return [...new Set(out)];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      devices: { type: 'string' },
      workers: { type: 'string', default: '3' },
      json: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const minutes = Number(values.minutes);
  const workerCount = Number(values.workers);
  if (!(minutes > 0)) throw new Error('--minutes N (N > 0) is required');
  if (!Number.isInteger(workerCount) || workerCount < 0) throw new Error('--workers must be a non-negative integer');
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  const devices = parseDevices(values.devices);
  const jsonFile = values.json;

  const t0 = Date.now();
  const durationMs = minutes * 60000;
  const warmupMs = Math.min(Math.max(0.1 * durationMs, 20000), durationMs / 2);
  const rng = makeRng(seed ^ 0x5eed);
  const load = new Load(devices, seed, 'main');
  const summary: Summary = {
    status: 'running',
    minutes,
    seed,
    devices,
    workers: workerCount,
    elapsedS: 0,
    ops: { main: 0, workers: 0, total: 0 },
    reads: 0,
    workersStarted: 0,
    workersCycled: 0,
    children: { run: 0, exit: 0, uncaught: 0, end: 0 },
    rss: { warmupMiB: null, endMiB: null, growthMiB: null, peakMiB: 0 },
    memoryAtWarmup: null,
    memoryAtEnd: null,
    errors: [],
    failures: [],
  };
  const failures = summary.failures;
  const fail = (msg: string): void => {
    if (failures.length < 50) failures.push(msg);
    process.stderr.write(`soak: FAILURE: ${msg}\n`);
  };
  process.on('uncaughtException', (e) => fail(`uncaught exception in the soak process: ${e?.stack ?? e}`));
  process.on('unhandledRejection', (e) => fail(`unhandled rejection in the soak process: ${(e as Error)?.stack ?? e}`));

  console.log(
    `soak: ${minutes} min on ${devices.join(', ')}, ${workerCount} workers, seed ${seed}, warm-up ${(warmupMs / 1000).toFixed(0)} s, ` +
      `${natten.buildInfo().cpuThreads} CPU engine threads`,
  );

  // Workers: each slot holds a live worker or is being restarted.
  let workerOps = 0;
  let nextWorkerId = 0;
  const live = new Map<number, { w: Worker; ops: number; stopping: boolean }>();
  const startWorker = (): void => {
    const id = nextWorkerId++;
    const w = new Worker(__filename, { workerData: { devices, seed: (seed + 7919 * (id + 1)) >>> 0, id } });
    const slot = { w, ops: 0, stopping: false };
    live.set(id, slot);
    summary.workersStarted++;
    w.on('message', (m: WorkerStats) => {
      if (m.type !== 'stats') return;
      workerOps += m.ops - slot.ops;
      slot.ops = m.ops;
      for (const e of m.errors) fail(`unexpected error: ${e}`);
    });
    w.on('error', (e) => fail(`worker ${id} threw: ${e?.stack ?? e}`));
    w.on('exit', (code) => {
      live.delete(id);
      if (!slot.stopping) fail(`worker ${id} exited by itself with code ${code}`);
    });
  };
  const stopWorker = async (id: number): Promise<void> => {
    const slot = live.get(id);
    if (!slot || slot.stopping) return;
    slot.stopping = true;
    await slot.w.terminate();
    summary.workersCycled++;
  };
  const stopAllWorkers = async (): Promise<void> => {
    await Promise.all([...live.keys()].map(stopWorker));
  };

  /** What the main thread is doing; read by the churn and children loops. */
  const state: { phase: 'load' | 'quiesce' | 'done' } = { phase: 'load' };

  // Worker churn: every 1-6 s, terminate a random worker (its work still queued) and start a new one.
  const churn = (async () => {
    while (state.phase !== 'done') {
      await sleep(1000 + rng() * 5000);
      if (state.phase !== 'load' || !live.size) continue;
      const ids = [...live.keys()];
      await stopWorker(ids[Math.floor(rng() * ids.length)]);
      await sleep(rng() * 500);
      if (state.phase === 'load') startWorker();
    }
  })();

  // Children: one at a time, each queueing work and ending abruptly.
  const childDevices = devices.join(',');
  const children = (async () => {
    const modes: ChildMode[] = ['exit', 'uncaught', 'end'];
    while (state.phase !== 'done') {
      await sleep(200 + rng() * 1500);
      if ((state.phase as string) === 'done') break; // may have changed during the sleep
      const mode = modes[Math.floor(rng() * modes.length)];
      const delay = Math.floor(rng() * 150);
      const pendingRead = rng() < 0.5;
      const r = await runChild(mode, childDevices, delay, pendingRead);
      summary.children.run++;
      summary.children[mode]++;
      const expected = CHILD_CODES[mode];
      if (r.signal || r.code !== expected || r.timedOut) {
        fail(
          `child (${mode}${pendingRead && mode !== 'end' ? ' with a pending read' : ''}, exit after ${delay} ms) ${r.timedOut ? 'hung (killed after 60 s)' : r.signal ? `was killed by ${r.signal}` : `exited with ${r.code}`}, ` +
            `expected exit code ${expected}; stderr: ${r.stderr.trim().split('\n').slice(-6).join(' | ')}`,
        );
      } else if (mode === 'uncaught' && !r.stderr.includes(CHILD_UNCAUGHT)) {
        fail(`child (uncaught) did not print the exception's message on stderr: ${r.stderr.slice(-300)}`);
      }
    }
  })();

  const progress = (): void => {
    const m = natten.memory();
    const rss = process.memoryUsage().rss;
    summary.rss.peakMiB = Math.max(summary.rss.peakMiB, rss / MiB);
    summary.elapsedS = (Date.now() - t0) / 1000;
    summary.ops = { main: load.ops, workers: workerOps, total: load.ops + workerOps };
    summary.reads = load.reads;
    const mem = Object.entries(m)
      .map(([d, b]) => `${d} ${(b / MiB).toFixed(1)} MiB`)
      .join(', ');
    console.log(
      `soak ${fmtTime(summary.elapsedS)}: ops ${summary.ops.total} (main ${load.ops}, workers ${workerOps}), ` +
        `workers cycled ${summary.workersCycled}, children ${summary.children.run}, rss ${(rss / MiB).toFixed(1)} MiB, memory {${mem}}, ` +
        `failures ${failures.length}`,
    );
    if (jsonFile) writeJson(jsonFile, summary);
  };
  const ticker = setInterval(progress, PROGRESS_MS);
  // A 'running' summary from the start, rewritten at every progress line: a crash leaves the last one.
  if (jsonFile) writeJson(jsonFile, summary);

  /** Stops the workers, disposes the main thread's tensors, waits for every queue and the finalizers,
   * then returns RSS and natten.memory(). */
  const quiesce = async (label: string): Promise<{ rss: number; memory: Record<string, number> }> => {
    state.phase = 'quiesce';
    await stopAllWorkers();
    for (const e of load.errors) fail(`unexpected error: ${e}`);
    load.errors = [];
    load.disposeAll();
    let memory = natten.memory();
    const deadline = Date.now() + 15000;
    for (;;) {
      await natten.synchronize();
      gc();
      await sleep(50);
      memory = natten.memory();
      if (Object.values(memory).every((b) => b === 0) || Date.now() > deadline) break;
    }
    for (const [d, b] of Object.entries(memory)) {
      if (b !== 0) fail(`${label}: natten.memory() reports ${b} bytes still held on ${d} after disposing everything`);
    }
    gc();
    await sleep(100);
    return { rss: process.memoryUsage().rss, memory };
  };

  const runLoad = async (until: number): Promise<void> => {
    state.phase = 'load';
    while (live.size < workerCount) startWorker();
    for (let i = 1; Date.now() < until; i++) {
      await load.step();
      if (i % 8 === 0) await new Promise<void>((r) => setImmediate(r));
      for (const e of load.errors) fail(`unexpected error: ${e}`);
      load.errors = [];
    }
  };

  await runLoad(t0 + warmupMs);
  const warm = await quiesce('end of warm-up');
  summary.rss.warmupMiB = warm.rss / MiB;
  summary.memoryAtWarmup = warm.memory;
  console.log(
    `soak ${fmtTime((Date.now() - t0) / 1000)}: end of warm-up: rss ${(warm.rss / MiB).toFixed(1)} MiB with every tensor disposed`,
  );
  await runLoad(t0 + durationMs);
  const end = await quiesce('end');
  state.phase = 'done';
  await Promise.all([churn, children]);
  clearInterval(ticker);
  summary.rss.endMiB = end.rss / MiB;
  summary.memoryAtEnd = end.memory;
  const growth = end.rss - warm.rss;
  summary.rss.growthMiB = growth / MiB;
  const [warmMiB, endMiB, growthMiB] = [warm.rss / MiB, end.rss / MiB, growth / MiB];
  if (growth > RSS_GROWTH_LIMIT) {
    fail(
      `RSS grew by ${(growth / MiB).toFixed(1)} MiB between the end of the warm-up (${(warm.rss / MiB).toFixed(1)} MiB) and the end ` +
        `(${(end.rss / MiB).toFixed(1)} MiB); limit ${(RSS_GROWTH_LIMIT / 1e6).toFixed(0)} MB`,
    );
  }
  progress();
  summary.status = failures.length ? 'failed' : 'passed';
  summary.errors = failures.filter((f) => f.startsWith('unexpected error'));
  console.log(
    `soak ${summary.status.toUpperCase()}: ${fmtTime(summary.elapsedS)} on ${devices.join(', ')}: ${summary.ops.total} ops ` +
      `(main ${summary.ops.main}, workers ${summary.ops.workers}), ${summary.workersStarted} workers started, ${summary.workersCycled} terminated, ` +
      `${summary.children.run} children, rss ${warmMiB.toFixed(1)} -> ${endMiB.toFixed(1)} MiB ` +
      `(growth ${growthMiB.toFixed(1)} MiB), memory at end ${JSON.stringify(summary.memoryAtEnd)}, ${failures.length} failures`,
  );
  for (const f of failures.slice(0, 20)) console.log(`  - ${f}`);
  if (jsonFile) writeJson(jsonFile, summary);
  return failures.length ? 1 : 0;
}

function fmtTime(s: number): string {
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s - 60 * m)).padStart(2, '0')}`;
}

function writeJson(file: string, summary: Summary): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(summary, null, 2) + '\n');
}

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  timedOut: boolean;
}

function runChild(mode: ChildMode, devices: string, delayMs: number, pendingRead: boolean): Promise<ChildRun> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        __filename,
        '--child',
        mode,
        '--child-devices',
        devices,
        '--child-delay',
        String(delayMs),
        '--child-read',
        pendingRead ? '1' : '0',
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    let timedOut = false;
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, 60000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, timedOut });
    });
  });
}

// ---------------------------------------------------------------------------------------------------------

if (!isMainThread) {
  void workerMain();
} else if (process.argv.includes('--child')) {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      'child-devices': { type: 'string' },
      'child-delay': { type: 'string' },
      'child-read': { type: 'string' },
    },
  });
  childMain(
    values.child as ChildMode,
    (values['child-devices'] ?? 'cpu').split(',') as natten.DeviceName[],
    Number(values['child-delay'] ?? 50),
    values['child-read'] === '1',
  );
} else {
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(`soak: ${(e as Error)?.message ?? e}`);
      console.error('usage: npm run soak -- --minutes N [--devices cpu,cuda] [--workers 3] [--json FILE] [--seed S]');
      process.exit(2);
    },
  );
}
