/**
 * `natten.fusedConfigs()`: the compiled tile configurations of the fused tensor-core kernels that can run
 * a problem class on a device. Pass one's `qTileShape`/`kvTileShape` to `na1d`/`na2d`/`na3d` (or the
 * backward ops' `backwardQTileShape`/`backwardKvTileShape`) to force it; without them a heuristic picks
 * (bench/NOTES.md describes it). The autotuner searches this list.
 */
import { native, type NativeDeviceCaps, type NativeFusedTileConfig } from '../native';
import { deviceIndex } from '../device';
import { DTYPES, dtypeCode, type DType } from '../dtype';
import { argTypeError, rangeError } from '../errors';

/** A forward kernel family: `'mma'` (mma.sync, sm_80 and newer), `'wgmma'` or `'wgmma-ws'` (sm_90a). */
export type ForwardKernel = 'mma' | 'wgmma' | 'wgmma-ws';

/** A backward kernel family: `'mma'` (mma.sync, sm_80 and newer, the default) or `'wgmma'` (sm_90a: a producer
 * warpgroup and two wgmma consumer warpgroups per 128-key tile; runs only where a call forces it). */
export type BackwardKernel = 'mma' | 'wgmma';

/** What `fusedConfigs` is asked about. */
export interface FusedConfigQuery {
  /** Number of spatial dims: 1, 2 or 3. */
  dims: number;
  /** Head dim of Q and K. */
  headDim: number;
  /** Head dim of V (default: headDim). */
  headDimV?: number;
  /** Element type (default 'bfloat16'). float32 has no tensor-core configs: it runs on the reference kernel. */
  dtype?: DType;
  /** Device (default 'cuda'). The CPU has no fused tile configs. */
  device?: string;
}

/** One compiled tile configuration. */
export interface FusedConfigInfo {
  /** Which kernel: forward or backward. */
  pass: 'forward' | 'backward';
  /** Kernel family: `'mma'` (mma.sync, sm_80+), `'wgmma'` (forward: one warpgroup per CTA; backward: a
   * producer and two consumer warpgroups per 128-key tile) or `'wgmma-ws'` (forward only, warp-specialised: a
   * TMA producer and two consumer warpgroups); the wgmma families need compute capability 9.0. Pass it as
   * `forwardKernel` / `backwardKernel` together with the tile shapes to force this config. */
  kernel: ForwardKernel;
  dims: number;
  /** Head-dim tier the kernel is compiled for (32, 64, 128, 256): it runs head dims up to it (multiples of 8). */
  headDimTier: number;
  dtype: DType;
  /** Queries per CTA, per spatial axis. */
  qTileShape: number[];
  /** Keys per KV tile, per spatial axis. */
  kvTileShape: number[];
  /** Threads per CTA (32 per 16 queries). */
  threads: number;
  /** Dynamic shared memory per CTA, bytes. */
  smemBytes: number;
}

function positiveInt(name: string, v: unknown): number {
  if (typeof v !== 'number') throw argTypeError(name, 'an integer', v);
  if (!Number.isInteger(v) || v < 1)
    throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `${name} must be a positive integer, got ${v}`);
  return v;
}

/** The validated fields of a query, as the binding takes them. */
interface ConfigsArgs {
  dims: number;
  headDim: number;
  headDimV: number;
  dtype: number;
}

function configsArgs(query: Omit<FusedConfigQuery, 'device'>): ConfigsArgs {
  if (typeof query !== 'object' || query === null) throw argTypeError('fusedConfigs(query)', 'an object', query);
  const dims = positiveInt('dims', query.dims);
  if (dims > 3) throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `dims must be 1, 2 or 3, got ${dims}`);
  const headDim = positiveInt('headDim', query.headDim);
  const headDimV = query.headDimV === undefined ? headDim : positiveInt('headDimV', query.headDimV);
  const dtype = query.dtype ?? 'bfloat16';
  if (typeof dtype !== 'string') throw argTypeError('dtype', 'a dtype name', dtype);
  if (!DTYPES.includes(dtype)) {
    throw rangeError(
      'ERR_NATTEN_INVALID_DTYPE',
      `dtype must be one of ${DTYPES.join(', ')}, got ${JSON.stringify(dtype)}`,
    );
  }
  return { dims, headDim, headDimV, dtype: dtypeCode(dtype) };
}

function configInfo(c: NativeFusedTileConfig): FusedConfigInfo {
  return {
    pass: c.pass,
    kernel: c.kernel,
    dims: c.dims,
    headDimTier: c.headDimTier,
    dtype: DTYPES[c.dtype],
    qTileShape: c.qTileShape,
    kvTileShape: c.kvTileShape,
    threads: c.threads,
    smemBytes: c.smemBytes,
  };
}

