/**
 * Times every compiled forward config on small-window 2-D problems (the issue-14 k7 problem first) with the
 * autotuner's CUDA-event timer (`natten.tune`, thorough, forward only): the window-union configs (mma,
 * kvTileShape [16, 16]) next to the tile-walk kernels, and the cost model's default. One line per
 * config: problem | config | mean ms of the timed runs | useful TFLOP/s (4·B·H·N·∏k·D). Run by dev/gpu/fna_union_check.sh.
 */
import * as natten from '../../lib';
import type { CudaBenchProblem } from '../../bench/cuda_unfused';

const PROBLEMS: CudaBenchProblem[] = [
  { name: '2-D B64 H4 56x56 k7 D32', batch: 64, heads: 4, spatial: [56, 56], kernel: [7, 7], headDim: 32 },
  { name: '2-D B16 H4 64x64 k3 D32', batch: 16, heads: 4, spatial: [64, 64], kernel: [3, 3], headDim: 32 },
  { name: '2-D B16 H4 64x64 k5 D32', batch: 16, heads: 4, spatial: [64, 64], kernel: [5, 5], headDim: 32 },
  { name: '2-D B16 H4 64x64 k9 D32', batch: 16, heads: 4, spatial: [64, 64], kernel: [9, 9], headDim: 32 },
  { name: '2-D B16 H8 64x64 k7 D64', batch: 16, heads: 8, spatial: [64, 64], kernel: [7, 7], headDim: 64 },
  { name: '2-D B16 H8 64x64 k9 D64', batch: 16, heads: 8, spatial: [64, 64], kernel: [9, 9], headDim: 64 },
  { name: '2-D B4 H4 32x32 k7 D32', batch: 4, heads: 4, spatial: [32, 32], kernel: [7, 7], headDim: 32 },
  { name: '2-D B4 H16 128x128 k13 D64', batch: 4, heads: 16, spatial: [128, 128], kernel: [13, 13], headDim: 64 },
  { name: '2-D B16 H8 64x64 k11 D64', batch: 16, heads: 8, spatial: [64, 64], kernel: [11, 11], headDim: 64 },
];

function label(c: natten.TunedConfig): string {
  return `${c.kernel ?? 'mma'} q [${c.qTileShape}] kv [${c.kvTileShape}]`;
}

async function main(): Promise<void> {
  const steps = Number(process.argv[2] ?? '30');
  const only = Number(process.argv[3] ?? PROBLEMS.length);
  const log = (s: string) => process.stdout.write(s + '\n');
  log('problem | config | mean ms | TFLOP/s');
  for (const p of PROBLEMS.slice(0, only)) {
    const n = p.spatial.reduce((a, b) => a * b, 1);
    const flops = 4 * p.batch * p.heads * n * p.kernel.reduce((a, b) => a * b, 1) * p.headDim;
    const [r] = await natten.tune(
      [
        {
          spatial: p.spatial,
          batch: p.batch,
          heads: p.heads,
          headDim: p.headDim,
          kernelSize: p.kernel,
          passes: ['forward'],
        },
      ],
      { thorough: true, steps, warmupSteps: 5, force: true },
    );
    const row = (what: string, ms: number) =>
      log(`${p.name} | ${what} | ${ms.toFixed(4)} | ${(flops / ms / 1e9).toFixed(1)}`);
    row(`default: ${label(r.default.config)}`, r.default.ms);
    for (const c of [...r.candidates].sort((a, b) => a.ms - b.ms)) row(label(c.config), c.ms);
  }
}

main().catch((e) => {
  process.stderr.write(String((e as Error).stack ?? e) + '\n');
  process.exit(1);
});
