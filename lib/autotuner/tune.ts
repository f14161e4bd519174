/**
 * `natten.tune(problems, {onProgress})`: pre-tunes a list of problems ahead of serving traffic (or for
 * `natten-node profile --optimize`), on random inputs of each problem's shape, and reports per problem and
 * pass the fastest config, the cost model's default and their times.
 */
import { deviceName, type DeviceLike, type DeviceName } from '../device';
import { DTYPES, type DType } from '../dtype';
import { argTypeError, NattenError, rangeError } from '../errors';
import { forwardPass, backwardPass } from '../ops/fused';
import type { WindowOptions } from '../ops/validate';
import { deviceIndex } from '../device';
import { randn, type Tensor } from '../tensor';
import { synchronize } from '../runtime';
import { autotunerSettings, countOption, settingsFrom, type AutotunerSettings } from './settings';
import { processTuner, jobOf, type TunableCall } from './tuner';
import type { AutotuneCacheEntry, CandidateTiming, TunedConfig, TunePass } from './types';

/** A problem to tune: the shapes and window of a fused op call. */
export interface TuneProblem extends WindowOptions {
  /** Spatial extents, one per axis (1 to 3 axes). */
  spatial: number[];
  /** Batch size (default 1). */
  batch?: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads (default heads; must divide heads). */
  headsKv?: number;
  /** Head dim of Q and K. */
  headDim: number;
  /** Head dim of V (default headDim). */
  headDimV?: number;
  /** Number of additional keys/values (default 0). */
  additionalKeys?: number;
  /** Element type (default 'bfloat16'). */
  dtype?: DType;
  /** Device (default 'cuda'). */
  device?: DeviceLike;
  /** Passes to tune (default both). */
  passes?: TunePass[];
}

/** Progress of a `tune` call, reported after each (problem, pass). */
export interface TuneProgress {
  /** (problem, pass) results finished so far, this one included. */
  done: number;
  /** (problem, pass) pairs in the call. */
  total: number;
  result: TuneResult;
}

/** Options of {@link tune}. */
export interface TuneOptions {
  /** Called after each (problem, pass). */
  onProgress?: (p: TuneProgress) => void;
  /** Time every compiled config instead of the cost model's best few (default: the useAutotuner setting). */
  thorough?: boolean;
  /** Untimed runs per candidate (default: the useAutotuner setting, 5). */
  warmupSteps?: number;
  /** Timed runs per candidate (default: the useAutotuner setting, 20). */
  steps?: number;
  /** Tune again problems already in the cache (default false: they are reported from it). */
  force?: boolean;
}

/** A config and its milliseconds per run (NaN when it could not be timed). */
export interface TimedConfig {
  config: TunedConfig;
  ms: number;
}

/** What `tune` found for one pass of one problem. */
export interface TuneResult {
  /** Index of the problem in the list given. */
  index: number;
  pass: TunePass;
  device: DeviceName;
  /** The signature the cache keeps it under. */
  signature: string;
  /** The fastest config: what the fused ops run for this problem while the autotuner is on. */
  best: TimedConfig;
  /** The cost model's config: what runs without the autotuner. */
  default: TimedConfig;
  /** default.ms / best.ms (1 when they are the same config). */
  speedup: number;
  /** Every candidate timed, with the reason for those skipped. */
  candidates: CandidateTiming[];
  /** True when the result came from the cache (nothing was timed). */
  fromCache: boolean;
  /** Wall time of the tuning, from enqueueing to the measurement's arrival (0 from the cache). */
  tuningMs: number;
  /** Why the pass was not tuned ('' when it was): the fused kernels cannot run it on the device. */
  skipped: string;
}

const TUNE_PROBLEM_KEYS = [
  'spatial',
  'batch',
  'heads',
  'headsKv',
  'headDim',
  'headDimV',
  'additionalKeys',
  'dtype',
  'device',
  'passes',
  'kernelSize',
  'dilation',
  'stride',
  'isCausal',
];

/** Random inputs of a problem (on its device) and the fused-op options that go with them. */
interface Inputs {
  dims: number;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  ek?: Tensor;
  ev?: Tensor;
  opts: WindowOptions & { additionalKeys?: Tensor; additionalValues?: Tensor };
  dispose(): void;
}

