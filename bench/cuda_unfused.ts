/**
 * GPU benchmark of the unfused NA path (QK + softmax + AV, and its backward: AV backward, softmax
 * backward, QK backward) and of the reference fused kernels, in bf16 on the problem list.
 * Each run is timed with CUDA events on the device's stream, queued behind a spin kernel so host-side
 * launch overhead does not show; the figure is the median over the runs. Useful FLOP/s count
 * 4 * B * H * N * prod(k) * D for the forward and 2.5 times that for the backward.
 *
 * `node dist/bench/cuda_unfused.js [--out FILE] [--runs N] [--device N]` writes JSON (default
 * bench/results/cuda_unfused.tmp.json) and prints a table; `benchCudaUnfused()` is the same as a function
 * for the benchmark CLI.
 */
import * as natten from '../lib';
import { native, type StorageHandle } from '../lib/native';
import { dtypeCode } from '../lib/dtype';
import { median } from './timing';
import { standaloneMain } from './standalone';

/** One benchmark problem (fused layout [B, ...spatial, H, D]; unfused [B, H, ...spatial, D]). */
export interface CudaBenchProblem {
  name: string;
  batch: number;
  heads: number;
  spatial: number[];
  kernel: number[];
  headDim: number;
}

/** The GPU problem list. */
export const CUDA_BENCH_PROBLEMS: readonly CudaBenchProblem[] = [
  { name: '1-D B1 H16 L32768 k2049 D128', batch: 1, heads: 16, spatial: [32768], kernel: [2049], headDim: 128 },
  { name: '2-D B4 H16 128x128 k13 D64', batch: 4, heads: 16, spatial: [128, 128], kernel: [13, 13], headDim: 64 },
  { name: '2-D B2 H16 128x128 k31 D128', batch: 2, heads: 16, spatial: [128, 128], kernel: [31, 31], headDim: 128 },
  { name: '2-D B64 H4 56x56 k7 D32', batch: 64, heads: 4, spatial: [56, 56], kernel: [7, 7], headDim: 32 },
  {
    name: '3-D B1 H16 16x32x32 k(5,9,9) D64',
    batch: 1,
    heads: 16,
    spatial: [16, 32, 32],
    kernel: [5, 9, 9],
    headDim: 64,
  },
];

/** Median time and useful throughput of one timed step. */
export interface TimedStep {
  ms: number;
  tflops: number;
}

/** Results of one problem. */
export interface CudaUnfusedResult {
  problem: string;
  /** Bytes of the attention tensor (bf16), the unfused path's largest buffer (four of them are live). */
  attentionBytes: number;
  unfused: {
    forward: TimedStep;
    backward: TimedStep;
    /** Median ms of each kernel family. */
    steps: Record<string, number>;
  };
  reference: { forward: TimedStep; backward: TimedStep };
  /** Set when the problem could not run (e.g. out of memory). */
  error?: string;
}

/** Options of benchCudaUnfused. */
export interface CudaBenchOptions {
  device?: number;
  runs?: number;
  /** Runs of the (slow) reference kernels. */
  referenceRuns?: number;
  problems?: readonly CudaBenchProblem[];
  log?: (line: string) => void;
  /** Called after each problem with the results so far (e.g. to save them progressively). */
  onResult?: (results: readonly CudaUnfusedResult[]) => void;
}

const DTYPE = 'bfloat16';

/** Useful forward FLOPs: 4 * B * H * N * prod(k) * D. */
export function forwardFlops(p: CudaBenchProblem): number {
  const n = p.spatial.reduce((a, b) => a * b, 1);
  const k = p.kernel.reduce((a, b) => a * b, 1);
  return 4 * p.batch * p.heads * n * k * p.headDim;
}

/**
 * Times `steps` (named groups of enqueued ops) `runs` times; returns the median ms of each step and of
 * their sum per run. Each run is queued behind a spin kernel so the GPU never waits for the host.
 */
function timeSteps(
  device: number,
  runs: number,
  steps: [string, () => void][],
): { total: number; steps: Record<string, number> } {
  const timers = steps.map(() => native.gpuTimerCreate({ device }));
  const totals: number[] = [];
  const per: number[][] = steps.map(() => []);
  for (let r = -1; r < runs; r++) {
    native.gpuSpin({ device, microseconds: 3000 });
    steps.forEach(([, fn], i) => {
      native.gpuTimerStart({ timer: timers[i] });
      fn();
      native.gpuTimerStop({ timer: timers[i] });
    });
    const ms = timers.map((timer) => native.gpuTimerElapsed({ timer }));
    if (r < 0) continue; // warm-up
    ms.forEach((x, i) => per[i].push(x));
    totals.push(ms.reduce((a, b) => a + b, 0));
  }
  const out: Record<string, number> = {};
  steps.forEach(([name], i) => (out[name] = median(per[i])));
  return { total: median(totals), steps: out };
}

