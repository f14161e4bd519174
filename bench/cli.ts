#!/usr/bin/env node
/**
 * `npm run bench -- --device cpu|cuda [options]`: times neighborhood attention on the device's fixed
 * problem list, prints one table (a row per problem) and writes the results as JSON.
 *
 * --device cpu (default): the CPU engine in fp32 (bench/cpu.ts): fused forward/backward, unfused
 *   forward/backward and the naive loop, ms / useful GFLOP/s and speed-ups.
 * --device cuda: the GPU programs in bf16 (bench/cuda.ts runs bench/cuda_fused.ts, cuda_fused_backward.ts
 *   and cuda_unfused.ts on each problem, CUDA-event medians): fused forward (and its best compiled tile
 *   config), fused backward, unfused forward + backward, the reference kernel's forward, FlexAttention's
 *   forward/backward with --flex, ms / useful TFLOP/s and the speed-ups fused vs FlexAttention and vs
 *   unfused. Fails with a message on a machine without a CUDA device.
 *
 * Options: --problems name,name (default: the device's whole list; --list prints the names), --runs N
 * (timed runs, median reported; default 10 on the CPU, each GPU program's own on CUDA), --warmup N (CPU;
 * default 2), --no-naive (CPU), --no-backward, --flex FILE (CUDA: the JSON of
 * `python3 bench/flex_attention.py --backward --json FILE` run on the same card), --out path (JSON file;
 * default bench/results/<device>.tmp.json, git-ignored), --list.
 * A device's benchmark is an entry of DEVICE_BENCHES: its problem names, and a run function that prints
 * its table (the shared column printer below) and returns JSON-serialisable results.
 */
import * as fs from 'fs';
import * as path from 'path';
import { packageRoot } from '../lib/native';
import { BenchOptions, CpuBenchResult, ProblemResult, runCpuBench } from './cpu';
import { CudaProblemResult, requireCuda, runCudaBench } from './cuda';
import type { ConfigTiming } from './cuda_fused';
import { CUDA_BENCH_PROBLEMS, type TimedStep } from './cuda_unfused';
import { CPU_PROBLEMS } from './problems';

interface CliOptions extends Omit<BenchOptions, 'runs'> {
  device: string;
  runs?: number;
  problems?: string[];
  flex?: string;
  out?: string;
  list: boolean;
}

/** A device benchmark: its problem names, and a run over a subset of them (undefined: all). */
interface DeviceBench {
  problemNames: readonly string[];
  run(problems: readonly string[] | undefined, o: CliOptions): Promise<unknown>;
}

function pick<P extends { name: string }>(all: readonly P[], names: readonly string[] | undefined): P[] {
  return names ? names.map((n) => all.find((p) => p.name === n)!) : [...all];
}

const DEVICE_BENCHES: Record<string, DeviceBench> = {
  cpu: {
    problemNames: CPU_PROBLEMS.map((p) => p.name),
    async run(names, o) {
      printHeader(CPU_COLUMNS, '(ms / GFLOP/s for each path)');
      const r = await runCpuBench(pick(CPU_PROBLEMS, names), { ...o, runs: o.runs ?? 10 }, (p) =>
        printRow(CPU_COLUMNS, p),
      );
      printCpuFooter(r);
      return r;
    },
  },
  cuda: {
    problemNames: CUDA_BENCH_PROBLEMS.map((p) => p.name),
    async run(names, o) {
      requireCuda();
      printHeader(CUDA_COLUMNS, '(ms / useful TFLOP/s, bf16; x: speed-up of fused, time of the other / time of fused)');
      const r = await runCudaBench(
        pick(CUDA_BENCH_PROBLEMS, names),
        { runs: o.runs, backward: o.backward, flexFile: o.flex },
        (p) => {
          printRow(CUDA_COLUMNS, p);
          const errors = {
            'fused forward': p.fused.error,
            'fused backward': p.fusedBackward?.error,
            unfused: p.unfused.error,
          };
          for (const [what, e] of Object.entries(errors)) if (e) console.log(`  ${what} error: ${e}`);
        },
      );
      console.log(
        `\n${r.gpu} (compute capability ${r.computeCapability}), bf16, CUDA-event medians.` +
          (r.hasFusedNA
            ? ''
            : ' No fused tensor-core kernels on this GPU: the fused columns are the reference kernels.') +
          (o.flex
            ? ''
            : ' FlexAttention columns: pass --flex FILE (python3 bench/flex_attention.py --backward --json FILE).'),
      );
      return r;
    },
  },
};

