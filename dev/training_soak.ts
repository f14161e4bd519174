/**
 * A long CPU training run for test/training_soak.test.ts: the NAT denoiser of examples/nat_denoiser.ts, tiny
 * (8x8 fields, batch 2, C16, 2 heads, k3, two blocks), trained with AdamW, then natten.memory() and RSS
 * after the warm-up and at the end, every queued op finished and garbage collected:
 *
 *   node --expose-gc --max-semi-space-size=1 dist/dev/training_soak.js [--steps 3000] [--warmup 1000]
 *     [--leak-bytes N]
 *
 * prints one JSON line ({@link SoakReport}). `--leak-bytes N` keeps a fresh N-byte tensor alive per step
 * (a deliberate leak, to show the checks catch one). Run with a pinned young generation
 * (--max-semi-space-size): V8 otherwise grows it once by tens of MB as the allocation rate shows, which
 * is not a leak but would need thousands of warm-up steps to settle.
 */
import { parseArgs } from 'node:util';
import * as natten from '../lib';
import { makeBatch, TASK_DEFAULTS } from '../examples/denoise_task';
import { NATDenoiser, seededWeights } from '../examples/nat_denoiser';

const TASK = { batch: 2, height: 8, width: 8, channels: 1, ...TASK_DEFAULTS };
const SHAPE = [TASK.batch, TASK.height, TASK.width, TASK.channels];

/** CPU bytes held by tensors and process RSS at one point of the run. */
export interface SoakPoint {
  memory: number;
  rss: number;
}

/** What a soak run measured. */
export interface SoakReport {
  steps: number;
  warmup: number;
  leakBytes: number;
  seconds: number;
  warm: SoakPoint;
  end: SoakPoint;
  /** Losses read every 50 steps. */
  firstLoss: number;
  lastLoss: number;
}

/** natten.memory() on the CPU and RSS once every queued op has run and garbage is collected. */
async function settle(gc: () => void): Promise<SoakPoint> {
  await natten.synchronize();
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  return { memory: natten.memory().cpu ?? 0, rss: process.memoryUsage().rss };
}

/** Trains `steps` steps, measuring after `warmup`; keeps a `leakBytes` tensor per step when asked. */
export async function soak(steps: number, warmup: number, leakBytes: number, gc: () => void): Promise<SoakReport> {
  const started = Date.now();
  const model = new NATDenoiser({ inChannels: 1, embedDim: 16, numHeads: 2, kernelSize: 3 });
  const init = seededWeights(model, 7);
  model.loadStateDict(init);
  init.forEach((t) => t.dispose());
  const opt = new natten.optim.AdamW(model.parameters(), { lr: 2e-3 });
  const batches = Array.from({ length: 16 }, (_, s) => makeBatch(TASK, 3, s));
  const leaked: natten.Tensor[] = [];
  const losses: number[] = [];
  let warm: SoakPoint = { memory: 0, rss: 0 };
  for (let s = 0; s < steps; s++) {
    const b = batches[s % batches.length];
    const loss = natten.tidy(() => {
      const [x, y] = [natten.tensor(b.noisy, SHAPE), natten.tensor(b.clean, SHAPE)];
      const pred = model.forward(x);
      model.backward(natten.mseLossBackward(1, pred, y).dPred);
      opt.step();
      opt.zeroGrad();
      return natten.mseLoss(pred, y);
    });
    if (leakBytes > 0) leaked.push(natten.zeros([Math.ceil(leakBytes / 4)]));
    // Reading every 50th loss bounds the work queued ahead of the loop, as a training loop's logging does.
    if (s % 50 === 0 || s === steps - 1) losses.push((await loss.toArray())[0]);
    loss.dispose();
    if (s === warmup - 1) warm = await settle(gc);
  }
  const end = await settle(gc);
  leaked.forEach((t) => t.dispose());
  opt.dispose();
  model.dispose();
  const seconds = (Date.now() - started) / 1000;
  return { steps, warmup, leakBytes, seconds, warm, end, firstLoss: losses[0], lastLoss: losses[losses.length - 1] };
}

async function main(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run node with --expose-gc');
  const { values } = parseArgs({
    options: {
      steps: { type: 'string', default: '3000' },
      warmup: { type: 'string', default: '1000' },
      'leak-bytes': { type: 'string', default: '0' },
    },
  });
  const [steps, warmup, leak] = [Number(values.steps), Number(values.warmup), Number(values['leak-bytes'])];
  if (!(Number.isSafeInteger(warmup) && warmup >= 1 && Number.isSafeInteger(steps) && steps > warmup && leak >= 0))
    throw new Error('expected --steps > --warmup >= 1 and --leak-bytes >= 0');
  process.stdout.write(JSON.stringify(await soak(steps, warmup, leak, gc)) + '\n');
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
