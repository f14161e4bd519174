/**
 * The functions with the most self time in a V8 CPU profile (`node --cpu-prof`), to read a profile taken on
 * a machine without a browser: `node dist/dev/cpu_profile_top.js FILE.cpuprofile [N]`.
 */
import * as fs from 'fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

function main(): void {
  const [file, top = '40'] = process.argv.slice(2);
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const bySample = new Map<number, number>();
  p.samples.forEach((id, i) => bySample.set(id, (bySample.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const self = new Map<string, number>();
  for (const n of p.nodes) {
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (bySample.get(n.id) ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  for (const [k, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(top)))
    process.stdout.write(
      `${((100 * us) / total).toFixed(1).padStart(5)}% ${(us / 1e3).toFixed(1).padStart(8)} ms  ${k}\n`,
    );
}

main();
