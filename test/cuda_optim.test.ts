// Optimizers and GradScaler on a GPU (the multi-tensor kernels of kernels/optim/) against the fp64 oracle in
// the three GPU dtypes (test/helpers/optim_cases.ts), and the CUDA step against the CPU engine's on the same
// inputs. Skips without a GPU; fails under NATTEN_REQUIRE_GPU=1.
import * as natten from '../lib';
import { describeGpu } from './helpers/gpu';
import { describeOptim, makeParam } from './helpers/optim_cases';
import * as oracle from './oracle';

describeGpu('optimizers (CUDA)', () => {
  describeOptim('cuda', ['float32', 'float16', 'bfloat16']);

  it('an AdamW step on cuda:0 matches the CPU engine on the same inputs', async () => {
    const shapes = [[300, 257], [1], [4097]];
    const dev = await Promise.all(shapes.map((s, i) => makeParam(`p${i}`, s, 40 + i, 'bfloat16', 'cuda')));
    const cpu = await Promise.all(shapes.map((s, i) => makeParam(`p${i}`, s, 40 + i, 'bfloat16', 'cpu')));
    const opts = { lr: 0.01, amsgrad: true, weightDecay: 0.1 };
    const od = new natten.optim.AdamW(
        dev.map((m) => m.p),
        opts,
      ),
      oc = new natten.optim.AdamW(
        cpu.map((m) => m.p),
        opts,
      );
    for (let s = 0; s < 3; s++) {
      for (const [i, m] of dev.entries()) {
        m.p.grad = natten.randn(shapes[i], { seed: 10 * s + i, device: 'cuda' });
        cpu[i].p.grad = natten.randn(shapes[i], { seed: 10 * s + i });
      }
      od.step();
      oc.step();
    }
    const sd = od.stateDict(),
      sc = oc.stateDict();
    for (const [k, t] of sc) {
      const err = oracle.relError(await sd.get(k)!.toArray(), await t.toArray());
      expect({ k, ok: err <= 1e-5 }).toEqual({ k, ok: true });
    }
  });
});
