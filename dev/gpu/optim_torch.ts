/**
 * Replays PyTorch's SGD/AdamW trajectories (dev/gpu/optim_torch.py's JSON) with natten.optim on cuda:0 and
 * prints, per case, the largest difference of the final parameter relative to max(1, max |PyTorch's|).
 *   node dist/dev/gpu/optim_torch.js TORCH.json   (exit 1 when a case differs by more than 1e-5)
 */
import * as fs from 'fs';
import * as natten from '../../lib';

interface TorchCase {
  kind: 'SGD' | 'AdamW';
  options: Record<string, number | boolean | number[]>;
  p0: number[];
  grads: number[][];
  final: number[];
}

/** PyTorch's snake_case options as natten's camelCase ones. */
function camel(o: TorchCase['options']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  return out;
}

async function replay(c: TorchCase): Promise<number> {
  const p = {
    name: 'p',
    value: natten.tensor(c.p0, [c.p0.length], { device: 'cuda' }),
    grad: null as natten.Tensor | null,
  };
  const opts = camel(c.options);
  const opt =
    c.kind === 'SGD'
      ? new natten.optim.SGD([p], opts as unknown as natten.optim.SGDOptions)
      : new natten.optim.AdamW([p], opts);
  for (const g of c.grads) {
    p.grad?.dispose();
    p.grad = natten.tensor(g, [g.length], { device: 'cuda' });
    opt.step();
  }
  const got = await p.value.toArray();
  let diff = 0,
    scale = 1;
  for (let i = 0; i < got.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - c.final[i]));
    scale = Math.max(scale, Math.abs(c.final[i]));
  }
  return diff / scale;
}

async function main(): Promise<void> {
  const data = JSON.parse(fs.readFileSync(process.argv[2], 'utf8')) as { torch: string; cases: TorchCase[] };
  let worst = 0;
  for (const c of data.cases) {
    const err = await replay(c);
    worst = Math.max(worst, err);
    console.log(
      `${c.kind} ${JSON.stringify(c.options)}: relative difference to PyTorch ${data.torch} ${err.toExponential(2)}`,
    );
  }
  console.log(worst <= 1e-5 ? 'PASS optim matches PyTorch' : `FAIL optim differs from PyTorch by ${worst}`);
  process.exitCode = worst <= 1e-5 ? 0 : 1;
}

void main();
