/**
 * GPU acceptance of the autotuner (run by dev/gpu/autotune_check.sh on a machine with the CUDA addon): for
 * the five README benchmark problems and 20 seeded random ones (1/2/3-D, head dims 32-128, small and large
 * windows, dilation, causal), forward and backward, bf16:
 *   1. tunes with `natten.tune` in default mode, then in thorough mode (each forced, from an empty
 *      memory-only cache), and records each tuning's wall time;
 *   2. times the default config (the cost model's), the default-mode tuned config and the thorough-mode
 *      tuned config interleaved (A B C A B C ...), each run behind a spin kernel, median of `--runs`;
 *   3. measures the event loop's worst lag (a 10 ms interval) while a first call of the largest README
 *      problem tunes (thorough), and the JS time of that call.
 * Prints a table and a summary (how many (problem, pass) pairs the tuned config is faster by 10% or more,
 * by how much, and any where it is slower than the default by more than 3%), and writes JSON to
 * `--out` (default $OUT/autotune_check.json when OUT is set).
 *
 * `node dist/dev/gpu/autotune_check.js [--runs N] [--random N] [--from N] [--out FILE]`
 */
import * as fs from 'fs';
import * as path from 'path';
import * as natten from '../../lib';
import { native, type NativeFusedConfig } from '../../lib/native';
import { backwardPass, forwardPass } from '../../lib/ops/fused';
import { nativeConfigOf } from '../../lib/autotuner/tuner';
import { CUDA_BENCH_PROBLEMS } from '../../bench/cuda_unfused';
import { median } from '../../bench/timing';
import { mulberry32 } from '../../test/oracle/util';
import { monitorEventLoopDelay } from 'perf_hooks';

interface Problem {
  name: string;
  spec: natten.TuneProblem;
}

interface Row {
  problem: string;
  pass: natten.TunePass;
  defaultMs: number;
  tunedMs: number;
  thoroughMs: number;
  tunedConfig: natten.TunedConfig;
  thoroughConfig: natten.TunedConfig;
  defaultConfig: natten.TunedConfig;
  tuningMs: number;
  thoroughTuningMs: number;
  candidates: number;
  thoroughCandidates: number;
  /** defaultMs / tunedMs */
  speedup: number;
}

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};

/** `n` random problems of about 2^20-2^22 tokens x heads: 1/2/3-D, head dims 32-128, small and large windows,
 * dilation, causal. */
function randomProblems(n: number, seed: number): Problem[] {
  const r = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const out: Problem[] = [];
  for (let i = 0; i < n; i++) {
    const dims = 1 + (i % 3);
    const large = r() < 0.5;
    const spatial: number[] = [];
    const kernel: number[] = [];
    const dilation: number[] = [];
    const causal: boolean[] = [];
    for (let a = 0; a < dims; a++) {
      const L =
        dims === 1 ? pick([2048, 4096, 8192, 16384]) : dims === 2 ? pick([48, 64, 96, 128]) : pick([12, 16, 24, 32]);
      const d = r() < 0.3 ? int(2, dims === 1 ? 8 : 3) : 1;
      const kmax = Math.floor(L / d);
      const k = Math.min(
        kmax,
        large ? (dims === 1 ? int(255, 1023) : dims === 2 ? int(15, 31) : int(7, 13)) : int(3, dims === 1 ? 63 : 9),
      );
      spatial.push(L);
      kernel.push(k);
      dilation.push(d);
      causal.push(r() < 0.2);
    }
    const tokens = spatial.reduce((a, b) => a * b, 1);
    const headDim = pick([32, 64, 96, 128]);
    const bh = Math.max(1, Math.round(2 ** int(20, 22) / tokens));
    const heads = Math.min(bh, pick([2, 4, 8, 16]));
    const batch = Math.max(1, Math.round(bh / heads));
    const name =
      `${dims}-D B${batch} H${heads} ${spatial.join('x')} k(${kernel})` +
      `${dilation.some((d) => d > 1) ? ` d(${dilation})` : ''}${causal.some(Boolean) ? ` c(${causal.map(Number)})` : ''} D${headDim}`;
    out.push({ name, spec: { spatial, batch, heads, headDim, kernelSize: kernel, dilation, isCausal: causal } });
  }
  return out;
}

