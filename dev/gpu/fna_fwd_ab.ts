/**
 * Times the fused forward of issue-14 problems with chosen kernels forced, for A/B runs in alternating
 * processes (two builds through NATTEN_ADDON_PATH, or one build with run-time switches in the environment):
 *   node dist/dev/gpu/fna_fwd_ab.js LABEL RUNS SPEC...
 * SPEC is INDEX (the default choice on problem INDEX of CUDA_BENCH_PROBLEMS), INDEX:FAMILY (that family's
 * cheapest config) or INDEX:FAMILY:Q:KV with tile shapes as comma lists, e.g. `4:wgmma-ws:2,8,8:1,8,16`.
 * Prints one line per spec: label, problem, spec, median ms per launch (batches of 5 launches between
 * synchronisations, so host overhead is amortised) and useful TFLOP/s (4·B·H·N·∏k·D). A spec whose config this
 * build lacks (a variant's new config) is reported on stderr and skipped.
 */
import * as natten from '../../lib';
import { CUDA_BENCH_PROBLEMS as PROBLEMS } from '../../bench/cuda_unfused';
import { median } from '../../bench/timing';

const BATCH = 5;

function forcedOptions(parts: string[]): natten.FusedKernelOptions {
  const [family, q, kv] = parts;
  const shape = (s: string) => s.split(',').map(Number);
  return {
    ...(family ? { forwardKernel: family as natten.ForwardKernel } : {}),
    ...(q ? { qTileShape: shape(q) } : {}),
    ...(kv ? { kvTileShape: shape(kv) } : {}),
  };
}

async function main(): Promise<void> {
  const [label = 'run', runsArg = '15', ...specs] = process.argv.slice(2);
  const runs = Number(runsArg);
  for (const spec of specs) {
    const [index, ...rest] = spec.split(':');
    const p = PROBLEMS[Number(index)];
    if (p === undefined) throw new RangeError(`spec ${spec}: no problem ${index}`);
    const dims = p.spatial.length - 1;
    const q = natten.randn([p.batch, ...p.spatial, p.heads, p.headDim], { dtype: 'bfloat16', device: 'cuda', seed: 1 });
    const op = [natten.na1d, natten.na2d, natten.na3d][dims];
    const opts = { kernelSize: p.kernel, ...forcedOptions(rest) };
    try {
      const m = await medianMs(() => op(q, q, q, opts), runs);
      const n = p.spatial.reduce((a, b) => a * b, 1);
      const flops = 4 * p.batch * p.heads * n * p.kernel.reduce((a, b) => a * b, 1) * p.headDim;
      process.stdout.write(
        `${label} | ${p.name} | ${spec} | ${m.toFixed(4)} ms | ${(flops / m / 1e9).toFixed(1)} TF/s\n`,
      );
    } catch (e) {
      // A config that this build lacks (a variant's new config, timed only in the builds that have it).
      const code = (e as { code?: string }).code ?? 'error';
      if (code !== 'ERR_NATTEN_UNSUPPORTED') throw e;
      process.stderr.write(`${label} | ${p.name} | ${spec} | not in this build: ${(e as Error).message}\n`);
    } finally {
      q.dispose();
    }
  }
}

/** Median ms per launch of `launch` over `runs` batches of BATCH launches (after two warm-up batches). */
async function medianMs(launch: () => natten.Tensor, runs: number): Promise<number> {
  const ms: number[] = [];
  for (let r = -2; r < runs; r++) {
    const outs: natten.Tensor[] = [];
    const t0 = performance.now();
    for (let i = 0; i < BATCH; i++) outs.push(launch());
    await natten.synchronize('cuda');
    if (r >= 0) ms.push((performance.now() - t0) / BATCH);
    for (const o of outs) o.dispose();
  }
  return median(ms);
}

main().catch((e) => {
  process.stderr.write(String((e as Error).stack ?? e) + '\n');
  process.exit(1);
});
