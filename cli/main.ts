#!/usr/bin/env node
/**
 * The `natten-node` command (package.json `bin`): `doctor`, `profile` and `bench`, each with --help and
 * --json. The library and its addon are loaded only when a command runs, so --help and usage errors work
 * even where the addon cannot load. Exit status: 0 success, 1 a command failed (or doctor found a
 * problem), 2 a bad command line.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Command, CommanderError, Option } from 'commander';
import { CliError } from './errors';
import { printJson } from './output';

/** What every command's action returns. */
interface Outcome {
  result: unknown;
  text: string;
  exitCode?: number;
}

/** Prints an outcome as text or JSON and sets the exit status. */
function report(o: Outcome, json: boolean | undefined): void {
  if (json) printJson(o.result);
  else process.stdout.write(o.text + '\n');
  process.exitCode = o.exitCode ?? 0;
}

const list = (flags: string, description: string): Option =>
  new Option(flags, `${description} (one value per spatial axis, or one for all; "7 7" or "7,7")`);

function doctorCommand(): Command {
  return new Command('doctor')
    .description(
      'check this machine, the build, the CUDA driver and runtime and each GPU, and run a small na2d forward + ' +
        'backward on every device against the CPU engine; exits 1 when something is broken',
    )
    .option('--json', 'print the report as JSON')
    .action(async (o: { json?: boolean }) => {
      const { runDoctorCommand } = await import('./doctor/command');
      report(await runDoctorCommand(Boolean(o.json)), o.json);
    });
}

function profileCommand(): Command {
  return new Command('profile')
    .description(
      "NATTEN's profiler for natten-node: run one neighborhood-attention problem and time each launched kernel " +
        '(GPU: CUDA events around every launch) or op (CPU), or list its configs (--dry-run), or tune it (--optimize)',
    )
    .addOption(list('-i, --input-size <sizes...>', 'spatial extent of the tokens, 1 to 3 axes'))
    .option('-b, --batch-size <n>', 'batch size', '1')
    .option('-n, --heads <n>', 'attention heads', '1')
    .option('--heads-kv <n>', 'key/value heads (GQA/MQA; divides --heads; default --heads)')
    .option('-d, --dim <n>', 'head dim of Q and K', '64')
    .option('--dim-value <n>', 'head dim of V (default --dim)')
    .addOption(list('-w, --window-size <sizes...>', 'kernel (window) size'))
    .addOption(list('-s, --stride <sizes...>', 'stride (default 1)'))
    .addOption(list('--dilation <sizes...>', 'dilation (default 1)'))
    .addOption(list('-c, --causal <flags...>', 'causal masking, true/false (default false)'))
    .option(
      '--dtype <dtype>',
      'float32, float16, bfloat16 or float64 (default: bfloat16 on the fused and unfused GPU backends, float32 otherwise)',
    )
    .option('--backprop', 'also run and time the backward pass')
    .option('--add-kv <n>', 'additional keys/values every query attends to', '0')
    .addOption(
      new Option(
        '--backend <backend>',
        'fused, unfused (the QK/softmax/AV chain), reference (CUDA SIMT kernels) or cpu (default: fused with a GPU, else cpu)',
      ),
    )
    .option('--device <device>', 'cuda, cuda:N, or cpu (unfused backend only; default cuda)')
    .addOption(list('--q-tile <shape...>', 'forward query tile (a config from --dry-run)'))
    .addOption(list('--kv-tile <shape...>', 'forward key/value tile'))
    .addOption(list('--backward-q-tile <shape...>', 'backward query tile'))
    .addOption(list('--backward-kv-tile <shape...>', 'backward key/value tile'))
    .option('--warmup-steps <n>', 'untimed steps before the profiled one', '10')
    .option(
      '--dry-run',
      'list every compiled fused config that runs the problem, forward and backward, and the default',
    )
    .option('--arch <arch>', 'with --dry-run: list the configs of sm80 (A100) or sm90 (H100) without a GPU')
    .option(
      '--optimize',
      "search the configs with the autotuner, print the best next to the default, store it in the tuner's cache",
    )
    .option('--json', 'print the result as JSON')
    .action(async (o: import('./profile/problem').ProfileFlags) => {
      const { runProfileCommand } = await import('./profile/command');
      report(await runProfileCommand(o), o.json);
    });
}

function benchCommand(): Command {
  return new Command('bench')
    .description(
      "time neighborhood attention on the device's fixed problem list (CPU: fp32 fused/unfused/naive; CUDA: bf16 " +
        'fused, unfused and reference kernels, FlexAttention with --flex) and print the table',
    )
    .addOption(new Option('--device <device>', 'cpu or cuda').default('cpu'))
    .option('--problems <names>', 'comma-separated problem names (default: all; --list shows them)')
    .option(
      '--runs <n>',
      'timed runs per measurement, median reported (default: 10 on the CPU, each GPU program its own)',
    )
    .option('--warmup <n>', 'untimed runs first (CPU)', '2')
    .option('--no-naive', 'skip the naive single-thread loop (CPU)')
    .option('--no-backward', 'skip the backward passes')
    .option(
      '--flex <file>',
      'FlexAttention results to compare with (CUDA): python3 bench/flex_attention.py --backward --json FILE',
    )
    .option('--out <file>', 'write the results as JSON (nothing is written without it)')
    .option('--plot <file>', 'write a chart of useful FLOP/s per problem, ours next to the peers (.svg or .html)')
    .option('--list', 'list the problem names of --device and exit')
    .option('--json', 'print the results as JSON')
    .action(async (o: import('./bench/run').BenchFlags) => {
      const { runBench } = await import('./bench/run');
      report(await runBench(o), o.json);
    });
}

/** natten-node's package.json: the nearest above this file (cli/ in the sources, dist/cli/ when built). */
function packageJson(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'package.json');
}

/** The command line program (exported for tests; `exitOverride` makes commander throw instead of exiting). */
export function program(): Command {
  const version = (require(packageJson()) as { version: string }).version;
  const p = new Command('natten-node')
    .description('natten-node: neighborhood attention for Node.js — diagnose, profile and benchmark')
    .version(version)
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  for (const c of [doctorCommand(), profileCommand(), benchCommand()])
    p.addCommand(c.showHelpAfterError('(add --help for usage)').exitOverride());
  return p;
}

/** Prints an error as `natten-node: [CODE] message` (or JSON with --json) and sets the exit status. */
function fail(e: unknown, json: boolean): void {
  const err = e as { code?: string; message?: string };
  const code = err.code ?? 'ERR_NATTEN_CLI';
  if (json) printJson({ error: { code, message: err.message ?? String(e) } });
  process.stderr.write(`natten-node: [${code}] ${err.message ?? String(e)}\n`);
  process.exitCode = e instanceof CliError ? e.exitCode : 1;
}

/** Runs the command line `argv` (without node and the script). */
export async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with exit code 0; commander has printed the message of a bad flag.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    fail(e, argv.includes('--json'));
  }
}

if (require.main === module) void main(process.argv.slice(2));
