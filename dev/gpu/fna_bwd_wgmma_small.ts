/**
 * One small backward per dims and head-dim tier with backwardKernel 'wgmma' forced, KV-parallel and
 * deterministic, with dilation, causal, GQA and extra keys: the workload dev/gpu/fna_bwd_wgmma_check.sh runs
 * under compute-sanitizer (memcheck, racecheck, synccheck). Prints one line per case (with how many of its
 * launches loaded Q and dO by TMA, the default; NATTEN_BWD_WGMMA_TMA=0 switches that path off,
 * NATTEN_BWD_WGMMA_PERSISTENT=1 the persistent CTAs on) and exits non-zero on a non-finite gradient.
 */
import * as natten from '../../lib';

async function finite(ts: natten.Tensor[]): Promise<boolean> {
  for (const t of ts) {
    const x = await t.toArray();
    for (let i = 0; i < x.length; i++) if (!Number.isFinite(Number(x[i]))) return false;
  }
  return true;
}

async function main(): Promise<void> {
  // With the persistent variant switched on (NATTEN_BWD_WGMMA_PERSISTENT=1), two CTAs walk every tile, so the
  // sanitizers see the walk and KV hand-over between tiles.
  if (natten.internal.kernelSwitches().backwardPersistent) natten.internal.kernelSwitches({ persistentCtas: 2 });
  const cases = [
    { spatial: [150], kernel: [33], dilation: [1], causal: [false], headDim: 64 },
    { spatial: [150], kernel: [17], dilation: [3], causal: [true], headDim: 128 },
    { spatial: [20, 19], kernel: [7, 5], dilation: [1, 1], causal: [false, true], headDim: 128 },
    { spatial: [20, 19], kernel: [5, 5], dilation: [2, 1], causal: [false, false], headDim: 64 },
    { spatial: [9, 8, 10], kernel: [3, 5, 3], dilation: [1, 1, 1], causal: [false, false, false], headDim: 64 },
    { spatial: [9, 8, 10], kernel: [3, 3, 3], dilation: [1, 2, 1], causal: [true, false, false], headDim: 128 },
    { spatial: [8, 8, 10], kernel: [3, 5, 3], dilation: [1, 1, 1], causal: [false, false, true], headDim: 128 },
  ];
  for (const c of cases)
    for (const deterministic of [false, true]) {
      natten.useDeterministicAlgorithms(deterministic);
      const shape = [2, ...c.spatial, 2, c.headDim];
      const q = natten.randn(shape, { dtype: 'bfloat16', device: 'cuda', seed: 1 });
      const kv = natten.randn([2, ...c.spatial, 1, c.headDim], { dtype: 'bfloat16', device: 'cuda', seed: 2 });
      const ek = natten.randn([2, 70, 1, c.headDim], { dtype: 'bfloat16', device: 'cuda', seed: 3 });
      const dOut = natten.randn(shape, { dtype: 'bfloat16', device: 'cuda', seed: 4 });
      const dims = c.spatial.length - 1;
      const opts = {
        kernelSize: c.kernel,
        dilation: c.dilation,
        isCausal: c.causal,
        additionalKeys: ek,
        additionalValues: ek,
      };
      const tma0 = natten.internal.kernelSwitches().backwardTmaLaunches;
      const { output, lse } = [natten.na1d, natten.na2d, natten.na3d][dims](q, kv, kv, { ...opts, returnLse: true });
      const g = [natten.na1dBackward, natten.na2dBackward, natten.na3dBackward][dims](dOut, q, kv, kv, output, lse, {
        ...opts,
        backwardKernel: 'wgmma',
      });
      const grads: natten.Tensor[] = [];
      for (const t of [g.dq, g.dk, g.dv, g.dAdditionalKeys, g.dAdditionalValues]) if (t) grads.push(t);
      const ok = await finite(grads);
      const tma = natten.internal.kernelSwitches().backwardTmaLaunches - tma0;
      process.stdout.write(`${JSON.stringify(c)} deterministic=${deterministic} tmaLaunches=${tma} finite=${ok}\n`);
      for (const t of [q, kv, ek, dOut, output, lse, ...grads]) t.dispose();
      if (!ok) process.exitCode = 1;
    }
}

main().catch((e) => {
  process.stderr.write(String((e as Error).stack ?? e) + '\n');
  process.exit(1);
});
