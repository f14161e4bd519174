/**
 * GPU benchmark of the tensor-core fused NA backward (kernels/fused/fna_backward*) in bf16 on the issue's
 * problem list: the default (KV-parallel: dQ by fp32 atomics), deterministic mode (Q-parallel dQ pass),
 * every backward tile config (natten.fusedConfigs, pass 'backward'), and the reference kernel for scale.
 * Each run is timed with CUDA events on the device's stream behind a spin kernel, median over the runs;
 * useful TFLOP/s = 2.5 * 4 * B * H * N * prod(k) * D. With --flex FILE (bench/flex_attention.py
 * --backward JSON from the same card in the same run) the table gets FlexAttention's backward and
 * the speedup.
 *
 * `node dist/bench/cuda_fused_backward.js [--out FILE] [--runs N] [--device N] [--flex FILE]` writes JSON
 * (default bench/results/cuda_fused_backward.tmp.json) and prints a table; `benchCudaFusedBackward()` is the
 * same as a function.
 */
import * as fs from 'fs';
import * as natten from '../lib';
import { native, type NativeFusedConfig } from '../lib/native';
import { backwardArchOf, type BackwardKernel } from '../lib/ops/fused_configs';
import { FLEX_NAMES, timeOne } from './gpu_timing';
import { CUDA_BENCH_PROBLEMS, type CudaBenchProblem, type TimedStep } from './cuda_unfused';
import { FUSED_BENCH_DTYPE, FusedBenchProblem } from './fused_bench_problem';
import { standaloneMain } from './standalone';

/** Timing of one backward tile config. */
export interface BackwardConfigTiming extends TimedStep {
  /** The backward kernel family ('mma' or the forced-only 'wgmma'). */
  backwardKernel: BackwardKernel;
  backwardArch: number;
  backwardQTileShape: number[];
  backwardKvTileShape: number[];
}

/** Results of one problem. */
export interface CudaFusedBackwardResult {
  problem: string;
  /** Default mode and heuristic config (KV-parallel, dQ by atomics). */
  backward: TimedStep;
  /** useDeterministicAlgorithms(true): the Q-parallel dQ pass, bitwise reproducible. */
  deterministic: TimedStep;
  /** Every backward config, forced by backwardQTileShape/backwardKvTileShape (default mode). */
  configs: BackwardConfigTiming[];
  /** The reference (SIMT) backward kernel, for scale. */
  reference?: TimedStep;
  /** FlexAttention's backward on the same card (from --flex), and flex / fused time ratio. */
  flex?: TimedStep;
  speedupVsFlex?: number;
  error?: string;
}

/** Options of benchCudaFusedBackward. */
export interface CudaFusedBackwardBenchOptions {
  device?: number;
  runs?: number;
  referenceRuns?: number;
  problems?: readonly CudaBenchProblem[];
  /** FlexAttention backward results keyed by problem name (bench/flex_attention.py --backward rows). */
  flex?: Record<string, TimedStep>;
  log?: (line: string) => void;
  onResult?: (results: readonly CudaFusedBackwardResult[]) => void;
}

function benchProblem(device: number, p: CudaBenchProblem, runs: number, refRuns: number): CudaFusedBackwardResult {
  const b = new FusedBenchProblem(device, p, 2.5);
  const nan = { ms: NaN, tflops: NaN };
  const result: CudaFusedBackwardResult = { problem: p.name, backward: nan, deterministic: nan, configs: [] };
  try {
    const [q, k, v, dOut, out, lse] = [b.randn(1), b.randn(2), b.randn(3), b.randn(4), b.empty(), b.lse()];
    const [dq, dk, dv] = [b.empty(), b.empty(), b.empty()];
    const inputs = { dtype: b.code, problem: b.problem, q, k, v, output: out, lse };
    native.naForward(inputs); // real O and LSE for the backward
    const run = (config: NativeFusedConfig) => () => native.naBackward({ ...inputs, dOut, dq, dk, dv, config });
    result.backward = b.step(timeOne(device, runs, run({ kvParallel: true, deterministic: false })));
    result.deterministic = b.step(timeOne(device, runs, run({ kvParallel: false, deterministic: true })));
    for (const c of natten.fusedConfigs({
      dims: b.dims,
      headDim: p.headDim,
      dtype: FUSED_BENCH_DTYPE,
      device: b.dev,
    })) {
      if (c.pass !== 'backward') continue;
      // Each config in its own family (the wgmma backward's tiles are not mma.sync tiles).
      const forced = {
        backwardArch: backwardArchOf(c.kernel as BackwardKernel),
        backwardQTileShape: c.qTileShape,
        backwardKvTileShape: c.kvTileShape,
      };
      const ms = timeOne(device, runs, run(forced));
      result.configs.push({ backwardKernel: c.kernel as BackwardKernel, ...forced, ...b.step(ms) });
    }
    if (refRuns > 0) result.reference = b.step(timeOne(device, refRuns, run({ useReference: true })));
  } catch (e) {
    result.error = (e as Error).message;
  } finally {
    b.dispose();
  }
  return result;
}

