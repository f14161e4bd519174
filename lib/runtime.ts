/** Process-wide runtime queries: build info, memory accounting, synchronisation. */
import { native, packageRoot } from './native';
import { deviceIndex, DeviceLike } from './device';

/** A SIMD level of the CPU engine: AVX-512 (x86-64-v4), AVX2 + FMA (x86-64-v3), or the target's baseline
 * (x86-64: SSE2; the only level on other architectures). */
export type CpuSimdLevel = 'avx512' | 'avx2' | 'baseline';

/** What the native addon was built with. */
export interface BuildInfo {
  /** natten-node version. */
  version: string;
  /** True when the CUDA kernels were compiled in. */
  cuda: boolean;
  /** CUDA toolkit version used at build time ('' without CUDA). */
  cudaVersion: string;
  /** CUDA architectures compiled (CMake syntax, e.g. '80-real;90a-real'); [] without CUDA. */
  cudaArchitectures: string[];
  /** CUDA driver version as an integer (e.g. 13000), 0 without a driver. */
  cudaDriverVersion: number;
  /** Version of the CUDA runtime linked into the addon (e.g. 13000), 0 without CUDA. */
  cudaRuntimeVersion: number;
  /** Why no CUDA device is usable: the CUDA error name of the device query (e.g.
   * 'cudaErrorInsufficientDriver'); '' when the query succeeded or the build has no CUDA. */
  cudaDeviceStatus: string;
  /** Threads the CPU engine uses. */
  cpuThreads: number;
  /** The cuBLASLt library the GPU GEMM uses, path and version (loaded at run time, on this call if not yet);
   * '' without CUDA or when it is not found (GPU `linear`/`matmul` then throw ERR_NATTEN_NO_CUBLAS). */
  cublasLt: string;
  /** The CPU engine's SIMD level that runs: the best one compiled in that this CPU supports, capped by
   * `NATTEN_CPU_LEVEL`. */
  cpuSimd: CpuSimdLevel;
  /** The SIMD levels compiled into the addon, best first (e.g. ['avx512', 'avx2', 'baseline']). */
  cpuSimdLevels: CpuSimdLevel[];
  /** The vector extensions this machine's CPU has, widest first (avx512f, avx2, fma, avx, sse4.2; neon). */
  hostSimd: string[];
}

/** Reports what the addon was built with (version, CUDA and its architectures, the CPU engine's levels)
 * and what it found at load (CUDA driver and runtime versions, the device query's status, host SIMD). */
export function buildInfo(): BuildInfo {
  const b = native.buildInfo();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { version } = require(require('path').join(packageRoot(), 'package.json')) as { version: string };
  return {
    version,
    cuda: b.cuda,
    cudaVersion: b.cudaVersion,
    cudaArchitectures: b.cudaArchs ? b.cudaArchs.split(',') : [],
    cudaDriverVersion: b.cudaDriverVersion,
    cudaRuntimeVersion: b.cudaRuntimeVersion,
    cudaDeviceStatus: b.cudaDeviceStatus,
    cpuThreads: b.cpuThreads,
    cublasLt: b.cublasLt,
    cpuSimd: b.cpuSimd as CpuSimdLevel,
    cpuSimdLevels: b.cpuSimdLevels.split(',') as CpuSimdLevel[],
    hostSimd: b.hostSimd,
  };
}

/** Bytes held by live tensors, per device: `{cpu: n, 'cuda:0': n, ...}`. */
export function memory(): Record<string, number> {
  return native.memory();
}

/** Resolves once every operation queued so far on the device (default: all devices) has finished;
 * rejects with the error of a failed asynchronous operation. */
export async function synchronize(device?: DeviceLike): Promise<void> {
  if (device !== undefined) return native.synchronize({ device: deviceIndex(device) });
  const all = [native.synchronize({ device: -1 })];
  for (let i = 0; i < native.deviceCount(); i++) all.push(native.synchronize({ device: i }));
  await Promise.all(all);
}
