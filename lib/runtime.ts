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
  /** Threads the CPU engine uses. */
  cpuThreads: number;
  /** The CPU engine's SIMD level that runs: the best one compiled in that this CPU supports, capped by
   * `NATTEN_CPU_LEVEL`. */
  cpuSimdLevel: CpuSimdLevel;
  /** The SIMD levels compiled into the addon, best first (e.g. ['avx512', 'avx2', 'baseline']). */
  cpuSimdLevels: CpuSimdLevel[];
}

/** Reports version, whether CUDA was compiled, the CUDA version and the architectures. */
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
    cpuThreads: b.cpuThreads,
    cpuSimdLevel: b.cpuSimdLevel as CpuSimdLevel,
    cpuSimdLevels: b.cpuSimdLevels.split(',') as CpuSimdLevel[],
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
