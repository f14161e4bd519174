/**
 * Summarises the time.log of dev/gpu/ab_multi.sh (lines `NAME | problem | spec | ms | TF/s`, one per build,
 * spec and round): per problem and spec, each build's median over the rounds, the spread of its rounds
 * ((max - min) / median) and its change against the base build. Lines of specs a build lacks ("not in this
 * build") are left out.
 *   node dist/dev/gpu/ab_summary.js TIME_LOG                         a table
 *   node dist/dev/gpu/ab_summary.js TIME_LOG --json WHAT DATE [CARD]  the rows as in bench/results/*_ab.json,
 *                                                                    WHAT its "what" text, CARD the device
 *                                                                    (default NVIDIA H200)
 */
import * as fs from 'fs';
import { median } from '../../bench/median';

/** The rounds per spec and build: `problem | spec` -> build -> ms of each round, in the log's order. */
type Rounds = Map<string, Map<string, number[]>>;

function readRounds(file: string): Rounds {
  const rounds: Rounds = new Map();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const parts = line.split('|').map((s) => s.trim());
    if (parts.length < 5 || !parts[3].endsWith(' ms')) continue;
    const [build, problem, spec] = parts;
    const key = `${problem} | ${spec}`;
    const builds = rounds.get(key) ?? new Map<string, number[]>();
    rounds.set(key, builds);
    const ms = builds.get(build) ?? [];
    builds.set(build, ms);
    ms.push(parseFloat(parts[3]));
  }
  return rounds;
}

const spread = (xs: number[]): number => (Math.max(...xs) - Math.min(...xs)) / median(xs);

function table(rounds: Rounds): void {
  for (const [key, builds] of rounds) {
    console.log(key);
    const baseMs = builds.get('base');
    const base = baseMs === undefined ? undefined : median(baseMs);
    for (const [build, ms] of builds) {
      const m = median(ms);
      const vs = base === undefined || build === 'base' ? '' : `  ${((m / base - 1) * 100).toFixed(1).padStart(6)}%`;
      console.log(
        `  ${build.padEnd(44)} ${m.toFixed(4)} ms  spread ${(spread(ms) * 100).toFixed(1).padStart(4)}%${vs}` +
          `  [${ms.map((x) => x.toFixed(4)).join(' ')}]`,
      );
    }
  }
}

function json(rounds: Rounds, what: string, date: string, device: string): object {
  const rows: Record<string, unknown>[] = [];
  for (const [key, builds] of rounds) {
    const [problem, spec] = key.split(' | ');
    const colon = spec.indexOf(':');
    const row: Record<string, unknown> = { problem, config: colon < 0 ? 'default' : spec.slice(colon + 1) };
    for (const [build, ms] of builds) {
      row[build] = ms;
      row[`${build}_median`] = median(ms);
    }
    rows.push(row);
  }
  return { what, device, date, unit: 'ms per launch', rows };
}

function main(): void {
  const [file, flag, what, date, device] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node dist/dev/gpu/ab_summary.js TIME_LOG [--json WHAT DATE [CARD]]');
    process.exit(2);
  }
  const rounds = readRounds(file);
  if (flag === '--json') {
    const doc = json(rounds, what ?? '', date ?? '', device ?? 'NVIDIA H200');
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
  } else {
    table(rounds);
  }
}

main();
