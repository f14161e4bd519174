#!/usr/bin/env node
// Times the default fused forward and backward of one build on the benchmark problems and prints JSON.
// Used by dev/compare_builds.js, which alternates builds in one run ("unchanged" checks).
//   node dev/time_build.js ROOT --device cuda|cpu [--runs N]
// ROOT is a built checkout (ROOT/dist, and the addon it loads: NATTEN_ADDON_PATH or ROOT/build).
// Only the public API and bench/ modules present in every build are used, so old builds time alike.
'use strict';
const path = require('path');
const { parseArgs } = require('util');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    device: { type: 'string', default: 'cuda' },
    runs: { type: 'string', default: '30' },
  },
});
const root = path.resolve(positionals[0] || '.');
const n = require(path.join(root, 'dist/lib/index.js'));
const runs = Number(values.runs);

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
const fnOf = { 1: ['na1d', 'na1dBackward'], 2: ['na2d', 'na2dBackward'], 3: ['na3d', 'na3dBackward'] };

async function main() {
  const out = [];
  if (values.device === 'cuda') {
    const { timeOne } = require(path.join(root, 'dist/bench/gpu_timing.js'));
    const { CUDA_BENCH_PROBLEMS } = require(path.join(root, 'dist/bench/cuda_unfused.js'));
    for (const p of CUDA_BENCH_PROBLEMS) {
      const shape = [p.batch, ...p.spatial, p.heads, p.headDim];
      const o = { dtype: 'bfloat16', device: 'cuda:0' };
      const q = n.randn(shape, { ...o, seed: 1 }),
        k = n.randn(shape, { ...o, seed: 2 }),
        v = n.randn(shape, { ...o, seed: 3 });
      const d = n.randn(shape, { ...o, seed: 4 });
      const [fwd, bwd] = fnOf[p.spatial.length].map((f) => n[f]);
      const opts = { kernelSize: p.kernel };
      const { output, lse } = fwd(q, k, v, { ...opts, returnLse: true });
      const forward = timeOne(0, runs, () => fwd(q, k, v, opts).dispose());
      const backward = timeOne(0, runs, () => {
        const g = bwd(d, q, k, v, output, lse, opts);
        g.dq.dispose();
        g.dk.dispose();
        g.dv.dispose();
      });
      out.push({ problem: p.name, forwardMs: forward, backwardMs: backward });
      for (const t of [q, k, v, d, output, lse]) t.dispose();
      await n.synchronize('cuda:0');
    }
  } else {
    const { CPU_PROBLEMS } = require(path.join(root, 'dist/bench/problems.js'));
    for (const p of CPU_PROBLEMS) {
      const shape = [p.batch, ...p.spatial, p.heads, p.headDim];
      const q = n.randn(shape, { seed: 1 }),
        k = n.randn(shape, { seed: 2 }),
        v = n.randn(shape, { seed: 3 }),
        d = n.randn(shape, { seed: 4 });
      const [fwd, bwd] = fnOf[p.spatial.length].map((f) => n[f]);
      const opts = { kernelSize: p.kernelSize };
      const { output, lse } = fwd(q, k, v, { ...opts, returnLse: true });
      const time = async (fn) => {
        const ms = [];
        for (let r = -2; r < runs; r++) {
          await n.synchronize('cpu');
          const t0 = performance.now();
          fn();
          await n.synchronize('cpu');
          if (r >= 0) ms.push(performance.now() - t0);
        }
        return median(ms);
      };
      const forward = await time(() => fwd(q, k, v, opts).dispose());
      const backward = await time(() => {
        const g = bwd(d, q, k, v, output, lse, opts);
        g.dq.dispose();
        g.dk.dispose();
        g.dv.dispose();
      });
      out.push({ problem: p.name, forwardMs: forward, backwardMs: backward });
      for (const t of [q, k, v, d, output, lse]) t.dispose();
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
