/**
 * The five problems the Hopper issues (14: forward, 18: backward) are measured on, through the public API,
 * and the median the timing scripts report (dev/gpu/fna_ws_time.ts, dev/gpu/fna_bwd_wgmma_time.ts).
 */

/** One problem: [batch, ...spatial, heads, headDim] bf16, one kernel size per axis. */
export interface Problem {
  name: string;
  batch: number;
  heads: number;
  spatial: number[];
  kernel: number[];
  headDim: number;
}

/** The problems, in the issues' order. */
export const PROBLEMS: Problem[] = [
  { name: '1-D B1 H16 L32768 k2049 D128', batch: 1, heads: 16, spatial: [32768], kernel: [2049], headDim: 128 },
  { name: '2-D B2 H16 128² k31 D128', batch: 2, heads: 16, spatial: [128, 128], kernel: [31, 31], headDim: 128 },
  { name: '2-D B4 H16 128² k13 D64', batch: 4, heads: 16, spatial: [128, 128], kernel: [13, 13], headDim: 64 },
  {
    name: '3-D B1 H16 16x32x32 k(5,9,9) D64',
    batch: 1,
    heads: 16,
    spatial: [16, 32, 32],
    kernel: [5, 9, 9],
    headDim: 64,
  },
  { name: '2-D B64 H4 56² k7 D32', batch: 64, heads: 4, spatial: [56, 56], kernel: [7, 7], headDim: 32 },
];

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