/** One table row: problem, fused backward (default and deterministic), best config, FlexAttention, reference. */
export function formatRow(r: CudaFusedBackwardResult): string {
  if (r.error) return `${r.problem.padEnd(34)} error: ${r.error}`;
  const f = (s: TimedStep) => `${s.ms.toFixed(3).padStart(8)} ms ${s.tflops.toFixed(1).padStart(6)} TF/s`;
  const best = r.configs.reduce<BackwardConfigTiming | undefined>(
    (b, c) => (b === undefined || c.ms < b.ms ? c : b),
    undefined,
  );
  return (
    `${r.problem.padEnd(34)} fused bwd ${f(r.backward)} | deterministic ${f(r.deterministic)}` +
    (best
      ? ` | best ${best.backwardKernel} [${best.backwardQTileShape}]/[${best.backwardKvTileShape}] ${f(best)}`
      : '') +
    (r.flex ? ` | flex bwd ${f(r.flex)} | x${r.speedupVsFlex!.toFixed(2)}` : '') +
    (r.reference ? ` | reference ${f(r.reference)}` : '')
  );
}

/** Reads bench/flex_attention.py --backward JSON into TimedSteps (backward only) keyed by problem name. */
export function readFlexBackward(file: string): Record<string, TimedStep> {
  const rows = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    problem: string;
    backward_ms?: number;
    backward_tflops?: number;
  }[];
  const out: Record<string, TimedStep> = {};
  for (const r of rows) {
    if (r.backward_ms !== undefined && r.backward_tflops !== undefined)
      out[r.problem] = { ms: r.backward_ms, tflops: r.backward_tflops };
  }
  return out;
}

/** Runs the fused-backward benchmark on every problem (bf16). */
export async function benchCudaFusedBackward(
  opts: CudaFusedBackwardBenchOptions = {},
): Promise<CudaFusedBackwardResult[]> {
  const device = opts.device ?? 0;
  const runs = opts.runs ?? 20;
  const log = opts.log ?? ((line: string) => process.stdout.write(line + '\n'));
  const results: CudaFusedBackwardResult[] = [];
  const problems = opts.problems ?? CUDA_BENCH_PROBLEMS;
  for (const p of problems) {
    const r = benchProblem(device, p, runs, opts.referenceRuns ?? 2);
    const flexName = FLEX_NAMES[CUDA_BENCH_PROBLEMS.indexOf(p)];
    const flex = flexName ? opts.flex?.[flexName] : undefined;
    if (flex && !r.error) {
      r.flex = flex;
      r.speedupVsFlex = flex.ms / r.backward.ms;
    }
    await natten.synchronize(`cuda:${device}`).catch(() => undefined);
    results.push(r);
    log(formatRow(r));
    opts.onResult?.(results);
  }
  return results;
}

standaloneMain<CudaFusedBackwardResult>(
  module,
  'cuda_fused_backward',
  'CUDA fused NA backward benchmark',
  FUSED_BENCH_DTYPE,
  ({ arg, device, save }) => {
    const flexFile = arg('--flex');
    return benchCudaFusedBackward({
      device,
      runs: Number(arg('--runs') ?? 20),
      referenceRuns: Number(arg('--reference-runs') ?? 2),
      onResult: save,
      flex: flexFile ? readFlexBackward(flexFile) : undefined,
    });
  },
);
