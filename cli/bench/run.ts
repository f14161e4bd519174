/**
 * `natten-node bench`: times the device's fixed problem list (bench/cpu.ts on the CPU, fp32; bench/cuda.ts
 * on a GPU, bf16, with FlexAttention from --flex), prints the table, and writes JSON only with --out and
 * a chart only with --plot. Nothing is written into the package.
 */
import * as fs from 'fs';
import * as path from 'path';
import { runCpuBench, type CpuBenchResult } from '../../bench/cpu';
import { requireCuda, runCudaBench, type CudaBenchResult } from '../../bench/cuda';
import { CUDA_BENCH_PROBLEMS } from '../../bench/cuda_unfused';
import { CPU_PROBLEMS } from '../../bench/problems';
import { CliError, usage } from '../errors';
import { progress } from '../output';
import { intFlag } from '../profile/problem';
import { checkPlotFile, cpuPoints, cudaPoints, writePlot } from './plot';
import { renderCpuBench, renderCudaBench } from './tables';

/** The bench flags (commander's values). */
export interface BenchFlags {
  device: string;
  problems?: string;
  runs?: string;
  warmup: string;
  naive: boolean;
  backward: boolean;
  flex?: string;
  out?: string;
  plot?: string;
  list?: boolean;
  json?: boolean;
}

/** What a bench run gives back: its result and the text to print. */
export interface BenchOutcome {
  result: CpuBenchResult | CudaBenchResult | { device: string; problems: string[] };
  text: string;
}

const DEVICES = ['cpu', 'cuda'] as const;

/** The problem names of a device. */
export function problemNames(device: string): string[] {
  return device === 'cuda' ? CUDA_BENCH_PROBLEMS.map((p) => p.name) : CPU_PROBLEMS.map((p) => p.name);
}

/** Validates the flags (usage errors before anything runs). */
function check(f: BenchFlags): string[] | undefined {
  if (!(DEVICES as readonly string[]).includes(f.device))
    throw usage(`--device must be cpu or cuda, got '${f.device}'`);
  if (f.flex && f.device !== 'cuda') throw usage('--flex is for --device cuda');
  if (f.flex && !fs.existsSync(f.flex)) throw new CliError('ERR_NATTEN_CLI_FILE', `--flex: no file '${f.flex}'`);
  if (f.plot) checkPlotFile(f.plot);
  if (f.runs !== undefined) intFlag('--runs', f.runs);
  intFlag('--warmup', f.warmup, 0);
  if (f.problems === undefined) return undefined;
  const names = f.problems.split(/,(?![^(]*\))/); // not the commas of 'k(5,9,9)'
  const known = problemNames(f.device);
  for (const n of names) {
    if (!known.includes(n)) throw usage(`unknown problem '${n}' for --device ${f.device} (bench --list shows them)`);
  }
  return names;
}

function pick<P extends { name: string }>(all: readonly P[], names: readonly string[] | undefined): P[] {
  return names ? names.map((n) => all.find((p) => p.name === n)!) : [...all];
}

function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

/** Runs the benchmark the flags ask for. */
export async function runBench(f: BenchFlags): Promise<BenchOutcome> {
  const names = check(f);
  if (f.list)
    return { result: { device: f.device, problems: problemNames(f.device) }, text: problemNames(f.device).join('\n') };
  const runs = f.runs === undefined ? undefined : intFlag('--runs', f.runs);
  const quiet = Boolean(f.json);
  let outcome: BenchOutcome;
  if (f.device === 'cpu') {
    const problems = pick(CPU_PROBLEMS, names);
    const bar = progress('bench cpu', problems.length, quiet);
    const o = { runs: runs ?? 10, warmup: intFlag('--warmup', f.warmup, 0), naive: f.naive, backward: f.backward };
    const r = await runCpuBench(problems, o, (p) => bar.tick(p.problem.name));
    bar.stop();
    outcome = { result: r, text: renderCpuBench(r) };
    if (f.plot) await writePlot(f.plot, cpuPoints(r), `natten-node CPU engine, ${r.cpuModel}, fp32`, 'GFLOP/s');
  } else {
    try {
      requireCuda();
    } catch (e) {
      throw new CliError('ERR_NATTEN_CLI_NO_GPU', (e as Error).message);
    }
    const problems = pick(CUDA_BENCH_PROBLEMS, names);
    const bar = progress('bench cuda', problems.length, quiet);
    const r = await runCudaBench(problems, { runs, backward: f.backward, flexFile: f.flex }, (p) =>
      bar.tick(p.problem),
    );
    bar.stop();
    outcome = { result: r, text: renderCudaBench(r, Boolean(f.flex)) };
    if (f.plot) await writePlot(f.plot, cudaPoints(r), `natten-node on ${r.gpu}, bf16`, 'TFLOP/s');
  }
  if (f.out) writeJson(f.out, outcome.result);
  const written = [f.out && `JSON: ${f.out}`, f.plot && `chart: ${f.plot}`].filter(Boolean);
  if (written.length) outcome.text += `\n${written.join('\n')}`;
  return outcome;
}
