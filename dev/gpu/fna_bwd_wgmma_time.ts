/**
 * Times the issue-18 backward problems through the public API (na*dBackward) with backwardKernel 'wgmma'
 * forced against 'mma': median wall time of `--runs` calls (each followed by natten.synchronize) after
 * warm-up, useful TFLOP/s = 2.5 x 4·B·H·N·∏k·D / time, and the largest |wgmma - mma| over dq, dk, dv (a
 * cross-check at full size). Run by dev/gpu/fna_bwd_wgmma_check.sh (compiled by tsc into dist/dev/gpu/).
 */
import * as natten from '../../lib';
import { CUDA_BENCH_PROBLEMS as PROBLEMS, type CudaBenchProblem as Problem } from '../../bench/cuda_unfused';
import { median } from '../../bench/timing';

const FAMILIES: natten.BackwardKernel[] = ['wgmma', 'mma'];

/** The forward's output and LSE and a dOut for problem p (q = k = v). */
interface Inputs {
  q: natten.Tensor<'bfloat16'>;
  output: natten.Tensor<'bfloat16'>;
  lse: natten.Tensor<'float32'>;
  dOut: natten.Tensor<'bfloat16'>;
}

function backwardOp(p: Problem): natten.NABackward {
  return [natten.na1dBackward, natten.na2dBackward, natten.na3dBackward][p.spatial.length - 1];
}

function inputs(p: Problem): Inputs {
  const shape = [p.batch, ...p.spatial, p.heads, p.headDim];
  const q = natten.randn(shape, { dtype: 'bfloat16', device: 'cuda', seed: 1 });
  const dOut = natten.randn(shape, { dtype: 'bfloat16', device: 'cuda', seed: 2 });
  const fwd = [natten.na1d, natten.na2d, natten.na3d][p.spatial.length - 1];
  const { output, lse } = fwd(q, q, q, { kernelSize: p.kernel, returnLse: true });
  return { q, output, lse, dOut };
}

function run(p: Problem, x: Inputs, f: natten.BackwardKernel): natten.NAGradients {
  return backwardOp(p)(x.dOut, x.q, x.q, x.q, x.output, x.lse, { kernelSize: p.kernel, backwardKernel: f });
}

function dispose(g: natten.NAGradients): void {
  for (const t of [g.dq, g.dk, g.dv]) t.dispose();
}

async function timeFamily(p: Problem, x: Inputs, f: natten.BackwardKernel, runs: number): Promise<number> {
  const ms: number[] = [];
  for (let r = -3; r < runs; r++) {
    const t0 = performance.now();
    const g = run(p, x, f);
    await natten.synchronize('cuda');
    if (r >= 0) ms.push(performance.now() - t0);
    dispose(g);
  }
  return median(ms);
}

/** Largest |wgmma - mma| over dq, dk and dv (bf16). */
async function crossCheck(p: Problem, x: Inputs): Promise<number> {
  const a = run(p, x, 'wgmma');
  const b = run(p, x, 'mma');
  let worst = 0;
  for (const n of ['dq', 'dk', 'dv'] as const) {
    const [u, w] = [await a[n].toArray(), await b[n].toArray()];
    for (let i = 0; i < u.length; i++) worst = Math.max(worst, Math.abs(Number(u[i]) - Number(w[i])));
  }
  dispose(a);
  dispose(b);
  return worst;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? '15');
  const log = (s: string) => process.stdout.write(s + '\n');
  log('problem | backwardKernel | median ms | TFLOP/s');
  for (const p of PROBLEMS) {
    const n = p.spatial.reduce((a, b) => a * b, 1);
    const flops = 2.5 * 4 * p.batch * p.heads * n * p.kernel.reduce((a, b) => a * b, 1) * p.headDim;
    const x = inputs(p);
    for (const f of FAMILIES) {
      try {
        const ms = await timeFamily(p, x, f, runs);
        log(`${p.name} | ${f} | ${ms.toFixed(3)} | ${(flops / ms / 1e9).toFixed(1)}`);
      } catch (e) {
        log(`${p.name} | ${f} | - | ${(e as { code?: string }).code ?? ''} ${(e as Error).message.slice(0, 160)}`);
      }
    }
    try {
      log(`${p.name} | max |wgmma - mma| over dq, dk, dv = ${(await crossCheck(p, x)).toExponential(3)}`);
    } catch (e) {
      log(`${p.name} | cross-check skipped: ${(e as Error).message.slice(0, 160)}`);
    }
    for (const t of [x.q, x.output, x.lse, x.dOut]) t.dispose();
  }
}

main().catch((e) => {
  process.stderr.write(String((e as Error).stack ?? e) + '\n');
  process.exit(1);
});
