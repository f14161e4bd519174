/** Wall-clock timing of queued ops: enqueue, wait for the device queue to drain, repeat; report the median. */
import * as natten from '../lib';
import { median } from './median';

/** Median and spread of a set of timings, in milliseconds. */
export interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
  runs: number;
}

/** Median of numbers (bench/median.ts), for the scripts that import it from here. */
export { median };

/**
 * Times `op` (which enqueues work on `device` and returns the tensors to free afterwards): `warmup`
 * untimed runs, then `runs` timed ones, each until the device's queue has finished.
 */
export async function timeOp(device: string, op: () => natten.Tensor[], runs: number, warmup: number): Promise<Timing> {
  const times: number[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    const t0 = process.hrtime.bigint();
    const outs = op();
    await natten.synchronize(device as natten.DeviceLike);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    for (const t of outs) t.dispose();
    if (i >= warmup) times.push(ms);
  }
  return { medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times), runs };
}

/** Wall times of calls queued back to back (see {@link timeQueuedCalls}). */
export interface QueuedTiming {
  /** Wall ms per call of each timed repetition. */
  reps: number[];
  /** Host ms per call spent enqueueing (the loop before the synchronize), median over the repetitions. */
  enqueue: number;
}

/**
 * Times `enqueue` (which queues work on `device` and frees its own outputs) as a program runs it: `calls`
 * calls back to back, then one synchronize; two untimed repetitions, then `reps` timed ones.
 */
export async function timeQueuedCalls(
  enqueue: () => void,
  device: natten.DeviceLike,
  calls: number,
  reps: number,
): Promise<QueuedTiming> {
  const wall: number[] = [];
  const host: number[] = [];
  for (let r = -2; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) enqueue();
    const t1 = performance.now();
    await natten.synchronize(device);
    if (r < 0) continue; // warm-up repetitions
    wall.push((performance.now() - t0) / calls);
    host.push((t1 - t0) / calls);
  }
  return { reps: wall, enqueue: median(host) };
}