const README_PROBLEMS: Problem[] = CUDA_BENCH_PROBLEMS.map((p) => ({
  name: p.name,
  spec: { spatial: [...p.spatial], batch: p.batch, heads: p.heads, headDim: p.headDim, kernelSize: [...p.kernel] },
}));

/** Median ms of each of `fns`, timed interleaved (one run of each per round), each behind a spin kernel. */
function interleaved(device: number, runs: number, fns: (() => void)[]): number[] {
  const timer = native.gpuTimerCreate({ device });
  const ms: number[][] = fns.map(() => []);
  for (let r = -1; r < runs; r++) {
    fns.forEach((fn, i) => {
      native.gpuSpin({ device, microseconds: 1000 });
      native.gpuTimerStart({ timer });
      fn();
      native.gpuTimerStop({ timer });
      const t = native.gpuTimerElapsed({ timer });
      if (r >= 0) ms[i].push(t);
    });
  }
  return ms.map(median);
}

/** Tunes a problem (fresh memory cache), in default then thorough mode, and times the three configs. */
async function checkProblem(p: Problem, runs: number): Promise<Row[]> {
  natten.internal.setAutotuneTimer(); // a fresh memory-only cache: every tuning below starts from nothing
  const fast = await natten.tune([p.spec], { force: true, thorough: false });
  const thorough = await natten.tune([p.spec], { force: true, thorough: true });
  const rows: Row[] = [];
  const spec = p.spec;
  const shape = (h: number, d: number) => [spec.batch ?? 1, ...spec.spatial, h, d];
  const q = natten.randn(shape(spec.heads, spec.headDim), { dtype: 'bfloat16', device: 'cuda', seed: 1 });
  const k = natten.randn(shape(spec.heads, spec.headDim), { dtype: 'bfloat16', device: 'cuda', seed: 2 });
  const v = natten.randn(shape(spec.heads, spec.headDim), { dtype: 'bfloat16', device: 'cuda', seed: 3 });
  const opts = { kernelSize: spec.kernelSize, dilation: spec.dilation, isCausal: spec.isCausal };
  const dims = spec.spatial.length;
  const fwd = forwardPass('check', dims, q, k, v, opts);
  fwd.call.launch(fwd.call.options);
  const bwd = backwardPass('check', dims, fwd.output, q, k, v, fwd.output, fwd.lse, opts);
  for (const pass of ['forward', 'backward'] as const) {
    const a = fast.find((r) => r.pass === pass)!;
    const b = thorough.find((r) => r.pass === pass)!;
    if (a.skipped || b.skipped) continue;
    const call = pass === 'forward' ? fwd.call : bwd.call;
    const base = call.options.config ?? {};
    const run = (config: NativeFusedConfig) => () => call.launch({ ...call.options, config } as never);
    const [d, t, th] = interleaved(0, runs, [
      run(base),
      run(nativeConfigOf(pass, base, a.best.config)),
      run(nativeConfigOf(pass, base, b.best.config)),
    ]);
    rows.push({
      problem: p.name,
      pass,
      defaultMs: d,
      tunedMs: t,
      thoroughMs: th,
      tunedConfig: a.best.config,
      thoroughConfig: b.best.config,
      defaultConfig: a.default.config,
      tuningMs: a.tuningMs,
      thoroughTuningMs: b.tuningMs,
      candidates: a.candidates.length,
      thoroughCandidates: b.candidates.length,
      speedup: d / t,
    });
  }
  await natten.synchronize('cuda');
  for (const x of [q, k, v, fwd.output, fwd.lse, bwd.grads.dq, bwd.grads.dk, bwd.grads.dv]) x?.dispose();
  return rows;
}

