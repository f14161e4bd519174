/**
 * `natten.internal`: debugging and test hooks. Not part of the stable API: names and behaviour may
 * change in any release.
 */
import { native } from './binding';
import { deviceIndex, DeviceLike } from './device';
import { rangeError } from './errors';

/** Debugging and test hooks (unstable). */
export const internal = {
  /** Enqueues a kernel on a CUDA device that writes to an illegal address. The device's CUDA context is
   * lost: the next synchronisation and every later operation on that device throw ERR_NATTEN_CUDA
   * saying the process must restart; other devices and the CPU keep working. For testing how a server
   * survives a faulting kernel. */
  triggerDeviceFault(device: DeviceLike): void {
    const index = deviceIndex(device, 'device');
    if (index < 0) throw rangeError('ERR_NATTEN_INVALID_DEVICE', `device must be a CUDA device, got '${String(device)}'`);
    native.faultDevice(index);
  },
};
