/**
 * Process-wide switches of the neighborhood-attention ops (docs/design.md §6), as in NATTEN: whether the
 * high-level `neighborhoodAttention*` functions run the fused kernels or the unfused chain, how the
 * fused backward computes dQ on GPUs, how much scratch memory it may use, and determinism. Settings are
 * stored and reported everywhere; the CPU engine ignores those that only steer CUDA kernels (its
 * backward is always deterministic and needs no extra scratch).
 */
import type { NativeFusedCallConfig, NativeFusedConfig } from './native';
import { argTypeError, rangeError } from './errors';

/** How much extra scratch memory the fused backward may use (NATTEN's memory-usage preference). */
export type MemoryPreference = 'default' | 'strict' | 'unrestricted';

/** Scratch caps (bytes) handed to the kernels per preference; -1 means no cap. */
const SCRATCH_LIMIT: Record<MemoryPreference, number> = {
  strict: 64 * 2 ** 20,
  default: 2 ** 30,
  unrestricted: -1,
};

const state = {
  fused: true,
  kvParallel: true,
  memory: 'default' as MemoryPreference,
  deterministic: false,
  poison: false,
};

function checkBool(v: unknown, arg: string): asserts v is boolean {
  if (typeof v !== 'boolean') throw argTypeError(arg, 'a boolean', v);
}

/**
 * Makes `neighborhoodAttention1d/2d/3d` (and the modules) use the fused kernels (`on = true`, the
 * default state) or the unfused chain QK -> scale -> softmax -> AV (`on = false`).
 * `kvParallel` sets KV parallelism of the fused backward at the same time (see {@link useKVParallelism}).
 */
export function useFusedNA(on = true, opts: { kvParallel?: boolean } = {}): void {
  checkBool(on, 'on');
  if (typeof opts !== 'object' || opts === null) throw argTypeError('opts', 'an object', opts);
  const kvParallel = opts.kvParallel ?? true;
  checkBool(kvParallel, 'opts.kvParallel');
  state.fused = on;
  state.kvParallel = kvParallel;
}

/** True when the high-level functions run the fused kernels. */
export function isFusedNAEnabled(): boolean {
  return state.fused;
}

/**
 * Fused backward on GPUs: compute dQ in the KV-parallel pass with fp32 atomics (`true`, default: fast,
 * run-to-run order varies) or in a separate Q-parallel pass (`false`).
 */
export function useKVParallelism(on = true): void {
  checkBool(on, 'on');
  state.kvParallel = on;
}

/** True when the fused backward may compute dQ KV-parallel. */
export function isKVParallelismEnabled(): boolean {
  return state.kvParallel;
}

/**
 * Caps the extra scratch memory of the fused backward: `'strict'` (64 MiB), `'default'` (1 GiB) or
 * `'unrestricted'` (no cap). Kernels that would need more pick a lower-memory variant.
 */
export function setMemoryUsagePreference(pref: MemoryPreference): void {
  if (typeof pref !== 'string') throw argTypeError('pref', "'default', 'strict' or 'unrestricted'", pref);
  if (!(pref in SCRATCH_LIMIT)) {
    throw rangeError(
      'ERR_NATTEN_INVALID_ARG_VALUE',
      `pref must be 'default', 'strict' or 'unrestricted', got ${JSON.stringify(pref)}`,
    );
  }
  state.memory = pref;
}

/** The current memory-usage preference. */
export function getMemoryUsagePreference(): MemoryPreference {
  return state.memory;
}

/**
 * Requests bitwise-reproducible results: the fused backward then never accumulates with atomics
 * (dQ by a Q-parallel pass). The CPU engine is deterministic for a given thread count either way.
 */
export function useDeterministicAlgorithms(on = true): void {
  checkBool(on, 'on');
  state.deterministic = on;
}

/** True when deterministic algorithms were requested. */
export function areDeterministicAlgorithmsEnabled(): boolean {
  return state.deterministic;
}

/**
 * Debugging aid for tests: when on, every output an op allocates is filled with NaN before the op runs,
 * so an element the op forgets to write shows up as NaN instead of stale memory.
 */
export function setPoisonOutputs(on: boolean): void {
  checkBool(on, 'on');
  state.poison = on;
}

/** True when op outputs are poisoned with NaN before each op. */
export function isPoisonOutputsEnabled(): boolean {
  return state.poison;
}

/** Per-call fused-kernel overrides (tile shapes, KV splits, kernel family, backend). @internal */
export type FusedCallConfig = NativeFusedCallConfig;

/** The native config of a fused op call: the context's switches plus the call's overrides. @internal */
export function fusedConfig(call: FusedCallConfig): NativeFusedConfig {
  // Every field written out: an object spread costs microseconds per op call here (V8's slow clone path).
  return {
    qTileShape: call.qTileShape,
    kvTileShape: call.kvTileShape,
    backwardQTileShape: call.backwardQTileShape,
    backwardKvTileShape: call.backwardKvTileShape,
    kvSplits: call.kvSplits,
    forwardArch: call.forwardArch,
    backwardArch: call.backwardArch,
    kvParallel: state.kvParallel && !state.deterministic,
    deterministic: state.deterministic,
    useReference: call.useReference ?? false,
    scratchLimitBytes: SCRATCH_LIMIT[state.memory],
  };
}
