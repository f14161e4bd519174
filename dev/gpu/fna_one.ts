/**
 * Runs one issue-14/18 problem twice with a kernel family forced, for Nsight Compute:
 *   ncu -k regex:na_forward_ws --launch-skip 1 -c 1 node dist/dev/gpu/fna_one.js 0 forward wgmma-ws
 *   ncu -k regex:fna_backward_wgmma --launch-skip 1 -c 1 node dist/dev/gpu/fna_one.js 2 backward wgmma
 * profiles the second launch (the first carries one-time setup) of problem 0 / 2 of CUDA_BENCH_PROBLEMS.
 * Optional 5th and 6th arguments force the forward's tiles, e.g. `1 forward mma 8,8 20,20` (the 20x20
 * window-union config on k13).
 */
import * as natten from '../../lib';
import { CUDA_BENCH_PROBLEMS as PROBLEMS } from '../../bench/cuda_unfused';

async function main(): Promise<void> {
  const index = Number(process.argv[2] ?? '0');
  const pass = process.argv[3] ?? 'forward';
  const family = process.argv[4] ?? (pass === 'forward' ? 'wgmma-ws' : 'wgmma');
  const tiles = (arg: string | undefined) => (arg === undefined ? undefined : arg.split(',').map(Number));
  const qTileShape = tiles(process.argv[5]);
  const kvTileShape = tiles(process.argv[6]);
  const p = PROBLEMS[index];
  if (p === undefined) throw new RangeError(`problem index ${index}: expected 0..${PROBLEMS.length - 1}`);
  const dims = p.spatial.length - 1;
  const shape = [p.batch, ...p.spatial, p.heads, p.headDim];
  const q = natten.randn(shape, { dtype: 'bfloat16', device: 'cuda', seed: 1 });
  const { output, lse } = [natten.na1d, natten.na2d, natten.na3d][dims](q, q, q, {
    kernelSize: p.kernel,
    returnLse: true,
  });
  for (let i = 0; i < 2; i++) {
    if (pass === 'forward') {
      [natten.na1d, natten.na2d, natten.na3d]
        [dims](q, q, q, {
          kernelSize: p.kernel,
          forwardKernel: family as natten.ForwardKernel,
          ...(qTileShape ? { qTileShape } : {}),
          ...(kvTileShape ? { kvTileShape } : {}),
        })
        .dispose();
    } else {
      const g = [natten.na1dBackward, natten.na2dBackward, natten.na3dBackward][dims](output, q, q, q, output, lse, {
        kernelSize: p.kernel,
        backwardKernel: family as natten.BackwardKernel,
      });
      for (const t of [g.dq, g.dk, g.dv]) t.dispose();
    }
    await natten.synchronize('cuda');
  }
  process.stdout.write(`${p.name}: ${pass} ${family} ran twice\n`);
}

main().catch((e) => {
  process.stderr.write(String((e as Error).stack ?? e) + '\n');
  process.exit(1);
});
