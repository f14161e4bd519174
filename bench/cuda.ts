/**
 * The CUDA benchmark of `npm run bench -- --device cuda` (bench/cli.ts prints its table): on each GPU
 * problem, bf16, the three GPU benchmark programs side by side: the fused forward (bench/cuda_fused.ts:
 * the heuristic's config, and every compiled config), the fused backward (bench/cuda_fused_backward.ts),
 * the unfused forward + backward and the reference kernels (bench/cuda_unfused.ts), FlexAttention from
 * bench/flex_attention.py's --backward JSON when given, and the speed-ups. Each program's results are kept
 * whole in the JSON; the reference kernels are timed once (by the unfused program).
 */
import * as natten from '../lib';
import { benchCudaFused, type CudaFusedResult, readFlex } from './cuda_fused';
import { benchCudaFusedBackward, type CudaFusedBackwardResult, readFlexBackward } from './cuda_fused_backward';
import { benchCudaUnfused, type CudaBenchProblem, type CudaUnfusedResult } from './cuda_unfused';

/** Results of one problem. */
export interface CudaProblemResult {
  problem: string;
  fused: CudaFusedResult;
  /** Absent with --no-backward. */
  fusedBackward?: CudaFusedBackwardResult;
  unfused: CudaUnfusedResult;
  /** Speed-ups, time ratios (> 1: fused faster): flex fwd / fused fwd, flex bwd / fused bwd, unfused
   * (fwd + bwd) / fused (fwd + bwd). Absent when a side is missing. */
  fusedVsFlexForward?: number;
  fusedVsFlexBackward?: number;
  fusedVsUnfused?: number;
}

/** Results of a CUDA benchmark run. */
export interface CudaBenchResult {
  device: 'cuda';
  gpu: string;
  computeCapability: string;
  /** natten.hasFusedNA: false means the "fused" figures are the reference kernels'. */
  hasFusedNA: boolean;
  dtype: 'bfloat16';
  date: string;
  flexFile?: string;
  problems: CudaProblemResult[];
}

/** Options of runCudaBench. */
export interface CudaRunOptions {
  /** Timed runs per measurement (default: each program's own). */
  runs?: number;
  backward: boolean;
  /** bench/flex_attention.py --backward --json output. */
  flexFile?: string;
}

/** Throws a clear error when no CUDA device can run the benchmark. */
export function requireCuda(): void {
  if (natten.cuda.isAvailable()) return;
  throw new Error(
    natten.buildInfo().cuda
      ? '--device cuda needs a CUDA GPU, and none is visible here (check nvidia-smi and CUDA_VISIBLE_DEVICES)'
      : '--device cuda needs a CUDA GPU: this natten-node addon was built without CUDA (no nvcc at build time); ' +
        'rebuild on a GPU machine with NATTEN_CUDA=1 npm run build:native',
  );
}

const ratio = (a: number | undefined, b: number | undefined): number | undefined => {
  const r = a !== undefined && b !== undefined ? a / b : NaN;
  return Number.isFinite(r) ? r : undefined;
};

/** Runs the three GPU programs on each problem of `problems` in turn, calling `onRow` after each. */
export async function runCudaBench(
  problems: readonly CudaBenchProblem[],
  o: CudaRunOptions,
  onRow: (r: CudaProblemResult) => void,
): Promise<CudaBenchResult> {
  requireCuda();
  const device = natten.cuda.currentDevice();
  const info = natten.cuda.deviceInfo(device);
  const flexForward = o.flexFile ? readFlex(o.flexFile) : undefined;
  const flexBackward = o.flexFile ? readFlexBackward(o.flexFile) : undefined;
  const result: CudaBenchResult = {
    device: 'cuda',
    gpu: info.name,
    computeCapability: info.computeCapability,
    hasFusedNA: natten.hasFusedNA(`cuda:${device}`),
    dtype: 'bfloat16',
    date: new Date().toISOString(),
    flexFile: o.flexFile,
    problems: [],
  };
  for (const p of problems) {
    const common = { device, runs: o.runs, problems: [p], log: () => undefined };
    const [fused] = await benchCudaFused({ ...common, flex: flexForward, referenceRuns: 0 });
    const [fusedBackward] = o.backward
      ? await benchCudaFusedBackward({ ...common, flex: flexBackward, referenceRuns: 0 })
      : [undefined];
    const [unfused] = await benchCudaUnfused({ ...common, referenceRuns: o.runs && Math.min(o.runs, 5) });
    const u = unfused.unfused;
    const r: CudaProblemResult = {
      problem: p.name,
      fused,
      fusedBackward,
      unfused,
      fusedVsFlexForward: ratio(fused.flex?.ms, fused.forward.ms),
      fusedVsFlexBackward: ratio(fusedBackward?.flex?.ms, fusedBackward?.backward.ms),
      fusedVsUnfused: ratio(
        u.forward.ms + u.backward.ms,
        fusedBackward && fused.forward.ms + fusedBackward.backward.ms,
      ),
    };
    result.problems.push(r);
    onRow(r);
  }
  return result;
}
