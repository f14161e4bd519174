// Times the sm_80 mma.sync forward of the 2-D problems of issue 14's "8-9% slowdown" point (k7 D32 and k13
// D64, Q 8x8 / KV 8x8, the best mma.sync config of both), with the family and tiles forced, through the
// public API of the library tree TREE (its dist/lib; the addon named by NATTEN_ADDON_PATH). Plain JavaScript
// and only long-standing API (randn, na2d with kernelSize / forwardKernel / tile shapes, synchronize), so the
// same file times today's tree and an old revision's (dev/gpu/ab_revision.sh):
//   node dev/gpu/fna_fwd_rev_ab.js TREE LABEL RUNS
// prints `LABEL | problem | median ms | TF/s` per problem: medians of RUNS batches of 10 launches between
// synchronisations (host overhead amortised), 3 warm-up batches. NATTEN_AB_DEVICE=cpu runs it on the CPU
// engine (which ignores the kernel choices): a check of the harness itself.
'use strict';
const path = require('path');

const PROBLEMS = [
  { name: '2-D B64 H4 56x56 k7 D32', shape: [64, 56, 56, 4, 32], kernel: 7 },
  { name: '2-D B4 H16 128x128 k13 D64', shape: [4, 128, 128, 16, 64], kernel: 13 },
];
const BATCH = 10;
const DEVICE = process.env.NATTEN_AB_DEVICE || 'cuda';

async function main() {
  const [tree, label = 'run', runsArg = '15'] = process.argv.slice(2);
  const natten = require(path.resolve(tree, 'dist/lib/index.js'));
  const runs = Number(runsArg);
  for (const p of PROBLEMS) {
    const q = natten.randn(p.shape, { dtype: 'bfloat16', device: DEVICE, seed: 1 });
    const opts = { kernelSize: p.kernel, forwardKernel: 'mma', qTileShape: [8, 8], kvTileShape: [8, 8] };
    const ms = [];
    for (let r = -3; r < runs; r++) {
      const outs = [];
      const t0 = performance.now();
      for (let i = 0; i < BATCH; i++) outs.push(natten.na2d(q, q, q, opts));
      await natten.synchronize(DEVICE);
      if (r >= 0) ms.push((performance.now() - t0) / BATCH);
      for (const o of outs) o.dispose();
    }
    ms.sort((a, b) => a - b);
    const m = ms[Math.floor(ms.length / 2)];
    const [B, X, Y, H, D] = p.shape;
    const flops = 4 * B * H * X * Y * p.kernel * p.kernel * D;
    process.stdout.write(`${label} | ${p.name} | ${m.toFixed(4)} ms | ${(flops / m / 1e9).toFixed(1)} TF/s\n`);
    q.dispose();
  }
}

main().catch((e) => {
  process.stderr.write(String((e && e.stack) || e) + '\n');
  process.exit(1);
});
