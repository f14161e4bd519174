/**
 * CUDA-event timing shared by the GPU benchmarks: each timed run is queued behind a spin kernel so host
 * launch overhead does not show, and the figure is the median over the runs.
 */
import { native } from '../lib/native';
import { median } from './timing';

/** Names bench/flex_attention.py uses for the problems of CUDA_BENCH_PROBLEMS, in that order. */
export const FLEX_NAMES = [
  '1d_L32768_k2049_D128',
  '2d_128x128_k13_D64',
  '2d_128x128_k31_D128',
  '2d_56x56_k7_D32',
  '3d_16x32x32_k5x9x9_D64',
];

/** Median ms of `fn` (which enqueues work on the device) over `runs` runs, after one warm-up. */
export function timeOne(device: number, runs: number, fn: () => void): number {
  const timer = native.gpuTimerCreate({ device });
  const ms: number[] = [];
  for (let r = -1; r < runs; r++) {
    native.gpuSpin({ device, microseconds: 2000 });
    native.gpuTimerStart({ timer });
    fn();
    native.gpuTimerStop({ timer });
    const t = native.gpuTimerElapsed({ timer });
    if (r >= 0) ms.push(t);
  }
  return median(ms);
}

/** Shortens a demangled kernel name for the table: namespaces dropped, template arguments kept. */
export function shortKernelName(name: string): string {
  return name === ''
    ? '(unnamed kernel)'
    : name.replace(/\b[a-zA-Z_]\w*::/g, '').replace(/\(anonymous namespace\)::/g, '');
}
