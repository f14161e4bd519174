/**
 * The toy task of examples/train_nat.ts: denoise a smooth 2-D field. A clean field is a sum of a few
 * random low-frequency sinusoids on an H x W grid (per channel), shifted and scaled to zero mean and unit
 * variance; the input is the field plus Gaussian noise of standard deviation `noise`; the target is the
 * clean field. One pixel alone says little about its clean value (a per-pixel denoiser cannot beat
 * noise² / (1 + noise²) by much, see {@link perPixelBound}); its neighbours say a lot, because the field is
 * smooth. examples/train_nat_torch.py generates the same kind of fields with PyTorch's generator.
 */

/** Shape and difficulty of the task's batches. */
export interface DenoiseTask {
  /** Fields per batch. */
  batch: number;
  height: number;
  width: number;
  /** Channels of a field (1 to 3, each an independent field). */
  channels: number;
  /** Standard deviation of the added noise (the clean field has unit variance). */
  noise: number;
  /** Sinusoids summed per field and channel. */
  waves: number;
  /** Largest frequency, in cycles across the field, per axis. */
  maxFrequency: number;
}

/** Default difficulty: noise 0.5, 4 waves of up to 3 cycles across the field. */
export const TASK_DEFAULTS = { noise: 0.5, waves: 4, maxFrequency: 3 } as const;

/** One batch: noisy inputs and clean targets, both [batch, height, width, channels] row-major. */
export interface DenoiseBatch {
  noisy: Float32Array;
  clean: Float32Array;
}

/**
 * The lowest mean squared error of the best linear denoiser that sees one pixel at a time:
 * noise² / (1 + noise²) for a unit-variance field (0.2 at noise 0.5). A model below it uses its
 * neighbourhood.
 */
export function perPixelBound(noise: number): number {
  return (noise * noise) / (1 + noise * noise);
}

/** A seeded generator of uniform numbers in [0, 1) (mulberry32: 32-bit state, fast, good enough for data). */
export function uniformGenerator(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples from a uniform generator (Box-Muller). */
export function normalGenerator(uniform: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** One clean field of H x W: the sum of `waves` sinusoids, then zero mean and unit variance. */
function cleanField(t: DenoiseTask, uniform: () => number, normal: () => number): Float64Array {
  const f = new Float64Array(t.height * t.width);
  const span = 2 * t.maxFrequency + 1;
  for (let w = 0; w < t.waves; w++) {
    let fy = 0,
      fx = 0;
    // Frequencies in cycles across the field; (0, 0) is a constant, which normalisation removes anyway.
    while (fy === 0 && fx === 0)
      [fy, fx] = [Math.floor(uniform() * (t.maxFrequency + 1)), Math.floor(uniform() * span) - t.maxFrequency];
    const [a, phase] = [normal(), 2 * Math.PI * uniform()];
    for (let y = 0; y < t.height; y++)
      for (let x = 0; x < t.width; x++)
        f[y * t.width + x] += a * Math.sin(2 * Math.PI * ((fy * y) / t.height + (fx * x) / t.width) + phase);
  }
  let mean = 0;
  for (const v of f) mean += v / f.length;
  let variance = 0;
  for (const v of f) variance += (v - mean) ** 2 / f.length;
  const scale = variance > 0 ? 1 / Math.sqrt(variance) : 0;
  return f.map((v) => (v - mean) * scale);
}

/** The batch of step `step` of a run seeded with `seed`: the same (seed, step) always gives the same batch. */
export function makeBatch(t: DenoiseTask, seed: number, step: number): DenoiseBatch {
  const uniform = uniformGenerator((seed * 1000003 + step) >>> 0);
  const normal = normalGenerator(uniform);
  const n = t.batch * t.height * t.width * t.channels;
  const out: DenoiseBatch = { noisy: new Float32Array(n), clean: new Float32Array(n) };
  const pixels = t.height * t.width;
  for (let b = 0; b < t.batch; b++)
    for (let c = 0; c < t.channels; c++) {
      const f = cleanField(t, uniform, normal);
      for (let p = 0; p < pixels; p++) {
        const i = (b * pixels + p) * t.channels + c;
        out.clean[i] = f[p];
        out.noisy[i] = f[p] + t.noise * normal();
      }
    }
  return out;
}
