/** Devices (docs/design.md §3): `'cpu'`, `'cuda'` (the current CUDA device) and `'cuda:N'`. */
import { native, NativeDeviceInfo } from './native';
import { argTypeError, rangeError, NattenError } from './errors';

/** A device name. */
export type DeviceLike = 'cpu' | 'cuda' | `cuda:${number}`;

/** Canonical device name: `'cpu'` or `'cuda:N'`. */
export type DeviceName = 'cpu' | `cuda:${number}`;

let currentCuda = 0;

/** Parses and validates a device name; returns the native index (-1 = CPU). @internal */
export function deviceIndex(device: unknown, arg = 'device'): number {
  if (typeof device !== 'string') throw argTypeError(arg, "a device name ('cpu', 'cuda' or 'cuda:N')", device);
  if (device === 'cpu') return -1;
  let index: number;
  if (device === 'cuda') index = currentCuda;
  else {
    const m = /^cuda:(\d+)$/.exec(device);
    if (!m)
      throw rangeError(
        'ERR_NATTEN_INVALID_DEVICE',
        `${arg} must be 'cpu', 'cuda' or 'cuda:N', got ${JSON.stringify(device)}`,
      );
    index = Number(m[1]);
  }
  const count = native.deviceCount();
  if (index >= count) {
    if (!native.buildInfo().cuda) {
      throw new NattenError(
        `${arg} is ${JSON.stringify(device)} but this natten-node addon was built without CUDA ` +
          '(nvcc was not found at install time); reinstall with the CUDA toolkit present',
        'ERR_NATTEN_NO_CUDA',
      );
    }
    throw rangeError(
      'ERR_NATTEN_DEVICE',
      `${arg} is ${JSON.stringify(device)} but ${count} CUDA device(s) are visible`,
    );
  }
  return index;
}

/** Canonical name of a native device index. @internal */
export function deviceName(index: number): DeviceName {
  return index < 0 ? 'cpu' : `cuda:${index}`;
}

/** Description of a CUDA device. */
export interface CudaDeviceInfo extends NativeDeviceInfo {
  /** Device index (the N of 'cuda:N'). */
  index: number;
}

/** CUDA device queries. */
export const cuda = {
  /** True when the addon was built with CUDA and at least one device is visible. */
  isAvailable(): boolean {
    return native.deviceCount() > 0;
  },
  /** Number of visible CUDA devices (0 on CPU-only builds or machines without a GPU). */
  deviceCount(): number {
    return native.deviceCount();
  },
  /** Name, compute capability and memory of device `index` (default: the current device). */
  deviceInfo(index: number = currentCuda): CudaDeviceInfo {
    deviceIndex(`cuda:${index}`, 'index');
    return { index, ...native.deviceInfo({ device: index }) };
  },
  /** Index of the device `'cuda'` refers to. */
  currentDevice(): number {
    return currentCuda;
  },
  /** Makes `'cuda'` refer to device `index`. */
  setDevice(index: number): void {
    if (!Number.isInteger(index) || index < 0) throw argTypeError('index', 'a non-negative integer', index);
    deviceIndex(`cuda:${index}`, 'index');
    currentCuda = index;
  },
};
