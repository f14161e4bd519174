/**
 * Host cost of enqueuing the ops of one NeighborhoodAttention2D forward on a GPU (B4 56x56 C256 8 heads k7,
 * bf16): for each op, `--calls` calls back to back on the device's queue, host microseconds per call (median
 * of `--reps`), then one synchronize so the queue never backs up between ops. Tells where a module forward's
 * host time goes when it exceeds its kernels' time.
 *
 * `node dist/dev/gpu/enqueue_costs.js [--calls 200] [--reps 7] [--only NAME-PART]`
 */
import * as natten from '../../lib';
import { LAYER } from '../../bench/na_module_gpu';
import { timeQueuedCalls } from '../../bench/timing';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};

async function main(): Promise<void> {
  const calls = Number(arg('calls', '200')),
    reps = Number(arg('reps', '7'));
  const L = LAYER;
  const o = { device: 'cuda:0' as const, dtype: 'bfloat16' as const };
  const [B, H, W, C, heads] = [L.batch, L.height, L.width, L.channels, L.heads];
  const x = natten.randn([B, H, W, C], { ...o, seed: 1 });
  const w = natten.randn([3 * C, C], { ...o, seed: 2 }),
    b = natten.zeros([3 * C], o);
  const qkv = natten.linear(x, w, b);
  const q = natten.randn([B, H, W, heads, C / heads], { ...o, seed: 3 });
  const m = new natten.nn.NeighborhoodAttention2D({
    embedDim: C,
    numHeads: heads,
    kernelSize: L.kernelSize,
    ...o,
  }).eval();
  const window = { kernelSize: [L.kernelSize, L.kernelSize] };
  const ops: [string, () => void][] = [
    ['empty [B,H,W,3C] + dispose', () => natten.empty([B, H, W, 3 * C], o).dispose()],
    ['reshape view + dispose', () => qkv.reshape([B, H, W, 3, C]).dispose()],
    ['linear qkv', () => natten.linear(x, w, b).dispose()],
    ['chunk qkv into 3', () => natten.chunk(qkv, 3, 3).forEach((t) => t.dispose())],
    ['na2d fused forward', () => natten.na2d(q, q, q, window).dispose()],
    ['module forward', () => m.forward(x).dispose()],
    ['module forward in noGrad', () => natten.noGrad(() => m.forward(x).dispose())],
  ];
  const only = arg('only', '');
  for (const [name, fn] of ops) {
    if (only && !name.includes(only)) continue;
    const us = (await timeQueuedCalls(fn, 'cuda:0', calls, reps)).enqueue * 1e3;
    process.stdout.write(`${name.padEnd(30)} ${us.toFixed(1).padStart(8)} us/call\n`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
