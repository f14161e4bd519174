/**
 * Trains a two-block NAT model (examples/nat_denoiser.ts) in Node to denoise smooth 2-D fields
 * (examples/denoise_task.ts) with natten.optim.AdamW and the mean squared error:
 *
 *   npm start -- --example train [--device cpu|cuda] [--dtype float32|bfloat16] [--steps 200] [--size 32x32]
 *     [--channels 64] [--heads 4] [--kernel 7] [--batch 8] [--init FILE] [--data FILE] [--losses FILE]
 *
 * Without --init and --data the weights and batches come from --seed, so a run repeats exactly. With the
 * files written by examples/train_nat_torch.py (`--write-init`, `--write-data`) the model starts from the
 * PyTorch twin's weights and sees its batches (the batch, size and field channels are then the data's).
 * bfloat16 keeps the parameters in bfloat16 and AdamW's fp32 master weights. Every step: forward,
 * mseLoss, mseLossBackward, model.backward, optimizer step, zeroGrad; the loss of each step (before its
 * update) goes to --losses as JSON.
 */
import { writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import * as natten from '../lib';
import { makeBatch, perPixelBound, TASK_DEFAULTS, type DenoiseBatch, type DenoiseTask } from './denoise_task';
import { finalLoss, type LossRecord } from './loss_record';
import { NATDenoiser, seededWeights } from './nat_denoiser';

/** Command-line options of the example. */
export interface TrainOptions {
  device?: 'cpu' | 'cuda';
  dtype: 'float32' | 'bfloat16' | 'float64';
  steps: number;
  size: number[];
  channels: number;
  heads: number;
  kernel: number;
  batch: number;
  inChannels: number;
  lr: number;
  weightDecay: number;
  seed: number;
  init?: string;
  data?: string;
  losses?: string;
  printEvery: number;
}

const positive = (value: string): number => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
};

const nonNegative = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a non-negative number');
  return n;
};

function size(value: string): number[] {
  const parts = value.split('x').map(positive);
  if (parts.length !== 2) throw new InvalidArgumentError('expected HxW, e.g. 32x32');
  return parts;
}

/** Parses the command line (argv as process.argv: node, script, flags...). */
export function parseTrainOptions(argv: string[]): TrainOptions {
  return new Command('train_nat')
    .description('trains a two-block NAT model to denoise smooth 2-D fields (AdamW, MSE loss)')
    .addOption(new Option('--device <device>', 'device (default: cuda when present)').choices(['cpu', 'cuda']))
    .addOption(
      new Option('--dtype <dtype>', 'parameter and activation dtype (bfloat16: fp32 master weights in AdamW)')
        .choices(['float32', 'bfloat16', 'float64'])
        .default('float32'),
    )
    .option('--steps <n>', 'optimizer steps', positive, 200)
    .option('--size <HxW>', 'field size', size, [32, 32])
    .option('--channels <C>', 'channels inside the blocks', positive, 64)
    .option('--heads <n>', 'attention heads', positive, 4)
    .option('--kernel <k>', 'neighborhood size', positive, 7)
    .option('--batch <n>', 'fields per batch', positive, 8)
    .option('--in-channels <n>', 'channels of a field (1 to 3)', positive, 1)
    .option('--lr <lr>', 'AdamW learning rate', nonNegative, 1e-3)
    .option('--weight-decay <wd>', 'AdamW weight decay', nonNegative, 0.01)
    .option('--seed <n>', 'seed of the weights and batches without --init / --data', nonNegative, 0)
    .option('--init <file>', 'safetensors initial weights (examples/train_nat_torch.py --write-init)')
    .option('--data <file>', 'safetensors batches `noisy`, `clean` [steps, B, H, W, ch] (--write-data)')
    .option('--losses <file>', 'writes the per-step losses as JSON')
    .option('--print-every <n>', 'prints the loss every n steps', positive, 20)
    .parse(argv)
    .opts<TrainOptions>();
}

/** The batches of a run: from --data (all read once into host memory) or made from the seed per step. */
interface BatchSource {
  task: Omit<DenoiseTask, 'noise' | 'waves' | 'maxFrequency'>;
  get(step: number): DenoiseBatch;
}

async function batchSource(o: TrainOptions): Promise<BatchSource> {
  if (o.data === undefined) {
    const task = { batch: o.batch, height: o.size[0], width: o.size[1], channels: o.inChannels, ...TASK_DEFAULTS };
    return { task, get: (step) => makeBatch(task, o.seed, step) };
  }
  const dict = await natten.loadSafetensors(o.data, { dtype: 'float32' });
  const [noisy, clean] = [dict.get('noisy'), dict.get('clean')];
  if (!noisy || !clean || noisy.ndim !== 5 || clean.shape.join() !== noisy.shape.join())
    throw new Error(`${o.data}: expected tensors "noisy" and "clean" of one shape [steps, batch, H, W, channels]`);
  const [steps, batch, height, width, channels] = noisy.shape;
  if (steps < o.steps) throw new Error(`${o.data} holds ${steps} batches, --steps asks for ${o.steps}`);
  // Loaded as float32, so the reads are Float32Arrays.
  const [n, c] = [(await noisy.toArray()) as Float32Array, (await clean.toArray()) as Float32Array];
  for (const t of dict.values()) t.dispose();
  const per = batch * height * width * channels;
  const slice = (a: Float32Array, s: number): Float32Array => a.subarray(s * per, (s + 1) * per);
  return { task: { batch, height, width, channels }, get: (s) => ({ noisy: slice(n, s), clean: slice(c, s) }) };
}

