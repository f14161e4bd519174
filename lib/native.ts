/**
 * The one door from lib/ into the native addon (docs/design.md §1). Loads the addon built by cmake-js
 * (`build/Release/natten.node`, or the file named by NATTEN_ADDON_PATH) and types its functions.
 * @internal
 */
import { NattenError } from './errors';

/** Opaque handle to a native storage block. */
export type StorageHandle = { readonly __storage: unique symbol };

/** Native build description. */
export interface NativeBuildInfo {
  cuda: boolean;
  cudaVersion: string;
  cudaArchs: string;
  cudaRuntimeVersion: number;
  cudaDriverVersion: number;
  cpuThreads: number;
}

/** Native device description. */
export interface NativeDeviceInfo {
  name: string;
  computeCapability: string;
  major: number;
  minor: number;
  multiProcessorCount: number;
  totalMemory: number;
  freeMemory: number;
  sharedMemoryPerBlockOptin: number;
}

/** A neighborhood-attention problem as the op bindings read it (native/problem_arg.cc). */
export interface NativeProblem {
  dims: number;
  batch: number;
  heads: number;
  headsKv: number;
  headDim: number;
  headDimV: number;
  length: number[];
  kernel: number[];
  stride: number[];
  dilation: number[];
  causal: boolean[];
  nExtra: number;
  scale: number;
  hasRpb: boolean;
}

/** One compiled fused-kernel tile config (kernels/dispatch/fused_configs.h). */
export interface NativeFusedTileConfig {
  pass: 'forward' | 'backward';
  kernel: 'mma' | 'wgmma';
  dims: number;
  headDimTier: number;
  dtype: number;
  qTileShape: number[];
  kvTileShape: number[];
  threads: number;
  smemBytes: number;
}

/** Fused-kernel choices (kernels/common/op_args.h FusedConfig); absent tile shapes mean "default". */
export interface NativeFusedConfig {
  qTileShape?: number[];
  kvTileShape?: number[];
  backwardQTileShape?: number[];
  backwardKvTileShape?: number[];
  kvSplits?: number;
  /** Forward kernel family: 80 mma.sync, 90 wgmma (absent: any). */
  forwardArch?: number;
  kvParallel: boolean;
  deterministic: boolean;
  useReference: boolean;
  scratchLimitBytes: number;
}

/** A device's capabilities as `chooseFusedConfigs` takes them: the `deviceInfo()` fields the fused-config
 * selection reads (kernels/runtime/device_caps.h), given rather than queried. */
export type NativeDeviceCaps = Pick<
  NativeDeviceInfo,
  'major' | 'minor' | 'multiProcessorCount' | 'sharedMemoryPerBlockOptin'
>;

/** A pass that runs no tensor-core config: the reference kernel runs it, or (`'none'`) the problem has no
 * queries. `reason` says why. */
export interface NativeNoFusedChoice {
  path: 'reference' | 'none';
  reason: string;
}

/** The forward config the cost model picks (kernels/dispatch/fused_choice.h ForwardChoice). */
export interface NativeForwardChoice {
  path: 'fused';
  kernel: 'mma' | 'wgmma';
  headDimTier: number;
  /** K/V pipeline depth of the chosen kernel. */
  stages: number;
  qTileShape: number[];
  kvTileShape: number[];
}

/** The backward plan (kernels/dispatch/fused_choice.h BackwardChoice). */
export interface NativeBackwardChoice {
  path: 'fused';
  headDimTier: number;
  qTileShape: number[];
  kvTileShape: number[];
  /** `'kv-parallel'`: dQ by fp32 atomics in the KV-parallel kernel; `'q-parallel'`: the separate,
   * bitwise reproducible dQ kernel. */
  dq: 'kv-parallel' | 'q-parallel';
  /** KV buffers of the Q-parallel dQ kernel. */
  dqStages: number;
  /** CTAs per additional-KV tile. */
  extraSplits: number;
  qChunksPerSplit: number;
  /** Scratch the backward allocates (Delta, the dQ accumulator, additional-KV partials). */
  workspaceBytes: number;
}

/** What `chooseFusedConfigs` returns: the choices under the default fused config, and the backward's
 * with `deterministic` set. */
export interface NativeFusedChoices {
  forward: NativeForwardChoice | NativeNoFusedChoice;
  backward: NativeBackwardChoice | NativeNoFusedChoice;
  backwardDeterministic: NativeBackwardChoice | NativeNoFusedChoice;
}

