/**
 * Whether the CUDA driver, the CUDA runtime linked into the addon, its compiled architectures and the
 * GPUs fit together, in plain words. Pure functions of the facts doctor gathered (tested without a GPU).
 */

/** A finding: 'error' means GPU work cannot run (doctor exits non-zero), 'warning' that it runs with a
 * limitation, 'ok' a confirmation. */
export interface Finding {
  level: 'ok' | 'warning' | 'error';
  message: string;
}

/** What the diagnosis reads. */
export interface CudaFacts {
  /** The addon has the CUDA kernels. */
  cudaBuild: boolean;
  /** Driver's CUDA version as CUDA encodes it (12040 = 12.4), 0 without a driver. */
  driverVersion: number;
  /** Version of the CUDA runtime linked into the addon, 0 without CUDA. */
  runtimeVersion: number;
  /** The CUDA error of the device query ('' when it succeeded). */
  deviceStatus: string;
  /** CMake CUDA architectures compiled, e.g. ['80-real', '90a-real', '80-virtual']. */
  archs: readonly string[];
  /** Compute capabilities of the visible GPUs, e.g. ['9.0']. */
  gpus: readonly string[];
  /** An NVIDIA kernel driver is loaded on this machine (/proc/driver/nvidia/version exists). */
  nvidiaDriverLoaded: boolean;
}

/** '12.4' from 12040. */
export function cudaVersionString(v: number): string {
  return `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
}

/** Compiled code of an architecture entry: SASS for one cc family, or PTX for any cc at or above it. */
interface ArchCode {
  major: number;
  minor: number;
  /** 'real': SASS, runs on the same major at or above minor ('a' variants: exactly that cc). */
  kind: 'real' | 'virtual';
  exact: boolean;
}

function parseArch(a: string): ArchCode[] {
  const m = /^(\d+)(\d)(a|f)?(?:-(real|virtual))?$/.exec(a.trim());
  if (!m) return [];
  const code = { major: Number(m[1]), minor: Number(m[2]), exact: m[3] === 'a' };
  // A bare number compiles both SASS and PTX.
  const kinds: ArchCode['kind'][] = m[4] ? [m[4] as ArchCode['kind']] : ['real', 'virtual'];
  return kinds.map((kind) => ({ ...code, kind }));
}

/** How a GPU of compute capability `cc` gets its kernels from `archs`: 'sass', 'ptx' (JIT-compiled
 * at first use) or 'none'. */
export function archSupport(cc: string, archs: readonly string[]): 'sass' | 'ptx' | 'none' {
  const [major, minor] = cc.split('.').map(Number);
  const codes = archs.flatMap(parseArch);
  const sass = codes.some(
    (c) => c.kind === 'real' && c.major === major && (c.exact ? c.minor === minor : c.minor <= minor),
  );
  if (sass) return 'sass';
  const ptx = codes.some((c) => c.kind === 'virtual' && (c.major < major || (c.major === major && c.minor <= minor)));
  return ptx ? 'ptx' : 'none';
}

/** The driver/runtime/architecture findings, most serious first. */
export function diagnoseCuda(f: CudaFacts): Finding[] {
  const out: Finding[] = [];
  if (!f.cudaBuild) {
    out.push(
      f.nvidiaDriverLoaded
        ? {
            level: 'warning',
            message:
              'this machine has an NVIDIA driver, but the addon was built without CUDA (nvcc was not found at ' +
              'install time): only the CPU engine runs. Rebuild with the CUDA toolkit: NATTEN_CUDA=1 npm run build:native',
          }
        : {
            level: 'ok',
            message: 'CPU-only build on a machine without an NVIDIA driver: the CPU engine runs everything',
          },
    );
    return out;
  }
  const runtime = cudaVersionString(f.runtimeVersion);
  if (f.driverVersion === 0) {
    out.push({
      level: 'warning',
      message: `the addon has CUDA ${runtime} kernels but no NVIDIA driver is loaded: GPU work cannot run, the CPU engine still does`,
    });
    return out;
  }
  const driver = cudaVersionString(f.driverVersion);
  const driverMajor = Math.floor(f.driverVersion / 1000);
  const runtimeMajor = Math.floor(f.runtimeVersion / 1000);
  if (driverMajor < runtimeMajor || f.deviceStatus === 'cudaErrorInsufficientDriver') {
    out.push({
      level: 'error',
      message:
        `the NVIDIA driver supports CUDA up to ${driver}, but the addon was built with CUDA ${runtime}: ` +
        `install a driver for CUDA ${runtimeMajor}.x or newer, or rebuild natten-node with a CUDA ${driverMajor}.x toolkit`,
    });
  } else if (f.driverVersion < f.runtimeVersion) {
    out.push({
      level: 'warning',
      message:
        `the driver (CUDA ${driver}) is older than the addon's runtime (CUDA ${runtime}) within the same major ` +
        `version: the compiled kernels run (minor-version compatibility), but PTX newer than the driver cannot be JIT-compiled`,
    });
  } else {
    out.push({ level: 'ok', message: `driver CUDA ${driver} runs the addon's CUDA ${runtime} runtime` });
  }
  if (f.deviceStatus && f.deviceStatus !== 'cudaErrorInsufficientDriver' && f.deviceStatus !== 'cudaErrorNoDevice') {
    out.push({ level: 'error', message: `the CUDA device query failed with ${f.deviceStatus}` });
  }
  if (f.gpus.length === 0)
    out.push({ level: 'warning', message: 'no CUDA device is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES)' });
  for (const [i, cc] of f.gpus.entries()) out.push(...gpuFindings(i, cc, f.archs));
  return out.sort((a, b) => rank(a) - rank(b));
}

function gpuFindings(index: number, cc: string, archs: readonly string[]): Finding[] {
  const out: Finding[] = [];
  const support = archSupport(cc, archs);
  const compiled = archs.join(';');
  if (support === 'none')
    out.push({
      level: 'error',
      message: `cuda:${index} (compute capability ${cc}) has no kernel image in this build (${compiled}): rebuild with NATTEN_CUDA_ARCHS including ${cc.replace('.', '')}`,
    });
  else if (support === 'ptx')
    out.push({
      level: 'warning',
      message: `cuda:${index} (compute capability ${cc}) runs PTX JIT-compiled at first use (slow start; not tuned for it): add ${cc.replace('.', '')} to NATTEN_CUDA_ARCHS`,
    });
  if (Number(cc.split('.')[0]) < 8)
    out.push({
      level: 'warning',
      message: `cuda:${index} (compute capability ${cc}) is older than sm_80: the fused ops run the slow reference kernels there`,
    });
  return out;
}

const rank = (f: Finding): number => ({ error: 0, warning: 1, ok: 2 })[f.level];
