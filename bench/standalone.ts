/**
 * The command line shared by the standalone GPU benchmark programs (`node dist/bench/cuda_fused.js` and
 * its two siblings): `--device N` (default 0), `--runs N`, `--out FILE` (default bench/results/<name>.tmp.json, git-ignored: commit a result under a name that says what it measures),
 * `--flex FILE` and program-specific options read through `arg`; the results are rewritten to the JSON
 * file after every problem ({device, dtype, date, results}).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as natten from '../lib';

/** What a program's run gets: its options, the device, and the callback that saves the results so far. */
export interface StandaloneRun<R> {
  /** The value after `name` on the command line, if given. */
  arg(name: string): string | undefined;
  device: number;
  save(results: readonly R[]): void;
}

/**
 * Runs `run` as a command-line program when `module` is the entry point: prints `title` with the GPU's
 * name, writes the JSON, and exits 1 with the stack on an error.
 */
export function standaloneMain<R>(
  module: NodeModule,
  name: string,
  title: string,
  dtype: string,
  run: (o: StandaloneRun<R>) => Promise<unknown>,
): void {
  if (require.main !== module) return;
  const main = async (): Promise<void> => {
    const args = process.argv.slice(2);
    const arg = (flag: string): string | undefined => {
      const i = args.indexOf(flag);
      return i >= 0 ? args[i + 1] : undefined;
    };
    const device = Number(arg('--device') ?? 0);
    const out = arg('--out') ?? path.join(__dirname, '..', '..', 'bench', 'results', `${name}.tmp.json`);
    const info = natten.cuda.deviceInfo(device);
    process.stdout.write(`${title} on ${info.name} (bf16)\n`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const save = (results: readonly R[]): void =>
      fs.writeFileSync(
        out,
        JSON.stringify({ device: info.name, dtype, date: new Date().toISOString(), results }, null, 2) + '\n',
      );
    await run({ arg, device, save });
    process.stdout.write(`wrote ${out}\n`);
  };
  main().catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
