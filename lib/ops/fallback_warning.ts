/**
 * The one-time warning of the fused ops on a CUDA GPU without the fast fused (tensor-core) kernels
 * (`natten.hasFusedNA(device)` false, e.g. compute capability below 8.0): the ops still work, on the
 * reference (SIMT) kernels, and say so once per process and device with
 * `process.emitWarning(message, {code: 'NATTEN_FUSED_FALLBACK', type: 'NattenWarning'})`.
 * float32 (or an odd head dim) on a GPU that has the fused kernels also runs the reference kernels, as
 * documented, and does not warn.
 */
import { native } from '../native';
import type { DeviceName } from '../device';

/** What the warning needs to know about a CUDA device. */
export interface FallbackProbe {
  hasFused: boolean;
  name: string;
  computeCapability: string;
}

/** Warning code of the fallback. */
export const FUSED_FALLBACK_CODE = 'NATTEN_FUSED_FALLBACK';

const nativeProbe = (index: number): FallbackProbe => ({
  hasFused: native.hasFused({ device: index }),
  ...native.deviceInfo({ device: index }),
});

/** Devices already checked (each is queried and warned about at most once). */
const checked = new Set<number>();

/**
 * Called by every fused forward/backward (except backend: 'reference') with its tensors' device; on the
 * first call for a CUDA device without the fused kernels, emits the warning. The CPU never warns. `probe`
 * (the device query) is replaceable for tests. Returns true when this call emitted the warning. @internal
 */
export function warnIfFusedFallback(
  device: DeviceName,
  probe: (index: number) => FallbackProbe = nativeProbe,
): boolean {
  if (device === 'cpu') return false;
  const index = Number(device.slice('cuda:'.length));
  if (checked.has(index)) return false;
  checked.add(index);
  const p = probe(index);
  if (p.hasFused) return false;
  process.emitWarning(
    `natten-node: cuda:${index} (${p.name}, compute capability ${p.computeCapability}) has no fast fused ` +
      'neighborhood-attention kernels (they need compute capability 8.0 or newer); the fused ops run the ' +
      'reference (SIMT) kernels there instead, which are much slower. natten.hasFusedNA(device) tells in advance.',
    { code: FUSED_FALLBACK_CODE, type: 'NattenWarning' },
  );
  return true;
}
