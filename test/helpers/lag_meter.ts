// Event-loop lag measured against a control thread. A 10 ms interval on the main thread records how late
// each firing is; a worker thread runs its own 10 ms interval alongside. When the whole process stops (a
// virtual machine's vCPU descheduled, a cgroup throttled), the control stalls as long as the main thread,
// and that stall is not the library's: the lag a test counts is the main thread's lag less the control's
// longest stall overlapping it. Work done on the main thread (what the lag tests are for) delays only the
// main thread.
import { Worker } from 'node:worker_threads';
import { gc } from './settle';

/** One firing of a 10 ms interval: when it fired (ms, process-wide clock) and how late. */
export interface Tick {
  at: number;
  lag: number;
}

/** What a meter saw. */
export interface LagReport {
  /** The main thread's worst lag less the control thread's longest stall overlapping it. */
  maxLagMs: number;
  /** The main thread's worst lag as measured. */
  rawMaxLagMs: number;
  /** The control thread's worst lag. */
  controlMaxLagMs: number;
}

const CONTROL_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const now = () => performance.timeOrigin + performance.now();
const ticks = [];
let last = now();
const timer = setInterval(() => {
  const t = now();
  ticks.push({ at: t, lag: t - last - 10 });
  last = t;
}, 10);
parentPort.postMessage('started');
parentPort.once('message', () => {
  clearInterval(timer);
  parentPort.postMessage(ticks);
});
`;

const clock = (): number => performance.timeOrigin + performance.now();

/**
 * The main thread's worst lag not explained by a stall of the whole process: per main tick, its lag less
 * the largest control lag whose late interval overlaps the main tick's.
 */
export function attributableLag(main: Tick[], control: Tick[]): number {
  let worst = 0;
  for (const m of main) {
    const from = m.at - m.lag;
    let stall = 0;
    for (const c of control) if (c.at > from && c.at - c.lag < m.at) stall = Math.max(stall, c.lag);
    worst = Math.max(worst, m.lag - stall);
  }
  return worst;
}

/** A running pair of 10 ms intervals (main thread and control thread). */
export class LagMeter {
  private ticks: Tick[] = [];
  private last = clock();
  private readonly timer: ReturnType<typeof setInterval>;

  private constructor(private readonly control: Worker) {
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
    const reply = new Promise<Tick[]>((resolve) => this.control.once('message', (m: Tick[]) => resolve(m)));
    this.control.postMessage('stop');
    const all = await reply;
    await this.control.terminate();
    if (this.ticks.length === 0 || all.length === 0) throw new Error('lag meter: an interval never fired');
    const since = this.ticks[0].at - this.ticks[0].lag - 10;
    const control = all.filter((c) => c.at > since);
    return {
      maxLagMs: attributableLag(this.ticks, control),
      rawMaxLagMs: Math.max(...this.ticks.map((t) => t.lag)),
      controlMaxLagMs: Math.max(0, ...control.map((t) => t.lag)),
    };
  }
}
