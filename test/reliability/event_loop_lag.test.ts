// The event loop stays responsive while thousands of small ops and a few large ones are queued
// (reliability item 7): a 10 ms interval never fires more than 50 ms late, on the CPU and on a GPU.
// The scenario runs in a child process (fixtures/lag_under_load.js): a fresh heap like a server's, so the
// garbage-collection pauses of the test runner's own heap are not counted.
// Lag is measured against a control thread (dev/lag_meter.ts): a stall of the whole process, or
// steal time of a vCPU, is not counted.
import * as natten from '../../lib';
import type { LagReport } from '../../dev/lag_meter';
import { describeGpu } from '../helpers/gpu';
import { describeExit, runFixture } from './child';

const SMALL_OPS = 4000;

interface LagRun extends LagReport {
  totalMs: number;
  enqueueMs: number;
  finite: boolean;
}

/** Runs fixtures/lag_under_load.js (the scenario and its measurement) in a child process. */
async function lagUnderLoad(
  device: natten.DeviceLike,
  dtype: natten.DType,
  largeShape: number[],
  largeKernel: number,
  large: number,
): Promise<LagRun> {
  const r = await runFixture('lag_under_load.js', {
    args: [String(device), dtype, largeShape.join(','), String(largeKernel), String(large), String(SMALL_OPS)],
    timeoutMs: 120000,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.code !== 0 || !line) throw new Error(`lag_under_load.js: ${describeExit(r)}`);
  const run = JSON.parse(line.slice('RESULT '.length)) as LagRun;
  expect(run.finite).toBe(true);
  return run;
}

function log(what: string, r: LagRun): void {
  const w = r.worst;
  process.stderr.write(
    `  [${what}] max lag ${r.maxLagMs.toFixed(1)} ms not explained by a stall of the process or a vCPU (measured ` +
      `${r.rawMaxLagMs.toFixed(1)}, control thread ${r.controlMaxLagMs.toFixed(1)}) over ${r.totalMs.toFixed(0)} ms ` +
      `(enqueueing took ${r.enqueueMs.toFixed(0)} ms); worst firing at ${w.atMs.toFixed(0)} ms: lag ${w.lagMs.toFixed(1)}, ` +
      `control stall ${w.controlStallMs.toFixed(1)}, steal ${w.stealMs.toFixed(0)}, GC pauses ${w.gcMs.toFixed(1)}\n`,
  );
}

describe('event-loop lag under many queued ops (CPU)', () => {
  it(`${SMALL_OPS} small na2d ops and a few large na1d ops: a 10 ms interval never lags more than 50 ms`, async () => {
    const r = await lagUnderLoad('cpu', 'float32', [1, 8192, 2, 32], 8191, 4);
    log('cpu', r);
    expect(r.maxLagMs).toBeLessThan(50);
  });
});

describeGpu('event-loop lag under many queued ops (CUDA)', () => {
  it(`${SMALL_OPS} small na2d ops and a few large na1d ops: a 10 ms interval never lags more than 50 ms`, async () => {
    const r = await lagUnderLoad('cuda', 'float16', [1, 65536, 8, 64], 8191, 4);
    log('cuda', r);
    expect(r.maxLagMs).toBeLessThan(50);
  });
});
