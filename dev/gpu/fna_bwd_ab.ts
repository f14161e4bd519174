/**
 * Times the fused backward of chosen issue-18 problems with one family forced, for A/B runs of two addon
 * builds in alternating processes (NATTEN_ADDON_PATH picks the build):
 *   node dist/dev/gpu/fna_bwd_ab.js LABEL FAMILY RUNS INDEX...
 * prints one line per problem: label, problem, median ms per launch (batches of 5 launches between
 * synchronisations, so host overhead is amortised) and useful TFLOP/s (2.5 x 4·B·H·N·∏k·D).
 */
import * as natten from '../../lib';
import { CUDA_BENCH_PROBLEMS as PROBLEMS } from '../../bench/cuda_unfused';
import { median } from '../../bench/timing';

const BATCH = 5;

async function main(): Promise<void> {
  const [label = 'run', family = 'wgmma', runsArg = '15', ...indices] = process.argv.slice(2);
  const runs = Number(runsArg);
  for (const index of indices.length ? indices.map(Number) : [0, 2]) {
    const p = PROBLEMS[index];
    const dims = p.spatial.length - 1;
    const shape = [p.batch, ...p.spatial, p.heads, p.headDim];
    const q = natten.randn(shape, { dtype: 'bfloat16', device: 'cuda', seed: 1 });
    const dOut = natten.randn(shape, { dtype: 'bfloat16', device: 'cuda', seed: 2 });
    const { output, lse } = [natten.na1d, natten.na2d, natten.na3d][dims](q, q, q, {
      kernelSize: p.kernel,
      returnLse: true,
    });
    const bwd = [natten.na1dBackward, natten.na2dBackward, natten.na3dBackward][dims];
    const ms: number[] = [];
    for (let r = -2; r < runs; r++) {
      const grads: natten.NAGradients[] = [];
      const t0 = performance.now();
      for (let i = 0; i < BATCH; i++)
        grads.push(
          bwd(dOut, q, q, q, output, lse, { kernelSize: p.kernel, backwardKernel: family as natten.BackwardKernel }),
        );
      await natten.synchronize('cuda');
      if (r >= 0) ms.push((performance.now() - t0) / BATCH);
      for (const g of grads) for (const t of [g.dq, g.dk, g.dv]) t.dispose();
    }
    const n = p.spatial.reduce((a, b) => a * b, 1);
    const flops = 2.5 * 4 * p.batch * p.heads * n * p.kernel.reduce((a, b) => a * b, 1) * p.headDim;
    const m = median(ms);
    process.stdout.write(
      `${label} | ${p.name} | ${family} | ${m.toFixed(3)} ms | ${(flops / m / 1e9).toFixed(1)} TF/s\n`,
    );
    for (const t of [q, dOut, output, lse]) t.dispose();
  }
}

main().catch((e) => {
  process.stderr.write(String((e as Error).stack ?? e) + '\n');
  process.exit(1);
});