/** A storage handle or null (optional op buffers). */
type MaybeHandle = StorageHandle | null;

/** The functions the addon exports. Device: -1 = CPU, n = cuda:n. DType codes: see dtype.ts. */
export interface NativeBinding {
  setErrorClass(ctor: typeof NattenError): void;
  buildInfo(): NativeBuildInfo;
  deviceCount(): number;
  deviceInfo(index: number): NativeDeviceInfo;
  axisWindow(L: number, k: number, s: number, d: number, causal: boolean, i: number): [number, number, number, number];
  empty(device: number, dtype: number, numel: number): StorageHandle;
  zeros(device: number, dtype: number, numel: number): StorageHandle;
  fromArray(
    device: number,
    dtype: number,
    data: Float32Array | Float64Array | Uint16Array,
    srcDtype: number,
  ): StorageHandle;
  randn(device: number, dtype: number, numel: number, seed: number): StorageHandle;
  copy(src: StorageHandle, srcDtype: number, device: number, dtype: number, numel: number): StorageHandle;
  toArray(h: StorageHandle, dtype: number, numel: number): Promise<Float32Array | Float64Array>;
  toArraySync(h: StorageHandle, dtype: number, numel: number): Float32Array | Float64Array;
  share(h: StorageHandle): StorageHandle;
  release(h: StorageHandle): void;
  synchronize(device: number): Promise<void>;
  memory(): Record<string, number>;
  liveStorages(device: number): number;
  // NA ops (native/na_ops_binding.cc): outputs are allocated by the caller; all enqueue and return.
  naForward(
    p: NativeProblem,
    dtype: number,
    q: StorageHandle,
    k: StorageHandle,
    v: StorageHandle,
    extraK: MaybeHandle,
    extraV: MaybeHandle,
    out: StorageHandle,
    lse: MaybeHandle,
    config: NativeFusedConfig | null,
  ): void;
  naForwardNaive(
    p: NativeProblem,
    dtype: number,
    q: StorageHandle,
    k: StorageHandle,
    v: StorageHandle,
    extraK: MaybeHandle,
    extraV: MaybeHandle,
    out: StorageHandle,
    lse: MaybeHandle,
  ): void;
  naBackward(
    p: NativeProblem,
    dtype: number,
    q: StorageHandle,
    k: StorageHandle,
    v: StorageHandle,
    extraK: MaybeHandle,
    extraV: MaybeHandle,
    out: StorageHandle,
    lse: StorageHandle,
    dOut: StorageHandle,
    dq: StorageHandle,
    dk: StorageHandle,
    dv: StorageHandle,
    dExtraK: MaybeHandle,
    dExtraV: MaybeHandle,
    config: NativeFusedConfig | null,
  ): void;
  naQK(
    p: NativeProblem,
    dtype: number,
    q: StorageHandle,
    k: StorageHandle,
    rpb: MaybeHandle,
    extraK: MaybeHandle,
    attn: StorageHandle,
  ): void;
  naAV(
    p: NativeProblem,
    dtype: number,
    attn: StorageHandle,
    v: StorageHandle,
    extraV: MaybeHandle,
    out: StorageHandle,
  ): void;
  naQKBackward(
    p: NativeProblem,
    dtype: number,
    dAttn: StorageHandle,
    q: StorageHandle,
    k: StorageHandle,
    extraK: MaybeHandle,
    dq: StorageHandle,
    dk: StorageHandle,
    dRpb: MaybeHandle,
    dExtraK: MaybeHandle,
  ): void;
  naAVBackward(
    p: NativeProblem,
    dtype: number,
    dOut: StorageHandle,
    attn: StorageHandle,
    v: StorageHandle,
    extraV: MaybeHandle,
    dAttn: StorageHandle,
    dv: StorageHandle,
    dExtraV: MaybeHandle,
  ): void;
  softmax(dtype: number, rows: number, cols: number, x: StorageHandle, y: StorageHandle): void;
  softmaxBackward(
    dtype: number,
    rows: number,
    cols: number,
    dy: StorageHandle,
    y: StorageHandle,
    dx: StorageHandle,
  ): void;
  mergeAttentions(
    dtype: number,
    rows: number,
    dv: number,
    outs: StorageHandle[],
    lses: StorageHandle[],
    out: StorageHandle,
    lse: StorageHandle,
  ): void;
  fusedToUnfused(
    dtype: number,
    B: number,
    N: number,
    H: number,
    Hsrc: number,
    C: number,
    src: StorageHandle,
    dst: StorageHandle,
  ): void;
  unfusedToFused(
    dtype: number,
    B: number,
    N: number,
    Hsrc: number,
    H: number,
    C: number,
    src: StorageHandle,
    dst: StorageHandle,
  ): void;
  scale(dtype: number, numel: number, src: StorageHandle, dst: StorageHandle, factor: number): void;
  fill(h: StorageHandle, dtype: number, numel: number, value: number): void;
  hasFused(device: number): boolean;
  cpuFmaPeak(ms: number): Promise<number>;
  // Fused tile configs (native/fused_configs_binding.cc): empty for the CPU and CPU-only builds.
  fusedConfigs(device: number, dims: number, headDim: number, headDimV: number, dtype: number): NativeFusedTileConfig[];
  /** Debug (native/fused_choice_binding.cc): the fused configs chosen for a problem on a device described
   * by `caps`, computed without a device. Throws ERR_NATTEN_NO_CUDA in CPU-only builds. */
  chooseFusedConfigs(p: NativeProblem, dtype: number, caps: NativeDeviceCaps): NativeFusedChoices;
  /** Tells the addon the process's exit code as the process starts to exit (GPU work still queued then
   * is dropped and the process ends with this code). */
  noteExitCode(code: number): void;
  /** Debug: enqueues a kernel that writes to an illegal address on cuda:device (natten.internal). */
  faultDevice(device: number): void;
  /** NA op bindings, added by the op families (see native/ops.cc). */
  [op: string]: unknown;
}

