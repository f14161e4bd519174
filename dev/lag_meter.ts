// Event-loop lag measured against a control thread (used by the lag tests, in jest and in their child
// processes, hence compiled with the library into dist/dev). A 10 ms interval on the main thread records how late
// each firing is; a worker thread runs its own 10 ms interval alongside. When the whole process stops (a
// virtual machine's vCPU descheduled, a cgroup throttled), the control stalls as long as the main thread,
// and that stall is not the library's: the lag a test counts is the main thread's lag less the control's
// longest stall overlapping it. Work done on the main thread (what the lag tests are for) delays only the
// main thread.
//
// A virtual machine can also take one vCPU away while the other runs on (steal time): the main thread
// stops and the control thread, on the other vCPU, does not see it. On Linux the control thread therefore
// also reads each CPU's steal counter (/proc/stat) at every firing; steal on any CPU during a main firing's
// late interval counts as a stall too. The report names the worst firing with what overlapped it (control
// stall, steal, garbage-collection pauses), so a failure says where its time went.
import { PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { gc } from './gc';

/** One firing of a 10 ms interval: when it fired (ms, process-wide clock) and how late. */
export interface Tick {
  at: number;
  lag: number;
}

/** One control firing: also each CPU's cumulative steal time (ms) when it fired (empty off Linux). */
export interface ControlTick extends Tick {
  steal: number[];
}

/** A garbage-collection pause on the main thread: when it started (process-wide clock) and how long. */
export interface GcPause {
  at: number;
  ms: number;
}

/** What a meter saw. */
export interface LagReport {
  /** The main thread's worst lag less the larger of the control thread's longest stall overlapping it and
   * one CPU's steal time during it. */
  maxLagMs: number;
  /** The main thread's worst lag as measured. */
  rawMaxLagMs: number;
  /** The control thread's worst lag. */
  controlMaxLagMs: number;
  /** The worst main firing (by the counted lag) and what overlapped its late interval. */
  worst: WorstTick;
}

/** The main firing with the largest counted lag. */
export interface WorstTick {
  /** When it fired, ms after the meter started. */
  atMs: number;
  /** Its lag as measured. */
  lagMs: number;
  /** The control thread's longest stall overlapping it. */
  controlStallMs: number;
  /** The most steal time any one CPU had during it (0 off Linux). */
  stealMs: number;
  /** Garbage-collection pauses overlapping it, in total. */
  gcMs: number;
}

const CONTROL_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const now = () => performance.timeOrigin + performance.now();
const fs = require('node:fs');
// Per-CPU steal time in ms: /proc/stat's "cpuN" lines, 8th value, in USER_HZ (100 per second) ticks.
const steal = () => {
  try {
    return fs.readFileSync('/proc/stat', 'utf8').split('\\n').filter((l) => /^cpu\\d/.test(l))
      .map((l) => Number(l.split(/\\s+/)[8]) * 10);
  } catch {
    return [];
  }
};
const ticks = [{ at: now(), lag: 0, steal: steal() }];
let last = now();
const timer = setInterval(() => {
  const t = now();
  ticks.push({ at: t, lag: t - last - 10, steal: steal() });
  last = t;
}, 10);
parentPort.postMessage('started');
parentPort.once('message', () => {
  clearInterval(timer);
  parentPort.postMessage(ticks);
});
`;

const clock = (): number => performance.timeOrigin + performance.now();

/** The most steal time any one CPU had between the control firings bracketing [from, to]. */
function stealDuring(control: ControlTick[], from: number, to: number): number {
  let before: ControlTick | undefined;
  let after: ControlTick | undefined;
  for (const c of control) {
    if (c.at <= from) before = c;
    if (c.at >= to) {
      after = c;
      break;
    }
  }
  if (!before || !after) return 0;
  let most = 0;
  for (let i = 0; i < Math.min(before.steal.length, after.steal.length); i++)
    most = Math.max(most, after.steal[i] - before.steal[i]);
  return most;
}

/**
 * The main thread's worst lag not explained by a stall of the whole process or of a vCPU: per main tick,
 * its lag less the larger of the control thread's longest lag overlapping the main tick's late interval and
 * the most steal time one CPU had during it.
 */
export function attributableLag(
  main: Tick[],
  control: ControlTick[],
  gcs: GcPause[] = [],
): WorstTick & { counted: number } {
  let worst = { counted: 0, atMs: 0, lagMs: 0, controlStallMs: 0, stealMs: 0, gcMs: 0 };
  for (const m of main) {
    const from = m.at - m.lag;
    let stall = 0;
    for (const c of control) if (c.at > from && c.at - c.lag < m.at) stall = Math.max(stall, c.lag);
    const steal = stealDuring(control, from, m.at);
    const counted = m.lag - Math.max(stall, steal);
    if (counted > worst.counted) {
      const gcMs = gcs.filter((g) => g.at < m.at && g.at + g.ms > from).reduce((a, g) => a + g.ms, 0);
      worst = { counted, atMs: m.at, lagMs: m.lag, controlStallMs: stall, stealMs: steal, gcMs };
    }
  }
  return worst;
}

/** A running pair of 10 ms intervals (main thread and control thread). */
export class LagMeter {
  private ticks: Tick[] = [];
  private last = clock();
  private readonly started = clock();
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly gcs: GcPause[] = [];
  private readonly gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) this.gcs.push({ at: performance.timeOrigin + e.startTime, ms: e.duration });
  });

  private constructor(private readonly control: Worker) {
    this.gcObserver.observe({ entryTypes: ['gc'] });
    this.timer = setInterval(() => {
      const now = clock();
      this.ticks.push({ at: now, lag: now - this.last - 10 });
      this.last = now;
    }, 10);
  }

  /** Starts both intervals (resolves once the control thread runs). A full garbage collection runs first:
   * garbage the test process holds from before (jest's, earlier tests') is not the measured work's, and a
   * major collection of it inside the window would be counted as lag. */
  static async start(): Promise<LagMeter> {
    gc();
    const w = new Worker(CONTROL_SOURCE, { eval: true });
    await new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
    });
    return new LagMeter(w);
  }

  /** Forgets what both intervals saw so far (the control thread keeps its ticks; only later ones count). */
  reset(): void {
    this.ticks = [];
    this.last = clock();
  }

  /** Stops both intervals and reports. */
  async stop(): Promise<LagReport> {
    clearInterval(this.timer);
    this.gcObserver.disconnect();
    const reply = new Promise<ControlTick[]>((resolve) =>
      this.control.once('message', (m: ControlTick[]) => resolve(m)),
    );
    this.control.postMessage('stop');
    const all = await reply;
    await this.control.terminate();
    if (this.ticks.length === 0 || all.length === 0) throw new Error('lag meter: an interval never fired');
    const since = this.ticks[0].at - this.ticks[0].lag - 10;
    const control = all.filter((c) => c.at > since);
    const { counted, ...worst } = attributableLag(this.ticks, all, this.gcs);
    return {
      maxLagMs: counted,
      rawMaxLagMs: Math.max(...this.ticks.map((t) => t.lag)),
      controlMaxLagMs: Math.max(0, ...control.map((t) => t.lag)),
      worst: { ...worst, atMs: worst.atMs - this.started },
    };
  }
}
