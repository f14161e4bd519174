/**
 * Runs the plain-JS fixtures of the reliability tests in child processes, so that a crash, an abort or a
 * hang of the native layer is a failed test instead of a lost jest run. Fixtures load the compiled library
 * from dist/ (built by `npm ci` or `npx tsc -p tsconfig.json`).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** Folder of the fixture scripts. */
export const FIXTURES = path.join(__dirname, 'fixtures');
const ROOT = path.join(__dirname, '..', '..');
const DIST_INDEX = path.join(ROOT, 'dist', 'lib', 'index.js');

/** How a child ended and what it printed. */
export interface ChildResult {
  /** Exit code (null when killed by a signal). */
  code: number | null;
  /** Signal that ended the child (null on a normal exit). */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
  /** Date.now() when the parent saw the child exit. */
  exitAt: number;
  /** True when the parent killed the child (SIGKILL) after timeoutMs. */
  timedOut: boolean;
}

/** Options of {@link runFixture}. */
export interface RunOptions {
  /** Arguments after the script path. */
  args?: string[];
  /** Variables added to (or, when undefined, removed from) the parent's environment. */
  env?: Record<string, string | undefined>;
  /** Options given to node before the script (e.g. --expose-gc). */
  nodeArgs?: string[];
  /** Kill the child with SIGKILL after this long (default 60 s). */
  timeoutMs?: number;
  /** Also kill it (SIGKILL, counted as a timeout) `ms` after its stdout first matches `match`. */
  killAfterOutput?: { match: RegExp; ms: number };
}

let distChecked = false;

/** Throws a clear error when dist/ is missing or older than lib/ (fixtures run the compiled library). */
function checkDist(): void {
  if (distChecked) return;
  if (!fs.existsSync(DIST_INDEX))
    throw new Error(`${DIST_INDEX} is missing: run \`npx tsc -p tsconfig.json\` (or npm ci) first`);
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const out = path.join(ROOT, 'dist', path.relative(ROOT, p)).replace(/\.ts$/, '.js');
        if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(p).mtimeMs)
          stale.push(path.relative(ROOT, p));
      }
    }
  };
  walk(path.join(ROOT, 'lib'));
  walk(path.join(ROOT, 'dev'));
  if (stale.length) throw new Error(`dist/ is older than ${stale.join(', ')}: run \`npx tsc -p tsconfig.json\` first`);
  distChecked = true;
}

/** Runs `node [nodeArgs] fixtures/<name> [args]` and resolves once it has exited and its output is read. */
export function runFixture(name: string, opts: RunOptions = {}): Promise<ChildResult> {
  checkDist();
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const timeoutMs = opts.timeoutMs ?? 60000;
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), path.join(FIXTURES, name), ...(opts.args ?? [])], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let exitAt = 0;
    let timedOut = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const kill = (): void => {
      if (exitAt) return;
      timedOut = true;
      child.kill('SIGKILL');
    };
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      if (opts.killAfterOutput && !graceTimer && opts.killAfterOutput.match.test(stdout))
        graceTimer = setTimeout(kill, opts.killAfterOutput.ms);
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(kill, timeoutMs);
    child.on('exit', () => (exitAt = Date.now()));
    child.on('error', (e) => {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      resolve({
        code,
        signal,
        stdout,
        stderr,
        ms: (exitAt || Date.now()) - t0,
        exitAt: exitAt || Date.now(),
        timedOut,
      });
    });
  });
}

/** Runs `count` jobs, at most `parallel` at a time; results in job order. */
export async function runMany<T>(count: number, parallel: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      results[i] = await job(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane));
  return results;
}

/** One line saying how a child ended, with the tail of its stderr: for failure messages. */
export function describeExit(r: ChildResult): string {
  const how = r.timedOut
    ? 'killed by the parent (time limit)'
    : r.signal
      ? `killed by ${r.signal}`
      : `exit code ${r.code}`;
  const tail = r.stderr.trim().split('\n').slice(-8).join('\n    ');
  return `${how} after ${r.ms} ms${tail ? `; stderr:\n    ${tail}` : ''}`;
}

/** The value of the last `KEY {json}` line the child printed on stdout (fixtures report results this way). */
export function report<T = unknown>(r: ChildResult, key: string): T | undefined {
  const lines = r.stdout.split('\n').filter((l) => l.startsWith(`${key} `));
  if (!lines.length) return undefined;
  try {
    return JSON.parse(lines[lines.length - 1].slice(key.length + 1)) as T;
  } catch {
    return undefined; // a line cut short by a crash
  }
}

/**
 * Asserts that the child exited by itself with `code` and no signal; the failure message says how it
 * ended and shows its stderr.
 */
export function expectExit(r: ChildResult, code: number): void {
  const ok = !r.timedOut && r.signal === null && r.code === code;
  if (!ok) throw new Error(`expected exit code ${code} without a signal, got ${describeExit(r)}`);
}