/** @internal The package root: the nearest folder above this file holding package.json (lib/ or dist/lib/). */
export function packageRoot(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require('fs') as typeof import('fs');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const path = require('path') as typeof import('path');
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** A full garbage collection, where the runtime allows one (undefined otherwise). Finalizers of the
 * addon run inside the collection, so the memory of unreachable tensors is free when it returns. */
let collectGarbage: (() => void) | null | undefined;
function fullGc(): boolean {
  if (collectGarbage === undefined) {
    collectGarbage = null;
    const g = (globalThis as { gc?: () => void }).gc;
    if (typeof g === 'function') collectGarbage = g;
    else {
      try {
        // The documented way to reach V8's gc() without --expose-gc (as test runners do): expose it to
        // a fresh context only.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        (require('v8') as typeof import('v8')).setFlagsFromString('--expose-gc');
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const fn = (require('vm') as typeof import('vm')).runInNewContext('gc') as unknown;
        if (typeof fn === 'function') collectGarbage = fn as () => void;
      } catch {
        collectGarbage = null;
      }
    }
  }
  if (!collectGarbage) return false;
  collectGarbage();
  return true;
}

/** Wraps every addon function: an out-of-memory error runs one full GC (freeing forgotten tensors) and
 * retries the call once before it reaches the caller. */
function withOomRetry(b: NativeBinding): NativeBinding {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(b)) {
    if (typeof fn !== 'function') {
      wrapped[name] = fn;
      continue;
    }
    wrapped[name] = (...args: unknown[]): unknown => {
      try {
        return fn(...args);
      } catch (e) {
        if ((e as { code?: string } | null)?.code !== 'ERR_NATTEN_OOM' || !fullGc()) throw e;
        return fn(...args);
      }
    };
  }
  return wrapped as unknown as NativeBinding;
}

function load(): NativeBinding {
  try {
    const b = (
      process.env.NATTEN_ADDON_PATH
        ? require(process.env.NATTEN_ADDON_PATH)
        : require('bindings')({ bindings: 'natten', module_root: packageRoot() })
    ) as NativeBinding;
    b.setErrorClass(NattenError);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    if ((require('worker_threads') as typeof import('worker_threads')).isMainThread) {
      process.on('exit', (code) => b.noteExitCode(code));
    }
    return withOomRetry(b);
  } catch (e) {
    throw new NattenError(
      `natten-node: cannot load the native addon (${(e as Error).message}). Run \`npm run build:native\` ` +
        '(or `npx node-gyp rebuild` for a CPU-only build where CMake is missing).',
      'ERR_NATTEN_ADDON',
    );
  }
}

/** The loaded addon. */
export const native: NativeBinding = load();
