/**
 * `profile` without --dry-run: runs the problem's step (forward, and backward with --backprop) after
 * --warmup-steps untimed steps, then once more timed, and reports what ran. On a GPU that is the table of
 * launched kernels, each timed with CUDA events around its launch (the addon's profile mode: every op is
 * captured into a CUDA graph with an event pair around each kernel, launched once). On the CPU it is one
 * row per op (wall time from enqueue to the CPU queue draining: the CPU engine runs one op at a time).
 */
import * as natten from '../../lib';
import { native } from '../../lib/native';
import { deviceIndex } from '../../lib/device';
import { progress, renderTable } from '../output';
import { makeStep, type Step } from './steps';
import { usefulFlops, type ProfileProblem } from './problem';
import { shortKernelName } from '../../bench/gpu_timing';

/** One row of the table: a kernel (GPU) or an op (CPU), with every call of it in the step. */
export interface ProfileRow {
  name: string;
  calls: number;
  /** Total time of the calls, ms. */
  ms: number;
}

/** What a profile run reports. */
export interface ProfileReport {
  device: string;
  /** 'kernels' (GPU, CUDA events per launch) or 'ops' (CPU, per op). */
  rows: 'kernels' | 'ops';
  table: ProfileRow[];
  totalMs: number;
  usefulFlops: number;
  /** Useful TFLOP/s of the step: usefulFlops / total time. */
  tflops: number;
}

/** Adds a timing to the row of `name` (rows keep first-seen order). */
function add(rows: ProfileRow[], name: string, ms: number): void {
  const row = rows.find((r) => r.name === name);
  if (row) {
    row.calls++;
    row.ms += ms;
  } else rows.push({ name, calls: 1, ms });
}

async function runUntimed(step: Step, device: natten.DeviceLike): Promise<void> {
  for (const op of step.ops) for (const t of op.run()) t.dispose();
  step.endStep();
  await natten.synchronize(device);
}

/** One timed step on the CPU: each op alone, from enqueue until the CPU queue has run it. */
async function timeCpuStep(step: Step): Promise<ProfileRow[]> {
  const rows: ProfileRow[] = [];
  for (const op of step.ops) {
    const t0 = performance.now();
    const outs = op.run();
    await natten.synchronize('cpu');
    add(rows, op.name, performance.now() - t0);
    for (const t of outs) t.dispose();
  }
  step.endStep();
  return rows;
}

/** One timed step on a GPU, in profile mode. */
async function timeGpuStep(step: Step, device: number): Promise<ProfileRow[]> {
  const outs: natten.Tensor[] = [];
  native.profileStart({ device });
  let timings;
  try {
    for (const op of step.ops) outs.push(...op.run());
  } finally {
    timings = native.profileStop({ device });
  }
  for (const t of outs) t.dispose();
  step.endStep();
  const rows: ProfileRow[] = [];
  for (const k of timings) add(rows, shortKernelName(k.name), k.ms);
  return rows;
}

/** Runs the profile; `quiet` hides the warm-up progress. */
export async function runProfile(p: ProfileProblem, quiet: boolean): Promise<ProfileReport> {
  const index = deviceIndex(p.device);
  const step = makeStep(p);
  try {
    const bar = progress('warm-up', p.warmupSteps, quiet || p.warmupSteps === 0);
    for (let i = 0; i < p.warmupSteps; i++) {
      await runUntimed(step, p.device);
      bar.tick(`step ${i + 1}`);
    }
    bar.stop();
    const table = index < 0 ? await timeCpuStep(step) : await timeGpuStep(step, index);
    const totalMs = table.reduce((s, r) => s + r.ms, 0);
    const f = usefulFlops(p);
    const flops = f.forward + (p.backprop ? f.backward : 0);
    return {
      device: index < 0 ? 'cpu' : `cuda:${index}`,
      rows: index < 0 ? 'ops' : 'kernels',
      table,
      totalMs,
      usefulFlops: flops,
      tflops: flops / (totalMs * 1e9),
    };
  } finally {
    step.dispose();
  }
}

const ms = (x: number): string => (x >= 100 ? x.toFixed(1) : x >= 1 ? x.toFixed(3) : x.toFixed(4));

/** The report as text. */
export function renderProfile(r: ProfileReport, problem: string): string {
  const what = r.rows === 'kernels' ? 'kernel' : 'op';
  return [
    `${problem} on ${r.device}`,
    renderTable(
      [what, 'calls', 'ms each', 'ms total', 'share'],
      r.table.map((row) => [
        row.name,
        row.calls,
        ms(row.ms / row.calls),
        ms(row.ms),
        `${((100 * row.ms) / r.totalMs).toFixed(1)}%`,
      ]),
    ),
    `total ${ms(r.totalMs)} ms, ${(r.usefulFlops / 1e9).toFixed(3)} useful GFLOP, ${r.tflops.toFixed(3)} useful TFLOP/s` +
      (r.rows === 'kernels' ? " (sum of the kernels' CUDA-event times)" : ' (per op, CPU wall time)'),
  ].join('\n');
}
