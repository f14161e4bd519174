/**
 * The autotuner itself: for a fused op call (or a problem of `natten.tune`), the cache lookup, the candidates
 * (the registry's configs, pruned to the cost model's best few unless `thorough`), one tuning per signature
 * at a time, and the entry it leaves in the cache. The timing and the op's launch belong to the timer.
 */
import { isCapturingGraph } from '../cuda_graph';
import { debuglog } from 'util';
import type { DeviceName } from '../device';
import type { DType } from '../dtype';
import type { NaBackwardOptions, NaForwardOptions, NativeFusedConfig, NativeProblem } from '../native';
import { forwardArchOf } from '../ops/fused_configs';
import { AutotuneCache, cacheDirFromEnv } from './cache';
import { autotunerSettings, isAutotunerEnabled, type AutotunerSettings } from './settings';
import { signatureOf } from './signature';
import { cudaEventTimer } from './timer';
import type { AutotuneCacheEntry, AutotuneTimer, TimerOutcome, TunedConfig, TuneJob, TunePass } from './types';

const log = debuglog('natten');

/** Forward candidates timed by default: the cost model's best few. */
const FORWARD_FEW = 4;
/** Backward tile pairs timed by default (each with every dQ strategy the settings allow). */
const BACKWARD_FEW = 2;

/** A fused op call the tuner may tune (O: its native options, naForward's or naBackward's). */
export interface TunableCall<O extends NaForwardOptions | NaBackwardOptions = NaForwardOptions | NaBackwardOptions> {
  device: DeviceName;
  pass: TunePass;
  dtype: DType;
  problem: NativeProblem;
  /** The op's native options; `config` holds the context's switches and the call's overrides. */
  options: O;
  /** The call chose its kernel itself (tile shapes, kernel family, KV splits, reference backend). */
  explicit: boolean;
  /** Runs the op with `options` (the native call). */
  launch(options: O): void;
}

/** What one tuning left: its entry (undefined when no candidate could be timed) and its wall time. */
export interface TuneRecord {
  entry: AutotuneCacheEntry;
  /** True when the entry holds a timed best config (and went into the cache). */
  cached: boolean;
  wallMs: number;
}

/** The native config of a tuned config under the call's switches. */
export function nativeConfigOf(pass: TunePass, base: NativeFusedConfig, c: TunedConfig): NativeFusedConfig {
  if (pass === 'forward') {
    return {
      ...base,
      qTileShape: c.qTileShape,
      kvTileShape: c.kvTileShape,
      forwardArch: forwardArchOf(c.kernel ?? 'mma'),
    };
  }
  return {
    ...base,
    backwardQTileShape: c.qTileShape,
    backwardKvTileShape: c.kvTileShape,
    kvParallel: c.dq === 'kv-parallel',
  };
}

/** The dQ strategies the settings allow the backward, the default one first: KV parallelism unless
 * deterministic mode or useKVParallelism(false) rule it out, or its fp32 accumulator would exceed the
 * memory preference's scratch cap. */
function dqStrategies(problem: NativeProblem, base: NativeFusedConfig): TunedConfig['dq'][] {
  if (base.deterministic || base.kvParallel === false) return ['q-parallel'];
  const tokens = problem.length.reduce((a, b) => a * b, 1);
  const accumulator = 4 * problem.batch * tokens * problem.heads * problem.headDim;
  const cap = base.scratchLimitBytes ?? -1;
  if (cap >= 0 && accumulator > cap) return ['q-parallel'];
  return ['kv-parallel', 'q-parallel'];
}

/** The autotuner of a process: a timer and a cache. */
export class Autotuner {
  /** Tunings under way, by device identity and signature. */
  private readonly inflight = new Map<string, Promise<TuneRecord | undefined>>();

  constructor(
    readonly timer: AutotuneTimer,
    readonly cache: AutotuneCache,
  ) {}

  /** Candidates of a pass of a problem, the default config first (pruned unless `thorough`). */
  candidates(
    device: DeviceName,
    pass: TunePass,
    problem: NativeProblem,
    dtype: DType,
    base: NativeFusedConfig,
    thorough: boolean,
  ): TunedConfig[] {
    const ranked = this.timer.candidates(device, pass, problem, dtype).map((c) => c.config);
    if (pass === 'forward') return thorough ? ranked : ranked.slice(0, FORWARD_FEW);
    const pairs = thorough ? ranked : ranked.slice(0, BACKWARD_FEW);
    const modes = dqStrategies(problem, base);
    return pairs.flatMap((p) => modes.map((dq) => ({ qTileShape: p.qTileShape, kvTileShape: p.kvTileShape, dq })));
  }

  /** The cache key (device identity and signature) of a pass of a problem. */
  keyOf(device: DeviceName, pass: TunePass, problem: NativeProblem, dtype: DType, base: NativeFusedConfig) {
    const identity = this.timer.identity(device);
    const key = signatureOf(pass, problem, dtype, base);
    return { identity, key, flight: `${JSON.stringify(identity)} ${key}` };
  }