/** Worst event-loop lag (ms) while a first call of `p` tunes in thorough mode, and the call's JS time. */
async function lagWhileTuning(p: Problem): Promise<{ maxLagMs: number; callMs: number; totalMs: number }> {
  natten.internal.setAutotuneTimer();
  natten.useAutotuner({ thorough: true });
  const spec = p.spec;
  const shape = [spec.batch ?? 1, ...spec.spatial, spec.heads, spec.headDim];
  const [q, k, v] = [1, 2, 3].map((seed) => natten.randn(shape, { dtype: 'bfloat16', device: 'cuda', seed }));
  await natten.synchronize('cuda');
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const op = [natten.na1d, natten.na2d, natten.na3d][spec.spatial.length - 1];
  const t0 = performance.now();
  const out = op(q, k, v, { kernelSize: spec.kernelSize });
  const callMs = performance.now() - t0;
  await out.toArray();
  const totalMs = performance.now() - t0;
  delay.disable();
  natten.useAutotuner(false);
  for (const t of [q, k, v, out]) t.dispose();
  // The histogram's max is the longest wait of a 10 ms timer, its resolution included.
  return { maxLagMs: delay.max / 1e6 - 10, callMs, totalMs };
}

const cfgText = (c: natten.TunedConfig): string =>
  `${c.kernel ? c.kernel + ' ' : ''}q[${c.qTileShape}] kv[${c.kvTileShape}]${c.dq ? ' ' + c.dq : ''}`;

async function main(): Promise<void> {
  const runs = Number(arg('runs', '30'));
  // --from N skips the list's first N problems (to finish a run that a time limit cut short).
  const problems = [...README_PROBLEMS, ...randomProblems(Number(arg('random', '20')), 2026)].slice(
    Number(arg('from', '0')),
  );
  const out = arg('out', process.env.OUT ? path.join(process.env.OUT, 'autotune_check.json') : '');
  const device = natten.cuda.deviceInfo(0).name;
  process.env.NATTEN_AUTOTUNE_CACHE = '0';
  const rows: Row[] = [];
  const log = (s: string) => process.stdout.write(s + '\n');
  log(
    'problem | pass | default ms | tuned ms | thorough ms | tuned/default | tuning s (default, thorough) | candidates | tuned config',
  );
  for (const p of problems) {
    try {
      for (const r of await checkProblem(p, runs)) {
        rows.push(r);
        log(
          `${r.problem} | ${r.pass} | ${r.defaultMs.toFixed(3)} | ${r.tunedMs.toFixed(3)} | ${r.thoroughMs.toFixed(3)} | ` +
            `${(r.tunedMs / r.defaultMs).toFixed(3)} | ${(r.tuningMs / 1e3).toFixed(2)}, ${(r.thoroughTuningMs / 1e3).toFixed(2)} | ` +
            `${r.candidates}/${r.thoroughCandidates} | ${cfgText(r.tunedConfig)} (default ${cfgText(r.defaultConfig)})`,
        );
      }
    } catch (e) {
      log(`${p.name} | ERROR ${(e as Error).message}`);
    }
    // Written after every problem, so a run cut short keeps what it measured.
    if (out) fs.writeFileSync(out, JSON.stringify({ device, runs, rows }, null, 1));
  }
  const lag = await lagWhileTuning(README_PROBLEMS[2]);
  const faster = rows.filter((r) => r.speedup >= 1.1);
  const slower = rows.filter((r) => r.tunedMs > r.defaultMs * 1.03);
  const readme = rows.filter((r) => README_PROBLEMS.some((p) => p.name === r.problem));
  log('');
  log(
    `pairs: ${rows.length}; tuned >= 10% faster: ${faster.length} (speedups ${faster.map((r) => r.speedup.toFixed(2)).join(', ') || '-'})`,
  );
  log(
    `tuned slower than default by > 3%: ${slower.length} ${slower.map((r) => `${r.problem} ${r.pass} ${r.speedup.toFixed(3)}`).join('; ')}`,
  );
  log(`default-mode tuning, README problems: max ${(Math.max(...readme.map((r) => r.tuningMs)) / 1e3).toFixed(2)} s`);
  log(
    `event loop while a first call tunes (thorough, ${README_PROBLEMS[2].name}): max lag ${lag.maxLagMs.toFixed(1)} ms, ` +
      `call ${lag.callMs.toFixed(2)} ms, call to result ${lag.totalMs.toFixed(0)} ms`,
  );
  if (out) fs.writeFileSync(out, JSON.stringify({ device, runs, rows, lag }, null, 1));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
