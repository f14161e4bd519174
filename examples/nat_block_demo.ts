/**
 * Runs examples/nat_block.ts on an image-sized input on the GPU when there is one, else the CPU:
 *
 *   node dist/examples/nat_block_demo.js [--weights nat_block.safetensors] [--reference nat_reference.safetensors]
 *
 * Without --weights it creates random weights and saves them with natten.saveSafetensors first (so it
 * runs anywhere); with --reference (written by examples/make_nat_weights.py: tensors `input` and
 * `output`) it runs the reference input and prints the largest error against PyTorch's output.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import * as natten from '../lib';
import { NATBlock } from './nat_block';

/** Command-line options of the demo. */
interface DemoOptions {
  weights?: string;
  reference?: string;
  size: number[];
  channels: number;
  heads: number;
  kernel: number;
  iterations: number;
  device?: 'cpu' | 'cuda';
  dtype: natten.DType;
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function size(value: string): number[] {
  const parts = value.split('x').map(positive);
  if (parts.length !== 2) throw new InvalidArgumentError('expected HxW, e.g. 56x56');
  return parts;
}

function parse(argv: string[]): DemoOptions {
  return new Command('nat_block_demo')
    .description('a NAT block (layerNorm, NeighborhoodAttention2D, MLP, residuals) on one image-sized input')
    .option('--weights <file>', 'safetensors file of the block (default: random weights saved to a temporary file)')
    .option('--reference <file>', 'safetensors file with `input` and PyTorch `output` to compare against')
    .option('--size <HxW>', 'spatial size of the input', size, [56, 56])
    .option('--channels <C>', 'embedding channels', positive, 128)
    .option('--heads <n>', 'attention heads', positive, 4)
    .option('--kernel <k>', 'neighborhood size', positive, 7)
    .option('--iterations <n>', 'timed forwards', positive, 10)
    .addOption(new Option('--device <device>', 'device (default: cuda when present)').choices(['cpu', 'cuda']))
    .addOption(
      new Option('--dtype <dtype>', 'dtype of weights and input')
        .choices(['float32', 'float16', 'bfloat16', 'float64'])
        .default('float32'),
    )
    .parse(argv)
    .opts<DemoOptions>();
}

/** The weights file to load: the given one, or random weights of a fresh block saved to a temporary file. */
async function weightsFile(o: DemoOptions, make: () => NATBlock): Promise<string> {
  if (o.weights !== undefined) return o.weights;
  const path = join(mkdtempSync(join(tmpdir(), 'nat-block-')), 'nat_block.safetensors');
  const fresh = make();
  await natten.saveSafetensors(path, fresh.stateDict(), { format: 'pt' });
  fresh.dispose();
  console.log(`random weights saved to ${path} (removed at exit)`);
  return path;
}

/** Sum and sum of absolute values of the output, a checksum that two runs can compare. */
function checksum(values: ArrayLike<number>): string {
  let sum = 0,
    abs = 0;
  for (let i = 0; i < values.length; i++) [sum, abs] = [sum + values[i], abs + Math.abs(values[i])];
  return `sum ${sum.toFixed(6)}, sum|.| ${abs.toFixed(6)}`;
}

/** The input and the expected output: the reference file's, or a seeded random input and none. */
async function inputs(o: DemoOptions, device: natten.DeviceLike): Promise<{ x: natten.Tensor; want?: natten.Tensor }> {
  const opts = { device, dtype: o.dtype };
  if (o.reference === undefined) return { x: natten.randn([1, ...o.size, o.channels], { ...opts, seed: 1 }) };
  const ref = await natten.loadSafetensors(o.reference, { device: 'cpu', dtype: 'float64' });
  const [x, want] = [ref.get('input'), ref.get('output')];
  if (!x || !want) throw new Error(`${o.reference}: expected tensors "input" and "output"`);
  const moved = x.to(opts);
  x.dispose();
  return { x: moved, want };
}

async function main(): Promise<void> {
  const o = parse(process.argv);
  const device: natten.DeviceLike = o.device ?? (natten.cuda.isAvailable() ? 'cuda' : 'cpu');
  const make = (): NATBlock =>
    new NATBlock({ embedDim: o.channels, numHeads: o.heads, kernelSize: o.kernel, device, dtype: o.dtype });
  const path = await weightsFile(o, make);
  const block = make().loadStateDict(await natten.loadSafetensors(path, { device }));
  const { x, want } = await inputs(o, device);
  console.log(
    `device: ${device}${device === 'cpu' ? '' : ` (${natten.cuda.deviceInfo().name})`}, input [${x.shape.join(', ')}] ${x.dtype}, ` +
      `${o.heads} heads, kernel ${o.kernel}, weights ${path}`,
  );
  const first = block.forward(x); // warm-up: autotuning, allocations
  const values = await first.toArray();
  const started = performance.now();
  for (let i = 0; i < o.iterations; i++) block.forward(x).dispose(); // queued back to back
  await natten.synchronize();
  const ms = (performance.now() - started) / o.iterations;
  console.log(`output [${first.shape.join(', ')}] ${first.dtype}, ${checksum(values)}`);
  console.log(`forward: ${ms.toFixed(3)} ms per block (${o.iterations} forwards queued, then one synchronize)`);
  if (want) {
    const ref = await want.toArray();
    let err = 0,
      largest = 0;
    for (let i = 0; i < ref.length; i++)
      [err, largest] = [Math.max(err, Math.abs(values[i] - ref[i])), Math.max(largest, Math.abs(ref[i]))];
    console.log(
      `max |error| against the reference: ${err.toExponential(3)} (largest |reference| ${largest.toFixed(3)})`,
    );
    want.dispose();
  }
  [x, first].forEach((t) => t.dispose());
  block.dispose();
  if (o.weights === undefined) rmSync(dirname(path), { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
