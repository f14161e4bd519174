/**
 * The CPU benchmark's problem list. A problem is one neighborhood-attention shape on the fused layout
 * [batch, ...spatial, heads, headDim].
 */

/** One benchmark problem. */
export interface BenchProblem {
  /** Short unique name, e.g. '2d-64x64-k13'. */
  name: string;
  batch: number;
  heads: number;
  spatial: number[];
  kernelSize: number[];
  headDim: number;
  dilation?: number[];
  stride?: number[];
  isCausal?: boolean[];
}

/** Useful forward FLOPs (docs/design.md §8): 4 * B * H * N * prod(k) * D; the backward counts 2.5 times that. */
export function usefulFlops(p: BenchProblem): number {
  const n = p.spatial.reduce((a, b) => a * b, 1);
  const k = p.kernelSize.reduce((a, b) => a * b, 1);
  return 4 * p.batch * p.heads * n * k * p.headDim;
}

/** Issue 3's CPU list: D = 64, B = 1, H = 4. */
export const CPU_PROBLEMS: BenchProblem[] = [
  { name: '1d-4096-k255', batch: 1, heads: 4, spatial: [4096], kernelSize: [255], headDim: 64 },
  { name: '2d-64x64-k7', batch: 1, heads: 4, spatial: [64, 64], kernelSize: [7, 7], headDim: 64 },
  { name: '2d-64x64-k13', batch: 1, heads: 4, spatial: [64, 64], kernelSize: [13, 13], headDim: 64 },
  { name: '3d-16x16x16-k5', batch: 1, heads: 4, spatial: [16, 16, 16], kernelSize: [5, 5, 5], headDim: 64 },
];