  /** Runs a fused op call: its cached config, or a tuning that runs it with the fastest candidate, or (the
   * signature being tuned already, or nothing to tune) the default config. */
  run<O extends NaForwardOptions | NaBackwardOptions>(call: TunableCall<O>, s: Readonly<AutotunerSettings>): void {
    if (!this.timer.tunes(call.device)) return call.launch(call.options);
    const base = call.options.config ?? {};
    const { identity, key, flight } = this.keyOf(call.device, call.pass, call.problem, call.dtype, base);
    const hit = this.cache.get(identity, key);
    if (hit) {
      call.options.config = nativeConfigOf(call.pass, base, hit.best);
      return call.launch(call.options);
    }
    // One tuning per signature: a concurrent first call runs the default config (in the device's queue it
    // follows the tuning under way).
    if (this.inflight.has(flight)) return call.launch(call.options);
    const candidates = this.candidates(call.device, call.pass, call.problem, call.dtype, base, s.thorough);
    if (!candidates.length) return call.launch(call.options);
    void this.begin(jobOf(call, candidates, s), flight, key);
  }

  /** The tuning under way for a cache key, if any. */
  pending(flight: string): Promise<TuneRecord | undefined> | undefined {
    return this.inflight.get(flight);
  }

  /** Starts a job (the op is queued when this returns; what the timer throws at once propagates) and
   * resolves with what it measured, cached, once the timer reports. Never rejects. */
  begin(job: TuneJob, flight: string, key: string): Promise<TuneRecord | undefined> {
    const t0 = performance.now();
    const identity = this.timer.identity(job.device);
    const measured = this.timer.tuneAndRun(job);
    const record = measured
      .then((o): TuneRecord => {
        const entry = entryOf(job, o, identity, key);
        // Every candidate failed: nothing is remembered, the next call tries again.
        const cached = o.chosen >= 0;
        if (cached) this.cache.set(entry);
        logOutcome(job, o, key);
        return { entry, cached, wallMs: performance.now() - t0 };
      })
      .catch((e: unknown) => {
        log('autotune %s failed: %s', key, (e as Error).message);
        return undefined;
      })
      .finally(() => this.inflight.delete(flight));
    this.inflight.set(flight, record);
    return record;
  }
}

/** The job that tunes `candidates` (the default config first) for a call and runs it with the fastest. */
export function jobOf<O extends NaForwardOptions | NaBackwardOptions>(
  call: TunableCall<O>,
  candidates: TunedConfig[],
  s: Readonly<AutotunerSettings>,
): TuneJob {
  const base = call.options.config ?? {};
  return {
    device: call.device,
    pass: call.pass,
    dtype: call.dtype,
    problem: call.problem,
    options: call.options,
    candidates,
    nativeConfigs: candidates.map((c) => nativeConfigOf(call.pass, base, c)),
    warmupSteps: s.warmupSteps,
    steps: s.steps,
    launch: (config) => {
      call.options.config = config;
      call.launch(call.options);
    },
  };
}

/** The cache entry of a finished job. */
function entryOf(job: TuneJob, o: TimerOutcome, device: AutotuneCacheEntry['device'], key: string): AutotuneCacheEntry {
  const chosen = o.chosen >= 0 ? o.chosen : 0;
  return {
    key,
    device,
    pass: job.pass,
    best: job.candidates[chosen],
    bestMs: o.chosen >= 0 ? o.ms[chosen] : NaN,
    default: job.candidates[0],
    defaultMs: o.ms[0],
    candidates: job.candidates.map((config, i) =>
      o.errors[i] ? { config, ms: o.ms[i], error: o.errors[i] } : { config, ms: o.ms[i] },
    ),
    tunedAt: new Date().toISOString(),
  };
}

/** Logs (NODE_DEBUG=natten) the candidates a job skipped and what it chose. */
function logOutcome(job: TuneJob, o: TimerOutcome, key: string): void {
  o.errors.forEach((e, i) => {
    if (e) log('autotune %s: skipped candidate %j: %s', key, job.candidates[i], e);
  });
  log(
    'autotune %s: chose %j (%d ms; default %d ms)',
    key,
    job.candidates[Math.max(o.chosen, 0)],
    o.ms[o.chosen],
    o.ms[0],
  );
}

let current: Autotuner | undefined;

/** The process's autotuner (created on first use, with the cache the environment names). @internal */
export function processTuner(): Autotuner {
  current ??= new Autotuner(cudaEventTimer, new AutotuneCache(cacheDirFromEnv()));
  return current;
}

/** Replaces the process's autotuner by a fresh one with `timer` (default: CUDA events) and a cache read
 * afresh from the environment's folder: the hook tests use to inject a fake timer. @internal */
export function resetAutotuner(timer: AutotuneTimer = cudaEventTimer): Autotuner {
  current = new Autotuner(timer, new AutotuneCache(cacheDirFromEnv()));
  return current;
}

/** A fused op call: tuned (or run with its tuned config) when the autotuner is on for its pass and the call
 * chose no kernel itself; otherwise run as it is. @internal */
export function runTunable<O extends NaForwardOptions | NaBackwardOptions>(call: TunableCall<O>): void {
  const s = autotunerSettings();
  // Inside a graph capture nothing is tuned (tuning holds the stream and times candidates: work a capture
  // would record, not run): the call runs with its default config.
  if (!isAutotunerEnabled() || !s[call.pass] || call.explicit || isCapturingGraph(call.device))
    return call.launch(call.options);
  processTuner().run(call, s);
}
