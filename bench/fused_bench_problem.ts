/**
 * What the fused forward and backward benchmarks share for one problem: its native problem object,
 * useful FLOP/s of a timed step, and bf16 device tensors (q, k, v, dOut, output, lse) held until
 * dispose().
 */
import * as natten from '../lib';
import { dtypeCode } from '../lib/dtype';
import type { NativeProblem, StorageHandle } from '../lib/native';
import { type CudaBenchProblem, forwardFlops, type TimedStep } from './cuda_unfused';

/** The dtype of the fused benchmarks. */
export const FUSED_BENCH_DTYPE = 'bfloat16';

/** One benchmark problem on one device, with the tensors its steps read and write. */
export class FusedBenchProblem {
  readonly dev: `cuda:${number}`;
  readonly code = dtypeCode(FUSED_BENCH_DTYPE);
  readonly dims: number;
  readonly problem: NativeProblem;
  /** Q's shape [batch, ...spatial, heads, headDim] (also k, v, dOut, output and the gradients). */
  readonly shape: number[];
  private readonly held: natten.Tensor[] = [];

  /** `flopScale`: useful FLOPs of a step over the forward's (1 forward, 2.5 backward). */
  constructor(
    device: number,
    readonly p: CudaBenchProblem,
    private readonly flopScale: number,
  ) {
    this.dev = `cuda:${device}`;
    this.dims = p.spatial.length;
    this.problem = {
      dims: this.dims,
      batch: p.batch,
      heads: p.heads,
      headDim: p.headDim,
      length: p.spatial,
      kernel: p.kernel,
    };
    this.shape = [p.batch, ...p.spatial, p.heads, p.headDim];
  }

  /** A timed step as milliseconds and useful TFLOP/s. */
  step(ms: number): TimedStep {
    return { ms, tflops: (this.flopScale * forwardFlops(this.p)) / (ms * 1e-3) / 1e12 };
  }

  /** A random tensor of Q's shape (seeded), held until dispose(). */
  randn(seed: number): StorageHandle {
    return this.keep(natten.randn(this.shape, { dtype: FUSED_BENCH_DTYPE, device: this.dev, seed }));
  }

  /** An uninitialised tensor of Q's shape, held until dispose(). */
  empty(): StorageHandle {
    return this.keep(natten.empty(this.shape, { dtype: FUSED_BENCH_DTYPE, device: this.dev }));
  }

  /** An uninitialised float32 LSE [batch, ...spatial, heads], held until dispose(). */
  lse(): StorageHandle {
    const shape = [this.p.batch, ...this.p.spatial, this.p.heads];
    return this.keep(natten.empty(shape, { dtype: 'float32', device: this.dev }));
  }

  /** Frees every tensor made here. */
  dispose(): void {
    for (const t of this.held) t.dispose();
    this.held.length = 0;
  }

  private keep(t: natten.Tensor): StorageHandle {
    this.held.push(t);
    return t.handle();
  }
}
