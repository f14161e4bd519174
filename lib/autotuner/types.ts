/**
 * The autotuner's vocabulary: passes, tuned configs, device identities, cache entries, and the timing source
 * (an {@link AutotuneTimer}: CUDA events on the device's own queue, or a fake in tests).
 */
import type { DeviceName } from '../device';
import type { DType } from '../dtype';
import type { ForwardKernel } from '../ops/fused_configs';
import type { NaBackwardOptions, NaForwardOptions, NativeFusedConfig, NativeProblem } from '../native';

/** Which fused op a config is for. */
export type TunePass = 'forward' | 'backward';

/** A fused-kernel config the tuner chooses among (what `fusedConfigs` lists, per pass). */
export interface TunedConfig {
  /** Forward only: the kernel family (`forwardKernel`). */
  kernel?: ForwardKernel;
  /** Query tile shape (`qTileShape`, or `backwardQTileShape` for the backward). */
  qTileShape: number[];
  /** Key/value tile shape (`kvTileShape`, or `backwardKvTileShape`). */
  kvTileShape: number[];
  /** Backward only: dQ by fp32 atomics inside the KV-parallel pass, or by a separate Q-parallel pass. */
  dq?: 'kv-parallel' | 'q-parallel';
}

/** What identifies a device and build for the cache: tuned configs of one never apply to another. */
export interface DeviceIdentity {
  /** Device name, e.g. 'NVIDIA H200'. */
  name: string;
  /** Compute capability, e.g. '9.0'. */
  computeCapability: string;
  /** Streaming multiprocessors. */
  multiProcessorCount: number;
  /** CUDA driver version (e.g. 12040). */
  driverVersion: number;
  /** The addon build: natten-node's version and the addon file's size and modification time. */
  build: string;
}

/** A candidate of one problem: a config and the cost model's estimate (relative time, lower is faster). */
export interface TuneCandidate {
  config: TunedConfig;
  cost: number;
}

/** What a tuning job measured for one candidate. */
export interface CandidateTiming {
  config: TunedConfig;
  /** Milliseconds per run (mean of `steps` timed runs); NaN when the candidate was skipped. */
  ms: number;
  /** Why the candidate was skipped (out of memory, an invalid config). */
  error?: string;
}

/** What a timer reports for a job: the time of each candidate (in the job's order) and the one the op ran with
 * (-1: the default config, after every candidate failed). */
export interface TimerOutcome {
  ms: number[];
  errors: string[];
  chosen: number;
}

/** One tuning: the op of one call (or of `natten.tune`) and the candidates to time for it. */
export interface TuneJob {
  device: DeviceName;
  pass: TunePass;
  dtype: DType;
  problem: NativeProblem;
  /** The op's native options; their `config` is the default config (run when every candidate fails). */
  options: NaForwardOptions | NaBackwardOptions;
  /** Candidates, the default config first. */
  candidates: TunedConfig[];
  /** Each candidate as the native config the op takes (the default config's switches plus its tiles). */
  nativeConfigs: NativeFusedConfig[];
  warmupSteps: number;
  steps: number;
  /** Runs the op now, on the device's queue, with native config `config` (what a timer that cannot run the
   * op itself, such as a fake, calls with the fastest candidate). */
  launch(config: NativeFusedConfig): void;
}

/**
 * The autotuner's timing source. The default one times candidates with CUDA events on the device's own
 * queue; tests inject a fake (natten.internal.setAutotuneTimer) that returns fixed times, so the cache and
 * its concurrency run without a GPU.
 */
export interface AutotuneTimer {
  /** True when ops on `device` are tuned (CUDA devices with the fused kernels). */
  tunes(device: DeviceName): boolean;
  /** The identity of `device` (part of every cache key). */
  identity(device: DeviceName): DeviceIdentity;
  /** Every compiled config of a pass for the problem on the device, cheapest by the cost model first (the
   * first is the default config the cost model picks); empty when the fused kernels cannot run it. */
  candidates(device: DeviceName, pass: TunePass, problem: NativeProblem, dtype: DType): TuneCandidate[];
  /** Enqueues the job on its device: each candidate runs `warmupSteps` untimed and `steps` timed times, then the
   * op runs with the fastest. Returns at once; the promise settles once the measurement is known. */
  tuneAndRun(job: TuneJob): Promise<TimerOutcome>;
}

/** One tuned problem, as the cache holds, lists, exports and imports it. */
export interface AutotuneCacheEntry {
  /** The problem signature (the cache key on its device): see README "Autotuner". */
  key: string;
  device: DeviceIdentity;
  pass: TunePass;
  /** The fastest config; the ops run it. */
  best: TunedConfig;
  /** Its milliseconds per run. */
  bestMs: number;
  /** The config the cost model picks. */
  default: TunedConfig;
  /** Its milliseconds per run (NaN when it could not be timed). */
  defaultMs: number;
  /** Every candidate timed (times NaN for those skipped). */
  candidates: CandidateTiming[];
  /** When it was tuned (ISO 8601). */
  tunedAt: string;
}
