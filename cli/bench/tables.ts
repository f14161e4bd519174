/**
 * The bench command's tables: one row per problem, "ms / rate" per timed path (GFLOP/s on the CPU, useful
 * TFLOP/s on a GPU) and the speed-ups, plus the CPU's peak footer.
 */
import type { CpuBenchResult, ProblemResult } from '../../bench/cpu';
import type { CudaBenchResult, CudaProblemResult } from '../../bench/cuda';
import type { ConfigTiming } from '../../bench/cuda_fused';
import type { TimedStep } from '../../bench/cuda_unfused';
import { renderTable } from '../output';

const fmt = (x: number | undefined, digits = 1): string =>
  x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);

/** "ms/rate" of one timed path, or '-'. */
const cell = (ms: number | undefined, rate: number | undefined, msDigits = 2): string =>
  ms === undefined || !Number.isFinite(ms) ? '-' : `${fmt(ms, msDigits)}/${fmt(rate)}`;

const cpuCell = (p?: { medianMs: number; gflops: number }): string => cell(p?.medianMs, p?.gflops);

function cpuRow(r: ProblemResult): string[] {
  return [
    r.problem.name,
    cpuCell(r.fusedForward),
    cpuCell(r.fusedBackward),
    cpuCell(r.unfusedForward),
    cpuCell(r.unfusedBackward),
    cpuCell(r.naiveForward),
    fmt(r.naiveForward && r.naiveForward.medianMs / r.fusedForward.medianMs),
    fmt(r.unfusedForward.medianMs / r.fusedForward.medianMs),
  ];
}

/** Median runs (the table) and the best run: on a shared host, noise only ever adds time. */
function cpuFooter(r: CpuBenchResult): string[] {
  const best = (t: { gflops: number; medianMs: number; minMs: number }): number => (t.gflops * t.medianMs) / t.minMs;
  const lines = [
    `${r.cpus} CPUs (${r.cpuModel}), ${r.threads} engine threads, SIMD level ${r.simdLevel}, fp32.`,
    `FMA peak: theoretical ${r.theoreticalPeakFormula}; measured (all engine threads, FMA-only loop) ` +
      `${fmt(r.measuredPeakGflops)} GFLOP/s. Percentages use the larger, ${fmt(r.peakGflops)} GFLOP/s.`,
  ];
  for (const p of r.problems) {
    const f = p.fusedForward;
    const b = p.fusedBackward;
    lines.push(
      `  ${p.problem.name.padEnd(16)} fused forward ${fmt((100 * f.gflops) / r.peakGflops)}% of peak ` +
        `(best run ${fmt(best(f))} GFLOP/s, ${fmt((100 * best(f)) / r.peakGflops)}%)` +
        (b
          ? `, fused backward ${fmt((100 * b.gflops) / r.peakGflops)}% (best ${fmt((100 * best(b)) / r.peakGflops)}%)`
          : ''),
    );
  }
  return lines;
}

/** The CPU benchmark as text. */
export function renderCpuBench(r: CpuBenchResult): string {
  const head = ['problem', 'fused fwd', 'fused bwd', 'unfused fwd', 'unfused bwd', 'naive fwd', 'x naive', 'x unfused'];
  return [
    'ms / GFLOP/s for each path (medians); x: speed-up of the fused forward',
    renderTable(head, r.problems.map(cpuRow)),
    ...cpuFooter(r),
  ].join('\n');
}

const gpuCell = (s?: TimedStep): string => cell(s?.ms, s?.tflops, 3);

/** The unfused forward + backward as one step (time sum, throughput of the sum). */
function unfusedTotal(r: CudaProblemResult): TimedStep {
  const { forward: f, backward: b } = r.unfused.unfused;
  return { ms: f.ms + b.ms, tflops: (f.tflops * f.ms + b.tflops * b.ms) / (f.ms + b.ms) };
}

/** The fastest forced forward config, as "kernel [q]/[kv] ms". */
function bestConfig(r: CudaProblemResult): string {
  const best = r.fused.configs.reduce<ConfigTiming | undefined>((b, c) => (b && b.ms <= c.ms ? b : c), undefined);
  return best ? `${best.kernel} [${best.qTileShape}]/[${best.kvTileShape}] ${fmt(best.ms, 3)}` : '-';
}

function cudaRow(r: CudaProblemResult): string[] {
  return [
    r.problem,
    gpuCell(r.fused.forward),
    bestConfig(r),
    gpuCell(r.fusedBackward?.backward),
    gpuCell(unfusedTotal(r)),
    gpuCell(r.unfused.reference.forward),
    fmt(r.fused.flex?.ms, 3),
    fmt(r.fusedBackward?.flex?.ms, 3),
    fmt(r.fusedVsFlexForward, 2),
    fmt(r.fusedVsFlexBackward, 2),
    fmt(r.fusedVsUnfused),
  ];
}

/** The CUDA benchmark as text (and each problem's errors under the table). */
export function renderCudaBench(r: CudaBenchResult, flexGiven: boolean): string {
  const head = [
    'problem',
    'fused fwd',
    'best fwd config, ms',
    'fused bwd',
    'unfused f+b',
    'reference fwd',
    'flex fwd ms',
    'flex bwd ms',
    'x flex fwd',
    'x flex bwd',
    'f+b x unfused',
  ];
  const errors = r.problems.flatMap((p) =>
    Object.entries({
      'fused forward': p.fused.error,
      'fused backward': p.fusedBackward?.error,
      unfused: p.unfused.error,
    })
      .filter(([, e]) => e)
      .map(([what, e]) => `  ${p.problem}: ${what} error: ${e}`),
  );
  return [
    'ms / useful TFLOP/s, bf16; x: speed-up of fused (time of the other / time of fused)',
    renderTable(head, r.problems.map(cudaRow)),
    ...errors,
    `${r.gpu} (compute capability ${r.computeCapability}), bf16, CUDA-event medians.` +
      (r.hasFusedNA ? '' : ' No fused tensor-core kernels on this GPU: the fused columns are the reference kernels.') +
      (flexGiven
        ? ''
        : ' FlexAttention columns: pass --flex FILE (python3 bench/flex_attention.py --backward --json FILE).'),
  ].join('\n');
}
