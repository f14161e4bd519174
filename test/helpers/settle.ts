/** Waits for queued work and runs the garbage collector so finalizers of unreachable tensors have run:
 * memory() is then a stable baseline. */
import { gc } from '../../dev/gc';
import * as natten from '../../lib';

export async function settle(): Promise<void> {
  await natten.synchronize();
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  await natten.synchronize();
}

export { gc };