function problemInputs(p: TuneProblem, i: number): Inputs {
  const name = `tune: problems[${i}]`;
  if (typeof p !== 'object' || p === null) throw argTypeError(name, 'a problem object', p);
  const unknown = Object.keys(p).find((key) => !TUNE_PROBLEM_KEYS.includes(key));
  if (unknown) throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `${name}: unknown field ${JSON.stringify(unknown)}`);
  if (!Array.isArray(p.spatial) || p.spatial.length < 1 || p.spatial.length > 3)
    throw argTypeError(`${name}.spatial`, 'an array of 1 to 3 extents', p.spatial);
  const int = (key: string, v: unknown, dflt?: number) => countOption(`${name}.${key}`, v ?? dflt, 0, 2 ** 31 - 1);
  const dims = p.spatial.length;
  const spatial = p.spatial.map((x, a) => int(`spatial[${a}]`, x));
  const batch = int('batch', p.batch, 1);
  const heads = int('heads', p.heads);
  const headsKv = int('headsKv', p.headsKv, heads);
  const headDim = int('headDim', p.headDim);
  const headDimV = int('headDimV', p.headDimV, headDim);
  const nExtra = int('additionalKeys', p.additionalKeys, 0);
  const dtype = p.dtype ?? 'bfloat16';
  if (!DTYPES.includes(dtype))
    throw rangeError('ERR_NATTEN_INVALID_DTYPE', `${name}.dtype: unknown dtype ${JSON.stringify(dtype)}`);
  const device = deviceName(deviceIndex(p.device ?? 'cuda', `${name}.device`));
  const o = { dtype, device };
  const made: Tensor[] = [];
  const make = (shape: number[], seed: number): Tensor => {
    const t = randn(shape, { ...o, seed });
    made.push(t);
    return t;
  };
  const q = make([batch, ...spatial, heads, headDim], 1);
  const k = make([batch, ...spatial, headsKv, headDim], 2);
  const v = make([batch, ...spatial, headsKv, headDimV], 3);
  const ek = nExtra ? make([batch, nExtra, headsKv, headDim], 4) : undefined;
  const ev = nExtra ? make([batch, nExtra, headsKv, headDimV], 5) : undefined;
  const opts = {
    kernelSize: p.kernelSize,
    dilation: p.dilation,
    stride: p.stride,
    isCausal: p.isCausal,
    additionalKeys: ek,
    additionalValues: ev,
  };
  return { dims, q, k, v, ek, ev, opts, dispose: () => made.forEach((t) => t.dispose()) };
}

function passesOf(p: TuneProblem, i: number): TunePass[] {
  const passes = p.passes ?? ['forward', 'backward'];
  if (!Array.isArray(passes) || !passes.every((x) => x === 'forward' || x === 'backward'))
    throw argTypeError(`tune: problems[${i}].passes`, "an array of 'forward' and 'backward'", passes);
  return passes;
}

const timed = (config: TunedConfig, ms: number): TimedConfig => ({ config, ms });

function resultOf(
  index: number,
  device: DeviceName,
  signature: string,
  entry: AutotuneCacheEntry,
  fromCache: boolean,
  tuningMs: number,
): TuneResult {
  const same = JSON.stringify(entry.best) === JSON.stringify(entry.default);
  return {
    index,
    pass: entry.pass,
    device,
    signature,
    best: timed(entry.best, entry.bestMs),
    default: timed(entry.default, entry.defaultMs),
    speedup: same ? 1 : entry.defaultMs / entry.bestMs,
    candidates: entry.candidates,
    fromCache,
    tuningMs,
    skipped: '',
  };
}

function skippedResult(index: number, pass: TunePass, device: DeviceName, signature: string, why: string): TuneResult {
  const none = timed({ qTileShape: [], kvTileShape: [] }, NaN);
  return {
    index,
    pass,
    device,
    signature,
    best: none,
    default: none,
    speedup: 1,
    candidates: [],
    fromCache: false,
    tuningMs: 0,
    skipped: why,
  };
}

