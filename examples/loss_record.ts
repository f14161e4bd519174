/**
 * The per-step losses of a training run of examples/train_nat.ts or its PyTorch twin (the JSON their
 * --losses option writes), the run's final loss, and the threshold the README states for a bfloat16 run.
 * Imports nothing, so scripts that only read these files (dev/compare_losses.ts) need no native addon.
 */

/** What examples/train_nat.ts --losses holds (examples/train_nat_torch.py writes the same fields). */
export interface LossRecord {
  label: string;
  device: string;
  dtype: string;
  model: { depth: number; channels: number; heads: number; kernel: number; inChannels: number };
  task: { batch: number; height: number; width: number; noise: number | null; data: string | null };
  optimizer: { name: 'AdamW'; lr: number; weightDecay: number; betas: [number, number]; eps: number };
  seconds: number;
  losses: number[];
}

/**
 * What the README promises of a bfloat16 run of the default configuration (200 steps): its final loss
 * (mean of the last 10 steps) is below this, half the best a per-pixel denoiser can do
 * (perPixelBound(0.5) = 0.2), so the model has learned to use each pixel's neighbourhood.
 */
export const BF16_FINAL_LOSS_THRESHOLD = 0.1;

/** Mean of the last `n` values (the final loss, smoothed over batches). */
export function finalLoss(losses: readonly number[], n = 10): number {
  const tail = losses.slice(-n);
  return tail.reduce((s, v) => s + v, 0) / tail.length;
}
