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
import { native, type NativeFusedConfig, type StorageHandle } from '../lib/native';
import { dtypeCode } from '../lib/dtype';
import { forwardArchOf } from '../lib/ops/fused_configs';
import { FLEX_NAMES, timeOne } from './gpu_timing';
import { CUDA_BENCH_PROBLEMS, type CudaBenchProblem, forwardFlops, type TimedStep } from './cuda_unfused';
import { standaloneMain } from './standalone';

/** Timing of one tile config. */
export interface ConfigTiming extends TimedStep {
  /** Kernel family: 'mma' (mma.sync) or 'wgmma' (sm_90a). */
  kernel: 'mma' | 'wgmma';
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

const DTYPE = 'bfloat16';

function benchProblem(device: number, p: CudaBenchProblem, runs: number, refRuns: number): CudaFusedResult {
  const dev = `cuda:${device}` as const;
  const code = dtypeCode(DTYPE);
  const dims = p.spatial.length;
  const problem = { dims, batch: p.batch, heads: p.heads, headDim: p.headDim, length: p.spatial, kernel: p.kernel };
  const flops = forwardFlops(p);
  const step = (ms: number): TimedStep => ({ ms, tflops: flops / (ms * 1e-3) / 1e12 });
  const held: natten.Tensor[] = [];
  const keep = (t: natten.Tensor): StorageHandle => {
    held.push(t);
    return t.handle();
  };
  const result: CudaFusedResult = { problem: p.name, forward: { ms: NaN, tflops: NaN }, configs: [] };
  try {
    const shape = [p.batch, ...p.spatial, p.heads, p.headDim];
    const q = keep(natten.randn(shape, { dtype: DTYPE, device: dev, seed: 1 }));
    const k = keep(natten.randn(shape, { dtype: DTYPE, device: dev, seed: 2 }));
    const v = keep(natten.randn(shape, { dtype: DTYPE, device: dev, seed: 3 }));
    const out = keep(natten.empty(shape, { dtype: DTYPE, device: dev }));
    const lse = keep(natten.empty([p.batch, ...p.spatial, p.heads], { dtype: 'float32', device: dev }));
    const run = (config: NativeFusedConfig) => () =>
      native.naForward({ dtype: code, problem, q, k, v, output: out, lse, config });
    result.forward = step(timeOne(device, runs, run({})));
    for (const c of natten.fusedConfigs({ dims, headDim: p.headDim, dtype: DTYPE, device: dev })) {
      if (c.pass !== 'forward') continue;
      // The family too: the same tiles exist in both.
      const forwardArch = forwardArchOf(c.kernel);
      const ms = timeOne(device, runs, run({ qTileShape: c.qTileShape, kvTileShape: c.kvTileShape, forwardArch }));
      result.configs.push({ kernel: c.kernel, qTileShape: c.qTileShape, kvTileShape: c.kvTileShape, ...step(ms) });
    }
    if (refRuns > 0) result.reference = step(timeOne(device, refRuns, run({ useReference: true })));
  } catch (e) {
    result.error = (e as Error).message;
  } finally {
    for (const t of held) t.dispose();
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
  DTYPE,
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
