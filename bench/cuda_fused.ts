/**
 * GPU benchmark of the tensor-core fused NA forward (kernels/fused) in bf16 on the problem list:
 * the heuristic's config and every compiled candidate config (natten.fusedConfigs), each run timed with
 * CUDA events on the device's stream behind a spin kernel (so host launch overhead does not show),
 * median over the runs, useful TFLOP/s = 4 * B * H * N * prod(k) * D. With --flex FILE (the JSON of
 * bench/flex_attention.py run on the same card in the same run) the table gets a FlexAttention
 * column and the speedup.
 *
 * `node dist/bench/cuda_fused.js [--out FILE] [--runs N] [--device N] [--flex FILE]` writes JSON (default
 * bench/results/cuda_fused.tmp.json) and prints a table; `benchCudaFused()` is the same as a function.
 */
import * as fs from 'fs';
import * as natten from '../lib';
import { native, type NativeFusedConfig } from '../lib/native';
import { type ForwardKernel, forwardArchOf } from '../lib/ops/fused_configs';
import { FLEX_NAMES, timeOne } from './gpu_timing';
import { CUDA_BENCH_PROBLEMS, type CudaBenchProblem, type TimedStep } from './cuda_unfused';
import { FUSED_BENCH_DTYPE, FusedBenchProblem } from './fused_bench_problem';
import { standaloneMain } from './standalone';

/** Timing of one tile config. */
export interface ConfigTiming extends TimedStep {
  /** Kernel family: 'mma' (mma.sync) or 'wgmma' (sm_90a). */
  kernel: ForwardKernel;
  qTileShape: number[];
  kvTileShape: number[];
}

/** Results of one problem. */
export interface CudaFusedResult {
  problem: string;
  /** The default (heuristic) choice. */
  forward: TimedStep;
  /** Every compiled candidate, forced by qTileShape/kvTileShape. */
  configs: ConfigTiming[];
  /** The reference (SIMT) fused kernel, for scale. */
  reference?: TimedStep;
  /** FlexAttention forward on the same card (from --flex), and fused / flex speed ratio. */
  flex?: TimedStep;
  speedupVsFlex?: number;
  error?: string;
}

/** Options of benchCudaFused. */
export interface CudaFusedBenchOptions {
  device?: number;
  runs?: number;
  referenceRuns?: number;
  problems?: readonly CudaBenchProblem[];
  /** FlexAttention results keyed by problem name (bench/flex_attention.py JSON rows). */
  flex?: Record<string, TimedStep>;
  log?: (line: string) => void;
  onResult?: (results: readonly CudaFusedResult[]) => void;
}

function benchProblem(device: number, p: CudaBenchProblem, runs: number, refRuns: number): CudaFusedResult {
  const b = new FusedBenchProblem(device, p, 1);
  const result: CudaFusedResult = { problem: p.name, forward: { ms: NaN, tflops: NaN }, configs: [] };
  try {
    const [q, k, v, out, lse] = [b.randn(1), b.randn(2), b.randn(3), b.empty(), b.lse()];
    const run = (config: NativeFusedConfig) => () =>
      native.naForward({ dtype: b.code, problem: b.problem, q, k, v, output: out, lse, config });
    result.forward = b.step(timeOne(device, runs, run({})));
    // The configs that run this problem (the window-union ones only where its Q tiles' unions fit).
    for (const c of native.fusedConfigs({
      device,
      dims: b.dims,
      headDim: p.headDim,
      headDimV: p.headDim,
      dtype: b.code,
      problem: b.problem,
    })) {
      if (c.pass !== 'forward') continue;
      // The family too: the same tiles exist in both.
      const forwardArch = forwardArchOf(c.kernel);
      const ms = timeOne(device, runs, run({ qTileShape: c.qTileShape, kvTileShape: c.kvTileShape, forwardArch }));
      result.configs.push({ kernel: c.kernel, qTileShape: c.qTileShape, kvTileShape: c.kvTileShape, ...b.step(ms) });
    }
    if (refRuns > 0) result.reference = b.step(timeOne(device, refRuns, run({ useReference: true })));
  } catch (e) {
    result.error = (e as Error).message;
  } finally {
    b.dispose();
  }
  return result;
}

/** Runs the fused-forward benchmark on every problem (bf16). */
export async function benchCudaFused(opts: CudaFusedBenchOptions = {}): Promise<CudaFusedResult[]> {
  const device = opts.device ?? 0;
  const runs = opts.runs ?? 30;
  const log = opts.log ?? ((line: string) => process.stdout.write(line + '\n'));
  const results: CudaFusedResult[] = [];
  const problems = opts.problems ?? CUDA_BENCH_PROBLEMS;
  for (const p of problems) {
    const r = benchProblem(device, p, runs, opts.referenceRuns ?? 3);
    const flexName = FLEX_NAMES[CUDA_BENCH_PROBLEMS.indexOf(p)];
    const flex = flexName ? opts.flex?.[flexName] : undefined;
    if (flex) {
      r.flex = flex;
      r.speedupVsFlex = flex.ms / r.forward.ms;
    }
    await natten.synchronize(`cuda:${device}`).catch(() => undefined);
    results.push(r);
    log(formatRow(r));
    opts.onResult?.(results);
  }
  return results;
}

/** One table row: problem, fused forward (heuristic), best forced config, FlexAttention and speedup. */
export function formatRow(r: CudaFusedResult): string {
  if (r.error) return `${r.problem.padEnd(34)} error: ${r.error}`;
  const f = (s: TimedStep) => `${s.ms.toFixed(3).padStart(8)} ms ${s.tflops.toFixed(1).padStart(6)} TF/s`;
  const best = r.configs.reduce<ConfigTiming | undefined>(
    (b, c) => (b === undefined || c.ms < b.ms ? c : b),
    undefined,
  );
  return (
    `${r.problem.padEnd(34)} fused fwd ${f(r.forward)}` +
    (best ? ` | best ${best.kernel} [${best.qTileShape}]/[${best.kvTileShape}] ${f(best)}` : '') +
    (r.flex ? ` | flex ${f(r.flex)} | x${r.speedupVsFlex!.toFixed(2)}` : '') +
    (r.reference ? ` | reference ${f(r.reference)}` : '')
  );
}

/** Reads bench/flex_attention.py's JSON into TimedSteps keyed by problem name. */
export function readFlex(file: string): Record<string, TimedStep> {
  const rows = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    problem: string;
    forward_ms: number;
    forward_tflops: number;
  }[];
  const out: Record<string, TimedStep> = {};
  for (const r of rows) out[r.problem] = { ms: r.forward_ms, tflops: r.forward_tflops };
  return out;
}

standaloneMain<CudaFusedResult>(
  module,
  'cuda_fused',
  'CUDA fused NA forward benchmark',
  FUSED_BENCH_DTYPE,
  ({ arg, device, save }) => {
    const flexFile = arg('--flex');
    return benchCudaFused({
      device,
      runs: Number(arg('--runs') ?? 30),
      onResult: save,
      flex: flexFile ? readFlex(flexFile) : undefined,
    });
  },
);
