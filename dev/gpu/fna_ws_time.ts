/**
 * Times the issue-14 forward problems through the public API with each forward kernel family forced
 * ('wgmma-ws', 'wgmma', 'mma', and the default choice; then every
 * 'wgmma-ws' config of the problem forced by its tile shapes): median wall time of `--runs` calls (each followed by
 * natten.synchronize) after warm-up, useful TFLOP/s = 4·B·H·N·∏k·D / time. Also the largest difference of
 * the wgmma-ws output from the mma output on each problem (a cross-check at full size). Run by
 * dev/gpu/fna_ws_check.sh (compiled by tsc into dist/dev/gpu/).
 */
import * as natten from '../../lib';
import { CUDA_BENCH_PROBLEMS as PROBLEMS, type CudaBenchProblem as Problem } from '../../bench/cuda_unfused';
import { median } from '../../bench/timing';

type Family = natten.ForwardKernel | 'default';
const FAMILIES: Family[] = ['wgmma-ws', 'wgmma', 'mma', 'default'];

/** A family forced with its cheapest config, or one 'wgmma-ws' config forced by its tile shapes. */
type Choice = Family | natten.FusedConfigInfo;

function choiceName(c: Choice): string {
  return typeof c === 'string' ? c : `${c.kernel} q [${c.qTileShape}] kv [${c.kvTileShape}]`;
}

async function timeFamily(p: Problem, c: Choice, q: natten.Tensor, runs: number): Promise<number> {
  const op = [natten.na1d, natten.na2d, natten.na3d][p.spatial.length - 1];
  const forced =
    typeof c === 'string'
      ? c === 'default'
        ? {}
        : { forwardKernel: c }
      : { forwardKernel: c.kernel, qTileShape: c.qTileShape, kvTileShape: c.kvTileShape };
  const opts = { kernelSize: p.kernel, ...forced };
  const ms: number[] = [];
  for (let r = -3; r < runs; r++) {
    const t0 = performance.now();
    const out = op(q, q, q, opts);
    await natten.synchronize('cuda');
    if (r >= 0) ms.push(performance.now() - t0);
    out.dispose();
  }
  return median(ms);
}

/** Largest |wgmma-ws - mma| over the output (both bf16), or NaN when either cannot run. */
async function crossCheck(p: Problem, q: natten.Tensor): Promise<number> {
  const op = [natten.na1d, natten.na2d, natten.na3d][p.spatial.length - 1];
  const a = op(q, q, q, { kernelSize: p.kernel, forwardKernel: 'wgmma-ws' });
  const b = op(q, q, q, { kernelSize: p.kernel, forwardKernel: 'mma' });
  const [x, y] = [await a.toArray(), await b.toArray()];
  a.dispose();
  b.dispose();
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(Number(x[i]) - Number(y[i])));
  return worst;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? '20');
  const log = (s: string) => process.stdout.write(s + '\n');
  log('problem | family | median ms | TFLOP/s');
  for (const p of PROBLEMS) {
    const n = p.spatial.reduce((a, b) => a * b, 1);
    const flops = 4 * p.batch * p.heads * n * p.kernel.reduce((a, b) => a * b, 1) * p.headDim;
    const q = natten.randn([p.batch, ...p.spatial, p.heads, p.headDim], { dtype: 'bfloat16', device: 'cuda', seed: 1 });
    // Each family at its cheapest config, then every 'wgmma-ws' config of the problem forced.
    const wsConfigs = natten
      .fusedConfigs({ dims: p.spatial.length, headDim: p.headDim, dtype: 'bfloat16', device: 'cuda' })
      .filter((c) => c.pass === 'forward' && c.kernel === 'wgmma-ws');
    for (const c of [...FAMILIES, ...wsConfigs] as Choice[]) {
      try {
        const ms = await timeFamily(p, c, q, runs);
        log(`${p.name} | ${choiceName(c)} | ${ms.toFixed(3)} | ${(flops / ms / 1e9).toFixed(1)}`);
      } catch (e) {
        const err = e as { code?: string; message: string };
        log(`${p.name} | ${choiceName(c)} | - | ${err.code ?? ''} ${err.message.slice(0, 160)}`);
      }
    }
    try {
      log(`${p.name} | max |wgmma-ws - mma| = ${(await crossCheck(p, q)).toExponential(3)}`);
    } catch (e) {
      log(`${p.name} | cross-check skipped: ${(e as Error).message.slice(0, 160)}`);
    }
    q.dispose();
  }
  const choice = natten.fusedConfigs({ dims: 1, headDim: 128 }).filter((c) => c.kernel === 'wgmma-ws');
  log(`wgmma-ws configs listed for 1-D D128: ${choice.length}`);
}

main().catch((e) => {
  process.stderr.write(String((e as Error).stack ?? e) + '\n');
  process.exit(1);
});
