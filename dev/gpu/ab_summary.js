#!/usr/bin/env node
// Summarises the time.log of dev/gpu/ab_multi.sh (lines `NAME | problem | spec | ms | TF/s`, one per build,
// spec and round): per problem and spec, each build's median over the rounds, the spread of its rounds
// ((max - min) / median) and its change against the base build. Lines of specs a build lacks ("not in this
// build") are left out.
//   node dev/gpu/ab_summary.js TIME_LOG                  a table
//   node dev/gpu/ab_summary.js TIME_LOG --json WHAT DATE  the rows as in bench/results/*_ab.json, WHAT its
//                                                         "what" text
'use strict';
const fs = require('fs');

/** The rounds per spec and build: Map(`problem | spec` -> Map(build -> ms[])), in the log's order. */
function readRounds(file) {
  const rounds = new Map();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const parts = line.split('|').map((s) => s.trim());
    if (parts.length < 5 || !parts[3].endsWith(' ms')) continue;
    const [build, problem, spec] = parts;
    const key = `${problem} | ${spec}`;
    if (!rounds.has(key)) rounds.set(key, new Map());
    const builds = rounds.get(key);
    if (!builds.has(build)) builds.set(build, []);
    builds.get(build).push(parseFloat(parts[3]));
  }
  return rounds;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

const spread = (xs) => (Math.max(...xs) - Math.min(...xs)) / median(xs);

function table(rounds) {
  for (const [key, builds] of rounds) {
    console.log(key);
    const base = builds.has('base') ? median(builds.get('base')) : undefined;
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

function json(rounds, what, date) {
  const rows = [];
  for (const [key, builds] of rounds) {
    const [problem, spec] = key.split(' | ');
    const colon = spec.indexOf(':');
    const row = { problem, config: colon < 0 ? 'default' : spec.slice(colon + 1) };
    for (const [build, ms] of builds) {
      row[build] = ms;
      row[`${build}_median`] = median(ms);
    }
    rows.push(row);
  }
  return { what, device: 'NVIDIA H200', date, unit: 'ms per launch', rows };
}

function main() {
  const [file, flag, what, date] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node dev/gpu/ab_summary.js TIME_LOG [--json WHAT DATE]');
    process.exit(2);
  }
  const rounds = readRounds(file);
  if (flag === '--json') process.stdout.write(JSON.stringify(json(rounds, what ?? '', date ?? ''), null, 2) + '\n');
  else table(rounds);
}

main();
