/**
 * `node dist/bench/tensor_ops_cpu.js [--runs N] [--out FILE]`: the CPU tensor-op benchmark (README
 * "Tensor ops"), medians, in one run:
 * - fp32 GEMM (matmul) GFLOP/s against the measured FMA peak of the CPU engine's threads (the peak measured
 *   next to each size, so load on a shared machine shows in both);
 * - one NA layer (B1 64x64 C256, 8 heads, k13, fp32): the hand-written JavaScript (bench/na_layer.ts) and the
 *   same layer from tensor ops, with the largest difference between their outputs.
 * Writes JSON (default bench/results/tensor_ops_cpu.tmp.json).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as natten from '../lib';
import { native } from '../lib/native';
import { jsNaLayer, layerParams, opsNaLayer, type LayerSizes, type LayerWeights } from './na_layer';
import { median, timeOp } from './timing';

const GEMM_SIZES: [number, number, number][] = [
  [256, 256, 256],
  [512, 512, 512],
  [1024, 1024, 1024],
  [2048, 2048, 2048],
  [4096, 768, 256],
  [4096, 256, 256],
];

async function gemmRows(runs: number): Promise<object[]> {
  const rows: object[] = [];
  for (const [m, n, k] of GEMM_SIZES) {
    const a = natten.randn([m, k], { seed: 1 }),
      b = natten.randn([k, n], { seed: 2 });
    const before = await native.cpuFmaPeak({ ms: 300 });
    const t = await timeOp('cpu', () => [natten.matmul(a, b)], runs, 2);
    const after = await native.cpuFmaPeak({ ms: 300 });
    const peak = Math.max(before, after);
    const gflops = (2 * m * n * k) / (t.medianMs * 1e6);
    const row = { m, n, k, ms: t.medianMs, gflops, peakGflops: peak, percentOfPeak: (100 * gflops) / peak };
    process.stdout.write(
      `GEMM ${m}x${n}x${k}: ${t.medianMs.toFixed(2)} ms, ${gflops.toFixed(1)} GFLOP/s, ` +
        `${row.percentOfPeak.toFixed(0)}% of the FMA peak ${peak.toFixed(1)}\n`,
    );
    rows.push(row);
    a.dispose();
    b.dispose();
  }
  return rows;
}

function randomArray(n: number, seed: number, scale: number): Float32Array {
  return Float32Array.from(natten.randn([n], { seed }).toArraySync(), (v) => v * scale);
}

async function layerRow(runs: number): Promise<object> {
  const s: LayerSizes = { batch: 1, height: 64, width: 64, channels: 256, heads: 8, kernelSize: 13 };
  const C = s.channels,
    tokens = s.batch * s.height * s.width;
  const w: LayerWeights = {
    qkvWeight: randomArray(3 * C * C, 1, C ** -0.5),
    qkvBias: randomArray(3 * C, 2, 0.1),
    projWeight: randomArray(C * C, 3, C ** -0.5),
    projBias: randomArray(C, 4, 0.1),
  };
  const xData = randomArray(tokens * C, 5, 1);
  const jsTimes: number[] = [];
  let jsOut: Float32Array = new Float32Array();
  for (let r = 0; r < Math.max(1, Math.min(3, runs)); r++) {
    const t0 = process.hrtime.bigint();
    jsOut = await jsNaLayer(xData, w, s);
    jsTimes.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const p = layerParams(w, s);
  const x = natten.tensor(xData, [s.batch, s.height, s.width, C]);
  const ops = await timeOp('cpu', () => [opsNaLayer(x, p, s)], runs, 2);
  const y = opsNaLayer(x, p, s);
  const yData = await y.toArray();
  let maxDiff = 0;
  for (let i = 0; i < yData.length; i++) maxDiff = Math.max(maxDiff, Math.abs(yData[i] - jsOut[i]));
  const js = median(jsTimes);
  process.stdout.write(
    `NA layer B1 64x64 C256 8 heads k13 fp32: hand-written JS ${js.toFixed(0)} ms, tensor ops ` +
      `${ops.medianMs.toFixed(1)} ms (${(js / ops.medianMs).toFixed(1)}x), max |difference| ${maxDiff.toExponential(2)}\n`,
  );
  return { sizes: s, jsMs: js, opsMs: ops.medianMs, speedup: js / ops.medianMs, maxDiff };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (flag: string): string | undefined => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  const runs = Number(arg('--runs') ?? 10);
  const out = arg('--out') ?? path.join(__dirname, '..', '..', 'bench', 'results', 'tensor_ops_cpu.tmp.json');
  process.stdout.write(`CPU tensor ops, ${natten.buildInfo().cpuThreads} threads, medians of ${runs} runs\n`);
  const gemm = await gemmRows(runs);
  const layer = await layerRow(runs);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(
    out,
    JSON.stringify({ date: new Date().toISOString(), threads: natten.buildInfo().cpuThreads, gemm, layer }, null, 2) +
      '\n',
  );
  process.stdout.write(`wrote ${out}\n`);
}

if (require.main === module)
  main().catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
