/**
 * `node dist/bench/train_step_gpu.js [--device N] [--reps 15] [--calls 100] [--torch FILE] [--out FILE]`:
 * one training step of a NeighborhoodAttention2D layer (B4, 56x56, C256, 8 heads, k7, bf16 parameters and
 * activations) on a GPU: forward, mseLoss against a fixed target, mseLossBackward, module backward (dX and
 * every parameter's gradient, float32 for the bf16 parameters), natten.optim.AdamW step (fp32 master
 * weights), zeroGrad. `--calls` steps are queued back to back, then one synchronize; wall time / calls,
 * median of `--reps` repetitions after two warm-up ones.
 *
 * `--torch FILE`: the JSON of `python bench/train_step_torch.py --json FILE` (the same step in PyTorch:
 * eager linears, torch.compile'd FlexAttention forward and backward, AdamW(fused=True), same card), giving
 * PyTorch's time / ours: `speedupVsTorch`, target >= 1.5.
 */
import * as fs from 'fs';
import * as natten from '../lib';
import { LAYER } from './na_module_gpu';
import { standaloneMain } from './standalone';
import { median, timeQueuedCalls } from './timing';

/** The layer of a measurement (LAYER's fields; a smaller one for a smoke run on the CPU). */
export type TrainStepLayer = Omit<typeof LAYER, 'dtype'> & { dtype: natten.DType };

/** What the PyTorch side writes (bench/train_step_torch.py). */
interface TorchTrainStep {
  torch: string;
  best: { order: string; ms_per_step: number };
}

/** The figures of one run. */
export interface TrainStepResult {
  layer: TrainStepLayer;
  step: string;
  calls: number;
  /** Wall ms per step, `calls` steps queued then one synchronize: median and every repetition. */
  msPerStep: number;
  repsMs: number[];
  /** Host ms per step to enqueue it (median). */
  enqueueMsPerStep: number;
  /** The first step's loss (finite) and whether that step changed the weights. */
  firstLoss: number;
  weightsChanged: boolean;
  torch?: TorchTrainStep;
  speedupVsTorch?: number;
  meets?: { speedupAtLeast1_5: boolean };
}

/** One training step: forward, loss, backward, AdamW step, zeroGrad; returns the loss (caller disposes). */
function trainStep(
  m: natten.nn.NeighborhoodAttention2D,
  opt: natten.optim.AdamW,
  x: natten.Tensor,
  target: natten.Tensor,
): natten.Tensor {
  return natten.tidy(() => {
    const y = m.forward(x);
    m.backward(natten.mseLossBackward(1, y, target).dPred);
    opt.step();
    opt.zeroGrad();
    return natten.mseLoss(y, target); // of the forward's output: queued after the step, computed from y
  });
}

/** Measures the training step of `L` on `device`: checks one step, then times queued steps. */
export async function measureTrainStep(
  L: TrainStepLayer,
  device: natten.DeviceLike,
  calls: number,
  reps: number,
): Promise<TrainStepResult> {
  const at = { device, dtype: L.dtype };
  const m = new natten.nn.NeighborhoodAttention2D({
    embedDim: L.channels,
    numHeads: L.heads,
    kernelSize: L.kernelSize,
    ...at,
  });
  const opt = new natten.optim.AdamW(m.parameters());
  const shape = [L.batch, L.height, L.width, L.channels];
  const [x, target] = [natten.randn(shape, { ...at, seed: 1 }), natten.randn(shape, { ...at, seed: 2 })];
  const proj = (): Promise<ArrayLike<number>> => (m.stateDict().get('proj.weight') as natten.Tensor).toArray();
  const before = await proj();
  const loss = trainStep(m, opt, x, target);
  const firstLoss = (await loss.toArray())[0];
  loss.dispose();
  const after = await proj();
  const weightsChanged = Array.from(after).some((v, i) => v !== before[i]);
  if (!Number.isFinite(firstLoss) || !weightsChanged)
    throw new Error(`the first training step gave loss ${firstLoss}, weights changed: ${weightsChanged}`);
  const timing = await timeQueuedCalls(() => trainStep(m, opt, x, target).dispose(), device, calls, reps);
  [x, target].forEach((t) => t.dispose());
  opt.dispose();
  m.dispose();
  return {
    layer: L,
    step: 'forward + mseLoss + mseLossBackward + backward (dX too) + AdamW (fp32 master weights) + zeroGrad',
    calls,
    msPerStep: median(timing.reps),
    repsMs: timing.reps,
    enqueueMsPerStep: timing.enqueue,
    firstLoss,
    weightsChanged,
  };
}

standaloneMain<TrainStepResult>(
  module,
  'na_module_train_step',
  'NeighborhoodAttention2D B4 56x56 C256 8 heads k7 training step (forward, loss, backward, AdamW) vs PyTorch',
  'bfloat16',
  async (o) => {
    const [calls, reps] = [Number(o.arg('--calls') ?? 100), Number(o.arg('--reps') ?? 15)];
    const torchFile = o.arg('--torch');
    const r = await measureTrainStep(
      { ...LAYER, dtype: 'bfloat16' },
      `cuda:${o.device}` as natten.DeviceLike,
      calls,
      reps,
    );
    if (torchFile) {
      r.torch = JSON.parse(fs.readFileSync(torchFile, 'utf8')) as TorchTrainStep;
      r.speedupVsTorch = r.torch.best.ms_per_step / r.msPerStep;
      r.meets = { speedupAtLeast1_5: r.speedupVsTorch >= 1.5 };
    }
    process.stdout.write(
      `natten-node: ${r.msPerStep.toFixed(4)} ms/step (${calls} queued, median of ${reps}; enqueue ` +
        `${r.enqueueMsPerStep.toFixed(4)} ms/step on the host; first loss ${r.firstLoss.toFixed(5)})\n` +
        (r.torch
          ? `PyTorch ${r.torch.torch} (${r.torch.best.order} order): ${r.torch.best.ms_per_step.toFixed(4)} ms/step; ` +
            `speedup ${r.speedupVsTorch!.toFixed(2)}x (target >= 1.5)\n`
          : ''),
    );
    o.save([r]);
  },
);
