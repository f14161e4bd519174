/**
 * `node dist/bench/tensor_ops_gpu.js [--device N] [--runs N] [--peer FILE] [--out FILE]`: bf16 `linear`
 * through natten's API on a GPU (cuBLASLt underneath, bias fused), CUDA-event medians of runs queued back to
 * back behind a spin kernel, on the README's two GEMMs: 4096x4096x4096 and the NAT-sized 12544x256x768
 * (x [m, k], weight [n, k]). `--peer FILE`: the JSON of `python3 bench/linear_torch.py --json FILE` (the same
 * GEMMs through PyTorch's cuBLASLt on the same card), printed next to ours as a ratio (the target is >= 80%).
 */
import * as fs from 'fs';
import * as natten from '../lib';
import { timeOne } from './gpu_timing';
import { standaloneMain } from './standalone';

/** The GEMMs of the comparison: m tokens, k in-features, n out-features. */
export const LINEAR_PROBLEMS = [
  { name: 'linear_4096x4096x4096', m: 4096, k: 4096, n: 4096 },
  { name: 'linear_12544x256x768', m: 12544, k: 256, n: 768 },
];

interface LinearResult {
  name: string;
  ms: number;
  tflops: number;
  peerMs?: number;
  percentOfPeer?: number;
}

standaloneMain<LinearResult>(
  module,
  'tensor_ops_gpu',
  'linear (bf16, bias) via natten vs cuBLASLt direct',
  'bfloat16',
  async (o) => {
    const runs = Number(o.arg('--runs') ?? 50);
    const peerFile = o.arg('--peer');
    const peer = peerFile
      ? (JSON.parse(fs.readFileSync(peerFile, 'utf8')) as { results: { name: string; ms: number }[] })
      : undefined;
    const device = `cuda:${o.device}` as natten.DeviceLike;
    const results: LinearResult[] = [];
    for (const p of LINEAR_PROBLEMS) {
      const x = natten.randn([p.m, p.k], { device, dtype: 'bfloat16', seed: 1 });
      const w = natten.randn([p.n, p.k], { device, dtype: 'bfloat16', seed: 2 });
      const b = natten.randn([p.n], { device, dtype: 'bfloat16', seed: 3 });
      const outs: natten.Tensor[] = [];
      const ms = timeOne(o.device, runs, () => {
        outs.push(natten.linear(x, w, b));
      });
      for (const t of outs) t.dispose();
      const tflops = (2 * p.m * p.n * p.k) / (ms * 1e9);
      const r: LinearResult = { name: p.name, ms, tflops };
      const q = peer?.results.find((e) => e.name === p.name);
      if (q) Object.assign(r, { peerMs: q.ms, percentOfPeer: (100 * q.ms) / ms });
      process.stdout.write(
        `${p.name}: ${ms.toFixed(4)} ms, ${tflops.toFixed(0)} TFLOP/s` +
          (q
            ? `; cuBLASLt via PyTorch ${q.ms.toFixed(4)} ms: natten at ${r.percentOfPeer!.toFixed(0)}% of its rate`
            : '') +
          '\n',
      );
      results.push(r);
      o.save(results);
      for (const t of [x, w, b]) t.dispose();
    }
  },
);