/**
 * Lists the fused tile configs compiled for (dims, head dim tier, dtype) that fit the device, forward
 * first. Empty on the CPU, in a CPU-only build, for float32, for head dims that are not multiples of 8
 * or exceed 256, and on GPUs older than sm_80 (all of these run on the reference kernels).
 */
export function fusedConfigs(query: FusedConfigQuery): FusedConfigInfo[] {
  const args = configsArgs(query);
  const device = deviceIndex(query.device ?? 'cuda');
  return native.fusedConfigs({ device, ...args }).map(configInfo);
}

/** fusedConfigs for a device described by `caps` instead of a present one (natten.internal). Throws
 * ERR_NATTEN_NO_CUDA in CPU-only builds. @internal */
export function fusedConfigsFor(query: Omit<FusedConfigQuery, 'device'>, caps: NativeDeviceCaps): FusedConfigInfo[] {
  if (typeof caps !== 'object' || caps === null) throw argTypeError('caps', 'a capabilities object', caps);
  return native.fusedConfigs({ ...configsArgs(query), caps }).map(configInfo);
}

/** Forward kernel families and the architecture number the native config takes for each. */
const FORWARD_KERNEL_ARCH: Readonly<Record<ForwardKernel, number>> = { mma: 80, wgmma: 90, 'wgmma-ws': 91 };

/** Forward kernel families that run only where a call forces them (`forwardKernel`): neither the cost
 * model's default (kernels/fused/forward/forward.cu, select_forward) nor the autotuner's candidates, until
 * their forced-config GPU sweep has passed (bench/NOTES.md). A kernel that hangs inside a tuning would hold
 * the device's stream. None today: 'wgmma-ws' passed its sweep and sanitizers on an H200. @internal */
export const FORCED_ONLY_FORWARD_KERNELS: ReadonlySet<ForwardKernel> = new Set<ForwardKernel>();

/** Backward kernel families and the architecture number the native config takes for each. */
const BACKWARD_KERNEL_ARCH: Readonly<Record<BackwardKernel, number>> = { mma: 80, wgmma: 90 };

/** Backward kernel families that run only where a call forces them (`backwardKernel`): neither the
 * backward plan's default (kernels/fused/backward/fna_backward.cu, select_backward) nor the autotuner's
 * candidates, until their forced-config GPU sweep has passed (bench/NOTES.md). None today: the 'wgmma'
 * backward passed its sweep and sanitizers on an H200. @internal */
export const FORCED_ONLY_BACKWARD_KERNELS: ReadonlySet<string> = new Set<BackwardKernel>();

/** The backward kernel family names, for messages. @internal */
export const BACKWARD_KERNELS: readonly BackwardKernel[] = Object.keys(BACKWARD_KERNEL_ARCH) as BackwardKernel[];

/** True when `kernel` names a backward kernel family ('mma' or 'wgmma'). @internal */
export function isBackwardKernel(kernel: unknown): kernel is BackwardKernel {
  return typeof kernel === 'string' && Object.hasOwn(BACKWARD_KERNEL_ARCH, kernel);
}

/** The native config's `backwardArch` of a backward kernel family: 80 (mma.sync), 90 (wgmma). @internal */
export function backwardArchOf(kernel: BackwardKernel): number {
  return BACKWARD_KERNEL_ARCH[kernel];
}

/** The forward kernel family names, for messages. @internal */
export const FORWARD_KERNELS: readonly ForwardKernel[] = Object.keys(FORWARD_KERNEL_ARCH) as ForwardKernel[];

/** True when `kernel` names a forward kernel family ('mma', 'wgmma' or 'wgmma-ws'). @internal */
export function isForwardKernel(kernel: unknown): kernel is FusedConfigInfo['kernel'] {
  return typeof kernel === 'string' && Object.hasOwn(FORWARD_KERNEL_ARCH, kernel);
}

/** The native config's `forwardArch` of a forward kernel family: 80 (mma.sync), 90 (wgmma), 91 (wgmma-ws).
 * @internal */
export function forwardArchOf(kernel: FusedConfigInfo['kernel']): number {
  return FORWARD_KERNEL_ARCH[kernel];
}

/** True when the fast fused (tensor-core) kernels run on `device` (compute capability 8.0 or newer). On
 * the CPU and on older GPUs the fused ops still work: the CPU engine, or the CUDA reference kernels. */
export function hasFusedNA(device: string = 'cuda'): boolean {
  const index = deviceIndex(device);
  return index >= 0 && native.hasFused({ device: index });
}
