/**
 * Runs the built `natten-node` command (dist/cli/main.js, from `npx tsc -p tsconfig.json` or npm ci) in a
 * child process, as a user would, and returns its exit status and output.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** The package root. */
export const ROOT = path.join(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'dist', 'cli', 'main.js');

/** How the command ended. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `natten-node ...args` in `cwd` (default: a scratch folder is not needed; the package root). */
export function runCli(args: readonly string[], opts: { cwd?: string; env?: Record<string, string> } = {}): CliRun {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npx tsc -p tsconfig.json\` (or npm ci) first`);
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
