/**
 * The CPU benchmark: for each problem, fp32, the fused forward and backward of the CPU engine, the
 * unfused path (QK -> scale -> softmax -> AV on NATTEN's [B, H, ...spatial, D] layout, and its backward),
 * and the naive single-thread loop (one query at a time), as useful GFLOP/s and speed-ups. The machine's
 * FMA peak is measured with the engine's own threads.
 */
import * as natten from '../lib';
import { native } from '../lib/native';
import { dtypeCode } from '../lib/dtype';
import { scaled } from '../lib/ops/layout';
import { BenchProblem, usefulFlops } from './problems';
import { timeOp, Timing } from './timing';

/** Options of a device benchmark run. */
export interface BenchOptions {
  runs: number;
  warmup: number;
  /** Skip the naive loop (slow on big problems). */
  naive: boolean;
  /** Also time the backward passes. */
  backward: boolean;
}

/** One timed path of a problem. */
export interface PathResult extends Timing {
  gflops: number;
}

/** Results of one problem. */
export interface ProblemResult {
  problem: BenchProblem;
  usefulGflopForward: number;
  fusedForward: PathResult;
  fusedBackward?: PathResult;
  unfusedForward: PathResult;
  unfusedBackward?: PathResult;
  naiveForward?: PathResult;
}

/** Results of a CPU benchmark run. */
export interface CpuBenchResult {
  device: 'cpu';
  date: string;
  cpuModel: string;
  cpus: number;
  threads: number;
  /** The CPU engine's SIMD level that ran (buildInfo().cpuSimd; NATTEN_CPU_LEVEL caps it). */
  simdLevel: string;
  dtype: 'float32';
  /** fp32 FMA throughput of the engine's threads, measured just before the problems (GFLOP/s). */
  measuredPeakGflops: number;
  /** cores x 2 FMA units x fp32 lanes (16 with AVX-512, else 8) x 2 FLOP x nominal clock (GFLOP/s). */
  theoreticalPeakGflops: number;
  /** How theoreticalPeakGflops was computed. */
  theoreticalPeakFormula: string;
  /** The peak the percentages refer to: the larger of the measured and theoretical figures (turbo clocks
   * can make the measured one larger). */
  peakGflops: number;
  problems: ProblemResult[];
}

function path(t: Timing, flops: number): PathResult {
  return { ...t, gflops: flops / (t.medianMs * 1e6) };
}

