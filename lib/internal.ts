/**
 * `natten.internal`: debugging and test hooks. Not part of the stable API: names and behaviour may
 * change in any release.
 */
import {
  native,
  KernelSwitchSettings,
  NativeDeviceCaps,
  NativeFusedChoices,
  NativeKernelSwitches,
  NativeProblem,
} from './native';
import { deviceIndex, DeviceLike } from './device';
import { DTYPES, dtypeCode, type DType } from './dtype';
import { rangeError, typeError } from './errors';
import { resetAutotuner } from './autotuner/tuner';
import type { AutotuneTimer } from './autotuner/types';
import { fusedConfigsFor, type FusedConfigInfo, type FusedConfigQuery } from './ops/fused_configs';

/** Debugging and test hooks (unstable). */
export const internal = {
  /** Enqueues a kernel on a CUDA device that writes to an illegal address. The device's CUDA context is
   * lost: the next synchronisation and every later operation on that device throw ERR_NATTEN_CUDA
   * saying the process must restart; other devices and the CPU keep working. For testing how a server
   * survives a faulting kernel. */
  triggerDeviceFault(device: DeviceLike): void {
    const index = deviceIndex(device, 'device');
    if (index < 0)
      throw rangeError('ERR_NATTEN_INVALID_DEVICE', `device must be a CUDA device, got '${String(device)}'`);
    native.faultDevice({ device: index });
  },
  /** Reads, and with `set` first changes, the run-time switches of kernel variants of the wgmma backward and
   * the 'wgmma-ws' forward (compute capability 9.0), for tests and A/B timings: `backwardTma`, Q and dO loaded with TMA bulk copies
   * instead of row copies (on by default; NATTEN_BWD_WGMMA_TMA=0 starts it off); `backwardPersistent`,
   * persistent CTAs that walk KV tiles one after another, each tile's set-up and K/V load overlapping the
   * previous tile's last steps and dK/dV stores (off by default: no faster on an H200;
   * NATTEN_BWD_WGMMA_PERSISTENT=1 starts it on); `forwardWsPersistent`, persistent CTAs of the 'wgmma-ws'
   * forward that walk Q tiles one after another, the next tile's loads under the current one's epilogue (on by
   * default; NATTEN_FWD_WS_PERSISTENT=0 starts it off); `persistentCtas`, at most that many CTAs per persistent
   * launch (0: one per SM). Launches enqueued after the change use them. The launch counters tell a test
   * which path ran. Setting a switch in a CPU-only build throws ERR_NATTEN_NO_CUDA. */
  kernelSwitches(set?: KernelSwitchSettings): NativeKernelSwitches {
    if (set !== undefined) {
      if (set === null || typeof set !== 'object')
        throw typeError('ERR_NATTEN_INVALID_ARG_TYPE', `set must be an object, got ${String(set)}`);
      for (const key of ['backwardTma', 'backwardPersistent', 'forwardWsPersistent'] as const) {
        if (set[key] !== undefined && typeof set[key] !== 'boolean')
          throw typeError(
            'ERR_NATTEN_INVALID_ARG_TYPE',
            `set.${key} must be a boolean, got ${JSON.stringify(set[key])}`,
          );
      }
      const ctas = set.persistentCtas;
      if (ctas !== undefined && (typeof ctas !== 'number' || !Number.isInteger(ctas) || ctas < 0 || ctas > 1 << 20))
        throw rangeError(
          'ERR_NATTEN_INVALID_ARG_VALUE',
          `set.persistentCtas must be an integer in [0, ${1 << 20}], got ${JSON.stringify(ctas)}`,
        );
    }
    return native.kernelSwitches(set);
  },
  /** How many native storages are alive on `device` (tensors and views not yet disposed or collected, and
   * storages queued work still holds): for tests of lifetimes and leaks. */
  liveStorages(device: DeviceLike): number {
    return native.liveStorages({ device: deviceIndex(device, 'device') });
  },
  /** The fused configs the kernels would choose for `problem` (the object the op bindings read) on a
   * device described by `caps` (compute capability, SM count, opt-in shared memory per block: the fields
   * of `natten.cuda.deviceInfo()`, here given, not queried): the forward's tile config from the cost
   * model, the backward's plan, and the backward's plan in deterministic mode, all with the default fused
   * options. Nothing touches a GPU, so this runs on machines without one (the occupancy is estimated from
   * the shared memory; on a real device the ops ask CUDA's occupancy calculator). For pinning the
   * selection in tests. Throws ERR_NATTEN_NO_CUDA in CPU-only builds. */
  chooseFusedConfigs(problem: NativeProblem, dtype: DType, caps: NativeDeviceCaps): NativeFusedChoices {
    if (!DTYPES.includes(dtype)) {
      throw rangeError(
        'ERR_NATTEN_INVALID_DTYPE',
        `dtype must be one of ${DTYPES.join(', ')}, got ${JSON.stringify(dtype)}`,
      );
    }
    return native.chooseFusedConfigs({ problem, dtype: dtypeCode(dtype), caps });
  },
  /** Gives the autotuner a fresh state: the timing source `timer` (default: CUDA events on the device's own
   * queue; tests pass a fake that returns fixed times, so tuning and the cache run without a GPU), a new
   * cache read from the folder the environment names now, and no tuning under way. */
  setAutotuneTimer(timer?: AutotuneTimer): void {
    resetAutotuner(timer);
  },
  /** `natten.fusedConfigs(query)` for a device described by `caps` (as `chooseFusedConfigs` takes them)
   * instead of a present one: the compiled configs that would run on an A100 or an H100, listed on a
   * machine without one (`natten-node profile --dry-run --arch sm90`). Throws ERR_NATTEN_NO_CUDA in
   * CPU-only builds, which hold no configs. */
  fusedConfigsFor(query: Omit<FusedConfigQuery, 'device'>, caps: NativeDeviceCaps): FusedConfigInfo[] {
    return fusedConfigsFor(query, caps);
  },
};
