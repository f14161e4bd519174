// A long CPU training run (dev/training_soak.ts: a tiny two-block NAT model, 3000 steps of forward, loss,
// backward, AdamW, zeroGrad) keeps natten.memory() flat and RSS growth under 20 MB after the warm-up; the
// same checks catch a tensor leaked per step. Each run is a child process (its own heap, a forced GC).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SoakReport } from '../dev/training_soak';

const MB = 1e6;
const RSS_GROWTH_LIMIT = 20 * MB;
const SCRIPT = join(__dirname, '..', 'dist', 'dev', 'training_soak.js');

async function runSoak(args: string[]): Promise<SoakReport> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--expose-gc', '--max-semi-space-size=1', SCRIPT, ...args],
    { env: process.env, timeout: 120000 },
  );
  return JSON.parse(stdout) as SoakReport;
}

/** The soak's failures (empty when memory() is flat and RSS grew less than the limit). */
function problems(r: SoakReport): string[] {
  const out: string[] = [];
  if (r.end.memory !== r.warm.memory)
    out.push(`natten.memory().cpu went from ${r.warm.memory} to ${r.end.memory} bytes after the warm-up`);
  if (r.end.rss - r.warm.rss >= RSS_GROWTH_LIMIT)
    out.push(`RSS grew by ${((r.end.rss - r.warm.rss) / MB).toFixed(1)} MB after the warm-up`);
  return out;
}

describe('training soak on the CPU', () => {
  it('3000 steps of a tiny NAT model: natten.memory() flat, RSS growth under 20 MB, loss falls', async () => {
    const r = await runSoak(['--steps', '3000', '--warmup', '1000']);
    console.log(
      `training soak: ${r.steps} steps in ${r.seconds.toFixed(1)} s; memory().cpu ${r.warm.memory} -> ${r.end.memory} B; ` +
        `RSS ${(r.warm.rss / MB).toFixed(1)} -> ${(r.end.rss / MB).toFixed(1)} MB; loss ${r.firstLoss.toFixed(4)} -> ${r.lastLoss.toFixed(4)}`,
    );
    expect(problems(r)).toEqual([]);
    expect(r.warm.memory).toBeGreaterThan(0); // the parameters and the optimizer state are live
    expect(r.lastLoss).toBeLessThan(0.5 * r.firstLoss);
  });

  it('the same checks catch a 128 KiB tensor leaked per step (400 steps)', async () => {
    const r = await runSoak(['--steps', '400', '--warmup', '40', '--leak-bytes', String(128 * 1024)]);
    expect(problems(r)).toEqual([
      expect.stringMatching(/^natten.memory\(\).cpu went from \d+ to \d+ bytes/),
      expect.stringMatching(/^RSS grew by \d+\.\d MB/),
    ]);
    expect(r.end.memory - r.warm.memory).toBe(360 * 128 * 1024);
  });
});