async function runProblem(p: BenchProblem, o: BenchOptions): Promise<ProblemResult> {
  const dims = p.spatial.length;
  const win = { kernelSize: p.kernelSize, dilation: p.dilation, stride: p.stride, isCausal: p.isCausal };
  const shape = [p.batch, ...p.spatial, p.heads, p.headDim];
  const q = natten.randn(shape, { seed: 1 }),
    k = natten.randn(shape, { seed: 2 }),
    v = natten.randn(shape, { seed: 3 });
  const fwd = [natten.na1d, natten.na2d, natten.na3d][dims - 1];
  const bwd = [natten.na1dBackward, natten.na2dBackward, natten.na3dBackward][dims - 1];
  const flops = usefulFlops(p);
  const result: ProblemResult = {
    problem: p,
    usefulGflopForward: flops / 1e9,
    fusedForward: path(await timeOp('cpu', () => [fwd(q, k, v, win)], o.runs, o.warmup), flops),
    unfusedForward: { medianMs: 0, minMs: 0, maxMs: 0, runs: 0, gflops: 0 },
  };
  const { output, lse } = fwd(q, k, v, { ...win, returnLse: true });
  const dOut = natten.randn(shape, { seed: 4 });
  if (o.backward) {
    result.fusedBackward = path(
      await timeOp(
        'cpu',
        () => {
          const g = bwd(dOut, q, k, v, output, lse, win);
          return [g.dq, g.dk, g.dv];
        },
        o.runs,
        o.warmup,
      ),
      2.5 * flops,
    );
  }

  // The unfused path on its own layout (the permutes are not timed).
  const uShape = [p.batch, p.heads, ...p.spatial, p.headDim];
  const uq = natten.randn(uShape, { seed: 1 }),
    uk = natten.randn(uShape, { seed: 2 }),
    uv = natten.randn(uShape, { seed: 3 });
  const QK = [natten.na1dQK, natten.na2dQK, natten.na3dQK][dims - 1];
  const AV = [natten.na1dAV, natten.na2dAV, natten.na3dAV][dims - 1];
  const QKB = [natten.na1dQKBackward, natten.na2dQKBackward, natten.na3dQKBackward][dims - 1];
  const AVB = [natten.na1dAVBackward, natten.na2dAVBackward, natten.na3dAVBackward][dims - 1];
  const scale = 1 / Math.sqrt(p.headDim);
  const unfusedForward = (): natten.Tensor[] => {
    const attn = QK(uq, uk, win);
    const s = scaled(attn, scale);
    const probs = natten.softmax(s);
    return [attn, s, probs, AV(probs, uv, win)];
  };
  result.unfusedForward = path(await timeOp('cpu', unfusedForward, o.runs, o.warmup), flops);
  if (o.backward) {
    const attn = QK(uq, uk, win);
    const probs = natten.softmax(scaled(attn, scale));
    const uOut = natten.randn(uShape, { seed: 4 });
    result.unfusedBackward = path(
      await timeOp(
        'cpu',
        () => {
          const av = AVB(uOut, probs, uv, win);
          const dS = natten.softmaxBackward(av.dAttn, probs);
          const dAttn = scaled(dS, scale);
          const qk = QKB(dAttn, uq, uk, win);
          return [av.dAttn, av.dv, dS, dAttn, qk.dq, qk.dk];
        },
        o.runs,
        o.warmup,
      ),
      2.5 * flops,
    );
    for (const t of [attn, probs, uOut]) t.dispose();
  }
  if (o.naive) {
    const out = natten.empty(shape),
      l = natten.empty([p.batch, ...p.spatial, p.heads]);
    const problem = {
      dims,
      batch: p.batch,
      heads: p.heads,
      headsKv: p.heads,
      headDim: p.headDim,
      headDimV: p.headDim,
      length: p.spatial,
      kernel: p.kernelSize,
      stride: p.stride ?? p.kernelSize.map(() => 1),
      dilation: p.dilation ?? p.kernelSize.map(() => 1),
      causal: p.isCausal ?? p.kernelSize.map(() => false),
      nExtra: 0,
      scale: 1 / Math.sqrt(p.headDim),
      hasRpb: false,
    };
    result.naiveForward = path(
      await timeOp(
        'cpu',
        () => {
          native.naForwardNaive({
            dtype: dtypeCode('float32'),
            problem,
            q: q.handle(),
            k: k.handle(),
            v: v.handle(),
            output: out.handle(),
            lse: l.handle(),
          });
          return [];
        },
        Math.max(1, Math.min(3, o.runs)),
        0,
      ),
      flops,
    );
    out.dispose();
    l.dispose();
  }
  for (const t of [q, k, v, output, lse, dOut, uq, uk, uv]) t.dispose();
  return result;
}

/** Runs the CPU benchmark over `problems`, calling `onProblem` as each finishes. */
export async function runCpuBench(
  problems: BenchProblem[],
  o: BenchOptions,
  onProblem: (r: ProblemResult) => void = () => undefined,
): Promise<CpuBenchResult> {
  const os = await import('os');
  const measuredPeakGflops = await native.cpuFmaPeak({ ms: 1000 });
  const theory = theoreticalPeak(natten.buildInfo().cpuThreads);
  const results: ProblemResult[] = [];
  for (const p of problems) {
    const r = await runProblem(p, o);
    onProblem(r);
    results.push(r);
  }
  return {
    device: 'cpu',
    date: new Date().toISOString(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    threads: natten.buildInfo().cpuThreads,
    simdLevel: natten.buildInfo().cpuSimd,
    dtype: 'float32',
    measuredPeakGflops,
    theoreticalPeakGflops: theory.gflops,
    theoreticalPeakFormula: theory.formula,
    peakGflops: Math.max(measuredPeakGflops, theory.gflops),
    problems: results,
  };
}

/** cores x 2 FMA units x lanes x 2 FLOP x nominal clock, with lanes from the CPU flags (Linux). */
function theoreticalPeak(cores: number): { gflops: number; formula: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const os = require('os') as typeof import('os');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require('fs') as typeof import('fs');
  let lanes = 8;
  let mhz = os.cpus()[0]?.speed ?? 0;
  try {
    const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
    if (/\bavx512f\b/.test(info)) lanes = 16;
    // Virtual machines often report 0 through os.cpus(); /proc/cpuinfo has the nominal clock.
    const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(info);
    if (!mhz && m) mhz = Number(m[1]);
  } catch {
    // not Linux: assume AVX2 and the clock os.cpus() reports
  }
  const ghz = mhz / 1000;
  const gflops = cores * 2 * lanes * 2 * ghz;
  return {
    gflops,
    formula: `${cores} cores x 2 FMA units x ${lanes} fp32 lanes x 2 FLOP x ${ghz.toFixed(2)} GHz (nominal) = ${gflops.toFixed(1)} GFLOP/s`,
  };
}