function parseArgs(argv: string[]): CliOptions {
  const o: CliOptions = { device: 'cpu', warmup: 2, naive: true, backward: true, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = (): number => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer`);
      return v;
    };
    if (a === '--device') o.device = value();
    else if (a === '--problems')
      o.problems = value().split(/,(?![^(]*\))/); // not the commas of 'k(5,9,9)'
    else if (a === '--runs') o.runs = Math.max(1, int());
    else if (a === '--warmup') o.warmup = int();
    else if (a === '--no-naive') o.naive = false;
    else if (a === '--no-backward') o.backward = false;
    else if (a === '--flex') o.flex = value();
    else if (a === '--out') o.out = value();
    else if (a === '--list') o.list = true;
    else throw new Error(`unknown option ${a} (see the header of bench/cli.ts)`);
  }
  return o;
}

const fmt = (x: number | undefined, digits = 1): string =>
  x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);

/** "ms/rate" of one timed path, or '-'. */
const cell = (ms: number | undefined, rate: number | undefined, msDigits = 2): string =>
  ms === undefined || !Number.isFinite(ms) ? '-' : `${fmt(ms, msDigits)}/${fmt(rate)}`;

/** One table column: its title, width and the text of a row's cell. The first column is left-aligned. */
interface Column<R> {
  title: string;
  width: number;
  text(r: R): string;
}

const line = <R>(cols: readonly Column<R>[], text: (c: Column<R>) => string): string =>
  cols.map((c, i) => (i ? text(c).padStart(c.width) : text(c).padEnd(c.width))).join(' ');

function printHeader<R>(cols: readonly Column<R>[], note: string): void {
  console.log(line(cols, (c) => c.title));
  console.log(' '.repeat(cols[0].width) + '   ' + note);
}

function printRow<R>(cols: readonly Column<R>[], r: R): void {
  console.log(line(cols, (c) => c.text(r)));
}

const cpuCell = (p?: { medianMs: number; gflops: number }): string => cell(p?.medianMs, p?.gflops);

const CPU_COLUMNS: Column<ProblemResult>[] = [
  { title: 'problem', width: 16, text: (r) => r.problem.name },
  { title: 'fused fwd', width: 16, text: (r) => cpuCell(r.fusedForward) },
  { title: 'fused bwd', width: 16, text: (r) => cpuCell(r.fusedBackward) },
  { title: 'unfused fwd', width: 16, text: (r) => cpuCell(r.unfusedForward) },
  { title: 'unfused bwd', width: 16, text: (r) => cpuCell(r.unfusedBackward) },
  { title: 'naive fwd', width: 16, text: (r) => cpuCell(r.naiveForward) },
  { title: 'x naive', width: 8, text: (r) => fmt(r.naiveForward && r.naiveForward.medianMs / r.fusedForward.medianMs) },
  { title: 'x unfused', width: 10, text: (r) => fmt(r.unfusedForward.medianMs / r.fusedForward.medianMs) },
];

const gpuCell = (s?: TimedStep): string => cell(s?.ms, s?.tflops, 3);

/** The unfused forward + backward as one step (time sum, throughput of the sum). */
function unfusedTotal(r: CudaProblemResult): TimedStep {
  const { forward: f, backward: b } = r.unfused.unfused;
  return { ms: f.ms + b.ms, tflops: (f.tflops * f.ms + b.tflops * b.ms) / (f.ms + b.ms) };
}

/** The fastest forced forward config, as "[q]/[kv] ms". */
function bestConfig(r: CudaProblemResult): string {
  const best = r.fused.configs.reduce<ConfigTiming | undefined>((b, c) => (b && b.ms <= c.ms ? b : c), undefined);
  return best ? `${best.kernel} [${best.qTileShape}]/[${best.kvTileShape}] ${fmt(best.ms, 3)}` : '-';
}

const CUDA_COLUMNS: Column<CudaProblemResult>[] = [
  { title: 'problem', width: 32, text: (r) => r.problem },
  { title: 'fused fwd', width: 13, text: (r) => gpuCell(r.fused.forward) },
  { title: 'best fwd config, ms', width: 28, text: bestConfig },
  { title: 'fused bwd', width: 13, text: (r) => gpuCell(r.fusedBackward?.backward) },
  { title: 'unfused f+b', width: 13, text: (r) => gpuCell(unfusedTotal(r)) },
  { title: 'reference fwd', width: 13, text: (r) => gpuCell(r.unfused.reference.forward) },
  { title: 'flex fwd ms', width: 11, text: (r) => fmt(r.fused.flex?.ms, 3) },
  { title: 'flex bwd ms', width: 11, text: (r) => fmt(r.fusedBackward?.flex?.ms, 3) },
  { title: 'x flex fwd', width: 10, text: (r) => fmt(r.fusedVsFlexForward, 2) },
  { title: 'x flex bwd', width: 10, text: (r) => fmt(r.fusedVsFlexBackward, 2) },
  { title: 'f+b x unfused', width: 13, text: (r) => fmt(r.fusedVsUnfused) },
];

function printCpuFooter(r: CpuBenchResult): void {
  console.log(`\n${r.cpus} CPUs (${r.cpuModel}), ${r.threads} engine threads, SIMD level ${r.simdLevel}, fp32.`);
  console.log(
    `FMA peak: theoretical ${r.theoreticalPeakFormula}; measured (all engine threads, FMA-only loop) ` +
      `${fmt(r.measuredPeakGflops)} GFLOP/s. Percentages use the larger, ${fmt(r.peakGflops)} GFLOP/s.`,
  );
  // Median runs (the table), and the best run: on a shared host, noise only ever adds time.
  const best = (t: { gflops: number; medianMs: number; minMs: number }): number => (t.gflops * t.medianMs) / t.minMs;
  for (const p of r.problems) {
    const f = p.fusedForward,
      b = p.fusedBackward;
    console.log(
      `  ${p.problem.name.padEnd(16)} fused forward ${fmt((100 * f.gflops) / r.peakGflops)}% of peak ` +
        `(best run ${fmt(best(f))} GFLOP/s, ${fmt((100 * best(f)) / r.peakGflops)}%)` +
        (b
          ? `, fused backward ${fmt((100 * b.gflops) / r.peakGflops)}% (best ${fmt((100 * best(b)) / r.peakGflops)}%)`
          : ''),
    );
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const bench = DEVICE_BENCHES[o.device];
  if (!bench)
    throw new Error(`no benchmark for device '${o.device}' yet (available: ${Object.keys(DEVICE_BENCHES).join(', ')})`);
  if (o.flex && o.device !== 'cuda') throw new Error('--flex is for --device cuda');
  if (o.list) {
    for (const n of bench.problemNames) console.log(n);
    return;
  }
  for (const n of o.problems ?? []) {
    if (!bench.problemNames.includes(n)) throw new Error(`unknown problem '${n}' for ${o.device} (try --list)`);
  }
  const result = await bench.run(o.problems, o);
  const out = o.out ?? path.join(packageRoot(), 'bench', 'results', `${o.device}.tmp.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nJSON: ${out}`);
}

main().catch((e: Error) => {
  console.error(`bench: ${e.message}`);
  process.exit(1);
});
