#!/usr/bin/env node
/**
 * `npm run bench -- --device cpu [options]`: times neighborhood attention on a fixed problem list and
 * prints a table of useful GFLOP/s; the results are also written as JSON (bench/results/<device>.json).
 *
 * Options: --device cpu|cuda (default cpu), --problems name,name (default: the device's whole list),
 * --runs N (timed runs, median reported; default 10), --warmup N (default 2), --no-naive, --no-backward,
 * --out path (JSON file; default bench/results/<device>.json), --list (print the problem names).
 * A device's benchmark is an entry of DEVICE_BENCHES (its problem names and a run function that prints
 * its table and returns JSON-serialisable results); add the CUDA one next to the CPU one.
 */
import * as fs from 'fs';
import * as path from 'path';
import { packageRoot } from '../lib/binding';
import { BenchOptions, CpuBenchResult, ProblemResult, runCpuBench } from './cpu';
import { BenchProblem, CPU_PROBLEMS } from './problems';

interface CliOptions extends BenchOptions {
  device: string;
  problems?: string[];
  out?: string;
  list: boolean;
}

/** A device benchmark: its problem names, and a run over a subset of them (undefined: all). */
interface DeviceBench {
  problemNames: readonly string[];
  run(problems: readonly string[] | undefined, o: BenchOptions): Promise<unknown>;
}

function pick(all: readonly BenchProblem[], names: readonly string[] | undefined): BenchProblem[] {
  return names ? names.map((n) => all.find((p) => p.name === n)!) : [...all];
}

const DEVICE_BENCHES: Record<string, DeviceBench> = {
  cpu: {
    problemNames: CPU_PROBLEMS.map((p) => p.name),
    async run(names, o) {
      printCpuHeader();
      const r = await runCpuBench(pick(CPU_PROBLEMS, names), o, printCpuRow);
      printCpuFooter(r);
      return r;
    },
  },
};

function parseArgs(argv: string[]): CliOptions {
  const o: CliOptions = { device: 'cpu', runs: 10, warmup: 2, naive: true, backward: true, list: false };
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
    else if (a === '--problems') o.problems = value().split(',');
    else if (a === '--runs') o.runs = Math.max(1, int());
    else if (a === '--warmup') o.warmup = int();
    else if (a === '--no-naive') o.naive = false;
    else if (a === '--no-backward') o.backward = false;
    else if (a === '--out') o.out = value();
    else if (a === '--list') o.list = true;
    else throw new Error(`unknown option ${a} (see the header of bench/cli.ts)`);
  }
  return o;
}

const fmt = (x: number | undefined, digits = 1): string => (x === undefined ? '-' : x.toFixed(digits));
const pad = (s: string, n: number): string => s.padStart(n);

function printCpuHeader(): void {
  console.log(['problem'.padEnd(16), pad('fused fwd', 16), pad('fused bwd', 16), pad('unfused fwd', 16), pad('unfused bwd', 16),
    pad('naive fwd', 16), pad('x naive', 8), pad('x unfused', 10)].join(' '));
  console.log(' '.repeat(16) + '   (ms / GFLOP/s for each path)');
}

function cell(p?: { medianMs: number; gflops: number }): string {
  return pad(p ? `${fmt(p.medianMs, 2)}/${fmt(p.gflops)}` : '-', 16);
}

function printCpuRow(r: ProblemResult): void {
  const xNaive = r.naiveForward ? r.naiveForward.medianMs / r.fusedForward.medianMs : undefined;
  const xUnfused = r.unfusedForward.medianMs / r.fusedForward.medianMs;
  console.log([r.problem.name.padEnd(16), cell(r.fusedForward), cell(r.fusedBackward), cell(r.unfusedForward),
    cell(r.unfusedBackward), cell(r.naiveForward), pad(fmt(xNaive), 8), pad(fmt(xUnfused), 10)].join(' '));
}

function printCpuFooter(r: CpuBenchResult): void {
  console.log(`\n${r.cpus} CPUs (${r.cpuModel}), ${r.threads} engine threads, fp32.`);
  console.log(`FMA peak: theoretical ${r.theoreticalPeakFormula}; measured (all engine threads, FMA-only loop) ` +
    `${fmt(r.measuredPeakGflops)} GFLOP/s. Percentages use the larger, ${fmt(r.peakGflops)} GFLOP/s.`);
  // Median runs (the table), and the best run: on a shared host, noise only ever adds time.
  const best = (t: { gflops: number; medianMs: number; minMs: number }): number => (t.gflops * t.medianMs) / t.minMs;
  for (const p of r.problems) {
    const f = p.fusedForward, b = p.fusedBackward;
    console.log(`  ${p.problem.name.padEnd(16)} fused forward ${fmt((100 * f.gflops) / r.peakGflops)}% of peak ` +
      `(best run ${fmt(best(f))} GFLOP/s, ${fmt((100 * best(f)) / r.peakGflops)}%)` +
      (b ? `, fused backward ${fmt((100 * b.gflops) / r.peakGflops)}% (best ${fmt((100 * best(b)) / r.peakGflops)}%)` : ''));
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const bench = DEVICE_BENCHES[o.device];
  if (!bench) throw new Error(`no benchmark for device '${o.device}' yet (available: ${Object.keys(DEVICE_BENCHES).join(', ')})`);
  if (o.list) {
    for (const n of bench.problemNames) console.log(n);
    return;
  }
  for (const n of o.problems ?? []) {
    if (!bench.problemNames.includes(n)) throw new Error(`unknown problem '${n}' for ${o.device} (try --list)`);
  }
  const result = await bench.run(o.problems, o);
  const out = o.out ?? path.join(packageRoot(), 'bench', 'results', `${o.device}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nJSON: ${out}`);
}

main().catch((e: Error) => {
  console.error(`bench: ${e.message}`);
  process.exit(1);
});
