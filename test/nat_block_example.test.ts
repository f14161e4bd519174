// examples/nat_block.ts (a NAT block: layerNorm, NeighborhoodAttention2D, MLP with gelu, residuals) on
// the CPU against the fp64 oracle, its state dict, and examples/nat_block_demo.ts run standalone.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as natten from '../lib';
import { NATBlock } from '../examples/nat_block';
import * as o from './oracle';

const CFG: o.NAModuleConfig = { dims: 2, C: 32, heads: 2, kernel: 3, dilation: 1 };

/** The block's parameters as fp64 oracle tensors, by name. */
async function oracleParams(block: NATBlock): Promise<Map<string, o.Tensor>> {
  const out = new Map<string, o.Tensor>();
  for (const [name, t] of block.stateDict()) out.set(name, o.tensor(Float64Array.from(await t.toArray()), t.shape));
  return out;
}

describe('NATBlock (examples/nat_block.ts)', () => {
  it('forward of B1 9x11 C32, 2 heads, k3 in float32 matches the fp64 oracle', async () => {
    natten.setPoisonOutputs(true);
    const block = new NATBlock({ embedDim: CFG.C, numHeads: CFG.heads, kernelSize: CFG.kernel });
    // Non-trivial norms and biases so that every parameter matters.
    const dict = new Map<string, natten.Tensor>();
    let seed = 40;
    for (const [name, shape] of block.parameterShapes) {
      const std = name.endsWith('.bias') ? 0.5 : name.startsWith('norm') ? 1 : shape[1] ** -0.5;
      dict.set(
        name,
        natten.tidy(() => natten.mul(natten.randn(shape, { seed: seed++ }), std)),
      );
    }
    block.loadStateDict(dict);
    const x = natten.randn([1, 9, 11, CFG.C], { seed: 5 });
    const y = block.forward(x);
    expect(y.shape).toEqual([1, 9, 11, CFG.C]);
    const want = o.natBlock(CFG, await oracleParams(block), o.tensor(Float64Array.from(await x.toArray()), x.shape));
    const got = await y.toArray();
    expect(o.maxAbsDiff(got, want.data) / Math.max(1, o.maxAbs(want.data))).toBeLessThan(1e-4);
    natten.setPoisonOutputs(false);
    [x, y, ...dict.values()].forEach((t) => t.dispose());
    block.dispose();
  });

  it("parameter names are the PyTorch block's; one error lists every bad key", () => {
    const block = new NATBlock({ embedDim: 8, numHeads: 2, kernelSize: 3 });
    expect([...block.parameterShapes.keys()].sort()).toEqual(
      [
        'norm1.weight',
        'norm1.bias',
        'attn.qkv.weight',
        'attn.qkv.bias',
        'attn.proj.weight',
        'attn.proj.bias',
        'norm2.weight',
        'norm2.bias',
        'mlp.fc1.weight',
        'mlp.fc1.bias',
        'mlp.fc2.weight',
        'mlp.fc2.bias',
      ].sort(),
    );
    const bad = new Map(block.stateDict());
    bad.delete('attn.proj.bias');
    const wrong = natten.zeros([8, 8]);
    bad.set('mlp.fc1.weight', wrong);
    expect(() => block.loadStateDict(bad)).toThrow(
      expect.objectContaining({
        code: 'ERR_NATTEN_STATE_DICT',
        message: expect.stringMatching(
          /"mlp.fc1.weight" has shape \[8, 8\], the module's is \[32, 8\].*missing key "attn.proj.bias"/,
        ),
      }),
    );
    wrong.dispose();
    block.dispose();
  });

  it('the demo runs standalone (random weights through saveSafetensors) and exits 0', async () => {
    const script = join(__dirname, '..', 'dist', 'examples', 'nat_block_demo.js');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        script,
        '--size',
        '8x10',
        '--channels',
        '16',
        '--heads',
        '2',
        '--kernel',
        '3',
        '--iterations',
        '2',
        '--device',
        'cpu',
      ],
      { env: process.env },
    );
    expect(stdout).toMatch(/device: cpu/);
    expect(stdout).toMatch(/output \[1, 8, 10, 16\] float32, sum -?\d+\.\d+/);
    expect(stdout).toMatch(/forward: \d+\.\d+ ms per block/);
  });
});
