/** Wall-clock timing of queued ops: enqueue, wait for the device queue to drain, repeat; report the median. */
import * as natten from '../lib';

/** Median and spread of a set of timings, in milliseconds. */
export interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
  runs: number;
}

/** Median of numbers. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

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