/** Tunes one pass of a validated call (the op runs once more with the fastest config, on the inputs). */
async function tunePass(index: number, call: TunableCall, s: AutotunerSettings, force: boolean): Promise<TuneResult> {
  const tuner = processTuner();
  const base = call.options.config ?? {};
  if (!tuner.timer.tunes(call.device)) {
    call.launch(call.options);
    return skippedResult(
      index,
      call.pass,
      call.device,
      '',
      `${call.device} has no tunable fused kernels (tuning is GPU-only)`,
    );
  }
  const { identity, key, flight } = tuner.keyOf(call.device, call.pass, call.problem, call.dtype, base);
  const running = tuner.pending(flight);
  if (running) await running; // one tuning per signature: an op's tuning of it is under way
  const cached = force && !running ? undefined : tuner.cache.get(identity, key);
  if (cached) {
    call.launch(call.options);
    return resultOf(index, call.device, key, cached, true, 0);
  }
  const candidates = tuner.candidates(call.device, call.pass, call.problem, call.dtype, base, s.thorough);
  if (!candidates.length) {
    call.launch(call.options);
    return skippedResult(
      index,
      call.pass,
      call.device,
      key,
      'the fused tensor-core kernels cannot run this problem here',
    );
  }
  const record = await tuner.begin(jobOf(call, candidates, s), flight, key);
  if (!record)
    throw new NattenError(
      `tune: tuning ${key} on ${call.device} failed (NODE_DEBUG=natten says why)`,
      'ERR_NATTEN_CUDA',
    );
  return resultOf(index, call.device, key, record.entry, false, record.wallMs);
}

/** The settings of one tune call: useAutotuner's, with the call's overrides. */
function settingsOf(o: TuneOptions): AutotunerSettings {
  const s = autotunerSettings();
  return settingsFrom({
    forward: true,
    backward: true,
    warmupSteps: o.warmupSteps ?? s.warmupSteps,
    steps: o.steps ?? s.steps,
    thorough: o.thorough ?? s.thorough,
  });
}

/**
 * Tunes each problem's passes (forward, then backward) one after another, on random inputs, and caches the
 * results like the autotuner of the ops does (problems already cached are reported from the cache unless
 * `force`). The ops use what it cached while `useAutotuner` is on. Resolves with one result per (problem,
 * pass), in order; `onProgress` sees each as it finishes. The event loop stays free throughout.
 */
export async function tune(problems: readonly TuneProblem[], options: TuneOptions = {}): Promise<TuneResult[]> {
  if (!Array.isArray(problems)) throw argTypeError('tune(problems)', 'an array of problems', problems);
  if (typeof options !== 'object' || options === null)
    throw argTypeError('tune(problems, options)', 'an object', options);
  const s = settingsOf(options);
  const force = options.force ?? false;
  const total = problems.reduce((n, p, i) => n + passesOf(p, i).length, 0);
  const results: TuneResult[] = [];
  for (let i = 0; i < problems.length; i++) {
    const passes = passesOf(problems[i], i);
    const x = problemInputs(problems[i], i);
    try {
      await synchronize(x.q.device); // the inputs exist before the tuning's clock starts
      const fwd = forwardPass('tune', x.dims, x.q, x.k, x.v, x.opts);
      let forwardRan = false;
      if (passes.includes('forward')) {
        results.push(await tunePass(i, fwd.call, s, force));
        forwardRan = true;
        options.onProgress?.({ done: results.length, total, result: results[results.length - 1] });
      }
      if (passes.includes('backward')) {
        if (!forwardRan) fwd.call.launch(fwd.call.options);
        const dOut = randn(fwd.output.shape, { dtype: x.q.dtype, device: x.q.device, seed: 6 });
        const bwd = backwardPass('tune', x.dims, dOut, x.q, x.k, x.v, fwd.output, fwd.lse, x.opts);
        try {
          await synchronize(x.q.device);
          results.push(await tunePass(i, bwd.call, s, force));
          options.onProgress?.({ done: results.length, total, result: results[results.length - 1] });
        } finally {
          const g = bwd.grads;
          for (const t of [dOut, g.dq, g.dk, g.dv, g.dAdditionalKeys, g.dAdditionalValues]) t?.dispose();
        }
      }
      fwd.output.dispose();
      fwd.lse?.dispose();
    } finally {
      x.dispose();
    }
  }
  await processTuner().cache.flush();
  return results;
}