/** The model with its initial weights: --init's, or seeded ones. */
async function initialModel(o: TrainOptions, inChannels: number, device: natten.DeviceLike): Promise<NATDenoiser> {
  const model = new NATDenoiser({
    inChannels,
    embedDim: o.channels,
    numHeads: o.heads,
    kernelSize: o.kernel,
    device,
    dtype: o.dtype,
  });
  const weights = o.init === undefined ? seededWeights(model, o.seed) : await natten.loadSafetensors(o.init);
  model.loadStateDict(weights);
  for (const t of weights.values()) t.dispose();
  return model;
}

/** One training step on a batch; returns the loss (before the update) as a one-element tensor. */
function trainStep(model: NATDenoiser, opt: natten.optim.AdamW, x: natten.Tensor, y: natten.Tensor): natten.Tensor {
  return natten.tidy(() => {
    const pred = model.forward(x);
    const loss = natten.mseLoss(pred, y);
    model.backward(natten.mseLossBackward(1, pred, y).dPred);
    opt.step();
    opt.zeroGrad();
    return loss;
  });
}

/** Trains as the options say, prints progress, and returns the record --losses holds. */
export async function train(o: TrainOptions): Promise<LossRecord> {
  const device: natten.DeviceLike = o.device ?? (natten.cuda.isAvailable() ? 'cuda' : 'cpu');
  const data = await batchSource(o);
  const { batch, height, width, channels } = data.task;
  const model = await initialModel(o, channels, device);
  const opt = new natten.optim.AdamW(model.parameters(), { lr: o.lr, weightDecay: o.weightDecay });
  const shape = [batch, height, width, channels];
  const at = { device, dtype: o.dtype };
  console.log(
    `train_nat: ${device}${device === 'cpu' ? '' : ` (${natten.cuda.deviceInfo().name})`} ${o.dtype}, ` +
      `fields [${shape.join(', ')}]${o.data ? ` from ${o.data}` : ` (seed ${o.seed})`}, C${o.channels}, ` +
      `${o.heads} heads, kernel ${o.kernel}, AdamW lr ${o.lr}, ${o.steps} steps`,
  );
  const reads: Promise<Float32Array | Float64Array>[] = [];
  const losses: number[] = [];
  const started = performance.now();
  for (let s = 0; s < o.steps; s++) {
    const b = data.get(s);
    const [x, y] = [natten.tensor(b.noisy, shape, at), natten.tensor(b.clean, shape, at)];
    const loss = trainStep(model, opt, x, y);
    reads.push(loss.toArray()); // the read is queued behind the step; disposing releases after it
    [x, y, loss].forEach((t) => t.dispose());
    if ((s + 1) % o.printEvery === 0 || s + 1 === o.steps) {
      // Waiting here also bounds the work queued ahead of the host to printEvery steps.
      for (const v of await Promise.all(reads.splice(0))) losses.push(v[0]);
      const secs = ((performance.now() - started) / 1000).toFixed(1);
      console.log(`step ${String(s + 1).padStart(5)}/${o.steps}  loss ${losses[s].toFixed(6)}  (${secs} s)`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const noise = o.data === undefined ? TASK_DEFAULTS.noise : null;
  console.log(
    `final loss (mean of the last 10 steps) ${finalLoss(losses).toFixed(6)}` +
      (noise === null ? '' : `; a per-pixel denoiser cannot go below about ${perPixelBound(noise).toFixed(3)}`),
  );
  const h = opt.options;
  opt.dispose();
  model.dispose();
  return {
    label: `natten-node ${device} ${o.dtype}`,
    device: device === 'cpu' ? 'cpu' : natten.cuda.deviceInfo().name,
    dtype: o.dtype,
    model: { depth: model.blocks.length, channels: o.channels, heads: o.heads, kernel: o.kernel, inChannels: channels },
    task: { batch, height, width, noise, data: o.data ?? null },
    optimizer: { name: 'AdamW', lr: h.lr, weightDecay: h.weightDecay, betas: h.betas, eps: h.eps },
    seconds,
    losses,
  };
}

async function main(): Promise<void> {
  const o = parseTrainOptions(process.argv);
  const record = await train(o);
  if (o.losses !== undefined) {
    writeFileSync(o.losses, JSON.stringify(record, null, 1) + '\n');
    console.log(`wrote ${o.losses}`);
  }
}

// Run as a program: directly, or through `npm start -- --example train` (scripts/start.js requires this file
// with process.argv naming it); importing it runs nothing.
if (require.main === module || process.argv[1] === __filename) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
