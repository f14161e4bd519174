#!/usr/bin/env node
// "Unchanged" check between two builds: runs dev/time_build.js on build A and build B alternately
// (A B A B ...) in one run on one machine, then reports per problem and pass the median over rounds of
// each build, B's change against A, and the spread of A against itself (max/min - 1 over A's rounds).
// A difference is within noise when |change| < max(3%, spread).
//   node dev/compare_builds.js --device cuda|cpu [--rounds 3] [--runs 30] [--json FILE]
//        --a ROOT_A [--a-addon FILE] --b ROOT_B [--b-addon FILE]
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');
const { values: o } = parseArgs({
  options: {
    device: { type: 'string', default: 'cuda' },
    rounds: { type: 'string', default: '3' },
    runs: { type: 'string', default: '30' },
    json: { type: 'string' },
    a: { type: 'string' },
    b: { type: 'string' },
    'a-addon': { type: 'string' },
    'b-addon': { type: 'string' },
  },
});

function once(root, addon) {
  const env = { ...process.env };
  if (addon) env.NATTEN_ADDON_PATH = path.resolve(addon);
  const txt = execFileSync(
    process.execPath,
    [path.join(__dirname, 'time_build.js'), root, '--device', o.device, '--runs', o.runs],
    { env, encoding: 'utf8' },
  );
  return JSON.parse(txt.trim().split('\n').pop());
}
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const rounds = { a: [], b: [] };
for (let r = 0; r < Number(o.rounds); r++) {
  rounds.a.push(once(o.a, o['a-addon']));
  rounds.b.push(once(o.b, o['b-addon']));
  process.stderr.write(`round ${r + 1} of ${o.rounds} done\n`);
}
const rows = [];
for (const [i, p] of rounds.a[0].entries()) {
  for (const pass of ['forwardMs', 'backwardMs']) {
    const a = rounds.a.map((x) => x[i][pass]),
      b = rounds.b.map((x) => x[i][pass]);
    const ma = median(a),
      mb = median(b);
    const spread = Math.max(...a) / Math.min(...a) - 1;
    const change = mb / ma - 1;
    rows.push({
      problem: p.problem,
      pass: pass.replace('Ms', ''),
      aMs: ma,
      bMs: mb,
      change,
      spreadA: spread,
      withinNoise: Math.abs(change) < Math.max(0.03, spread),
    });
  }
}
for (const r of rows) {
  console.log(
    `${r.problem.padEnd(36)} ${r.pass.padEnd(8)} A ${r.aMs.toFixed(3).padStart(9)} ms  B ${r.bMs.toFixed(3).padStart(9)} ms  ` +
      `${(r.change * 100).toFixed(1).padStart(6)}%  spread(A) ${(r.spreadA * 100).toFixed(1)}%  ${r.withinNoise ? 'unchanged' : 'CHANGED'}`,
  );
}
if (o.json)
  fs.writeFileSync(
    o.json,
    JSON.stringify({ device: o.device, rounds: Number(o.rounds), runs: Number(o.runs), rows }, null, 2),
  );
