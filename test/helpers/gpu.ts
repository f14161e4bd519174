/**
 * GPU test gating. GPU suites skip when no CUDA device is visible, except with NATTEN_REQUIRE_GPU=1,
 * where a missing GPU fails the suite (so a GPU runner can never pass by skipping).
 */
import { cuda } from '../../lib';

/** True when CUDA tests should run. */
export const hasGpu = cuda.isAvailable();
/** True when a GPU is mandatory (GPU CI). */
export const requireGpu = process.env.NATTEN_REQUIRE_GPU === '1';

/** `describe` for suites that need a CUDA device. */
export function describeGpu(name: string, fn: () => void): void {
  if (hasGpu) {
    describe(name, fn);
  } else if (requireGpu) {
    describe(name, () => {
      it('has a CUDA device (NATTEN_REQUIRE_GPU=1)', () => {
        throw new Error(
          'NATTEN_REQUIRE_GPU=1 but no CUDA device is visible to natten-node ' +
            '(is the addon built with CUDA? natten.buildInfo(): ' +
            JSON.stringify(require('../../lib').buildInfo()) +
            ')',
        );
      });
    });
  } else {
    describe.skip(`${name} (no CUDA device)`, fn);
  }
}