function benchProblem(device: number, p: CudaBenchProblem, runs: number, refRuns: number): CudaUnfusedResult {
  const dev = `cuda:${device}` as const;
  const code = dtypeCode(DTYPE);
  const dims = p.spatial.length;
  const n = p.spatial.reduce((a, b) => a * b, 1);
  const K = p.kernel.reduce((a, b) => a * b, 1);
  const problem = {
    dims,
    batch: p.batch,
    heads: p.heads,
    headDim: p.headDim,
    length: p.spatial,
    kernel: p.kernel,
  };
  const na = { dtype: code, problem };
  const flops = forwardFlops(p);
  const rows = p.batch * p.heads * n;
  const held: natten.Tensor[] = [];
  const make = (shape: number[], seed?: number): StorageHandle => {
    const t =
      seed === undefined
        ? natten.empty(shape, { dtype: DTYPE, device: dev })
        : natten.randn(shape, { dtype: DTYPE, device: dev, seed });
    held.push(t);
    return t.handle();
  };
  const result: CudaUnfusedResult = {
    problem: p.name,
    attentionBytes: rows * K * 2,
    unfused: { forward: { ms: NaN, tflops: NaN }, backward: { ms: NaN, tflops: NaN }, steps: {} },
    reference: { forward: { ms: NaN, tflops: NaN }, backward: { ms: NaN, tflops: NaN } },
  };
  const step = (ms: number, f: number): TimedStep => ({ ms, tflops: f / (ms * 1e-3) / 1e12 });
  try {
    // Unfused path, layout [B, H, ...spatial, D].
    const uShape = [p.batch, p.heads, ...p.spatial, p.headDim];
    const aShape = [p.batch, p.heads, ...p.spatial, K];
    const q = make(uShape, 1),
      k = make(uShape, 2),
      v = make(uShape, 3),
      dOut = make(uShape, 4);
    const attn = make(aShape),
      probs = make(aShape),
      out = make(uShape);
    const dProbs = make(aShape),
      dAttn = make(aShape),
      dq = make(uShape),
      dk = make(uShape),
      dv = make(uShape);
    const fwd = timeSteps(device, runs, [
      ['qk', () => native.naQK({ ...na, q, k, attn })],
      ['softmax', () => native.softmax({ dtype: code, rows, cols: K, x: attn, y: probs })],
      ['av', () => native.naAV({ ...na, attn: probs, v, output: out })],
    ]);
    const bwd = timeSteps(device, runs, [
      ['avBackward', () => native.naAVBackward({ ...na, dOut, attn: probs, v, dAttn: dProbs, dv })],
      [
        'softmaxBackward',
        () => native.softmaxBackward({ dtype: code, rows, cols: K, dy: dProbs, y: probs, dx: dAttn }),
      ],
      ['qkBackward', () => native.naQKBackward({ ...na, dAttn, q, k, dq, dk })],
    ]);
    result.unfused = {
      forward: step(fwd.total, flops),
      backward: step(bwd.total, 2.5 * flops),
      steps: { ...fwd.steps, ...bwd.steps },
    };
    for (const t of held.splice(0)) t.dispose();

    // Reference fused kernels, layout [B, ...spatial, H, D].
    const fShape = [p.batch, ...p.spatial, p.heads, p.headDim];
    const fq = make(fShape, 5),
      fk = make(fShape, 6),
      fv = make(fShape, 7),
      fdo = make(fShape, 8);
    const fo = make(fShape),
      lse = (() => {
        const t = natten.empty([p.batch, ...p.spatial, p.heads], { dtype: 'float32', device: dev });
        held.push(t);
        return t.handle();
      })();
    const fdq = make(fShape),
      fdk = make(fShape),
      fdv = make(fShape);
    const fused = { ...na, q: fq, k: fk, v: fv, output: fo, lse, config: { useReference: true } };
    const rf = timeSteps(device, refRuns, [['forward', () => native.naForward(fused)]]);
    const rb = timeSteps(device, refRuns, [
      ['backward', () => native.naBackward({ ...fused, dOut: fdo, dq: fdq, dk: fdk, dv: fdv })],
    ]);
    result.reference = { forward: step(rf.total, flops), backward: step(rb.total, 2.5 * flops) };
  } catch (e) {
    result.error = (e as Error).message;
  } finally {
    for (const t of held) t.dispose();
  }
  return result;
}

/** Runs the GPU unfused/reference benchmark on every problem (bf16). */
export async function benchCudaUnfused(opts: CudaBenchOptions = {}): Promise<CudaUnfusedResult[]> {
  const device = opts.device ?? 0;
  const runs = opts.runs ?? 20;
  const refRuns = opts.referenceRuns ?? 5;
  const log = opts.log ?? ((line: string) => process.stdout.write(line + '\n'));
  const results: CudaUnfusedResult[] = [];
  for (const p of opts.problems ?? CUDA_BENCH_PROBLEMS) {
    const r = benchProblem(device, p, runs, refRuns);
    await natten.synchronize(`cuda:${device}`).catch(() => undefined);
    results.push(r);
    log(formatRow(r));
    opts.onResult?.(results);
  }
  return results;
}

function fmt(s: TimedStep): string {
  return `${s.ms.toFixed(2).padStart(9)} ms ${s.tflops.toFixed(1).padStart(6)} TF/s`;
}

/** One table row: problem, unfused forward/backward, reference forward/backward. */
export function formatRow(r: CudaUnfusedResult): string {
  if (r.error) return `${r.problem.padEnd(34)} error: ${r.error}`;
  return (
    `${r.problem.padEnd(34)} unfused fwd ${fmt(r.unfused.forward)} | bwd ${fmt(r.unfused.backward)} | ` +
    `reference fwd ${fmt(r.reference.forward)} | bwd ${fmt(r.reference.backward)}`
  );
}

standaloneMain<CudaUnfusedResult>(
  module,
  'cuda_unfused',
  'CUDA unfused/reference NA benchmark',
  DTYPE,
  ({ arg, device, save }) => benchCudaUnfused({ device, runs: Number(arg('--runs') ?? 20), onResult: save }),
);
