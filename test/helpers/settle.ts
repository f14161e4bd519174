/** Waits for queued work and runs the garbage collector so finalizers of unreachable tensors have run:
 * memory() is then a stable baseline. */
import * as v8 from 'v8';
import * as vm from 'vm';
import * as natten from '../../lib';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

export async function settle(): Promise<void> {
  await natten.synchronize();
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  await natten.synchronize();
}

export { gc };
