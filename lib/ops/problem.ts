/**
 * Glue between the validated op arguments and the native bindings: the problem object, output
 * allocation on the inputs' device (poisoned with NaN when the debug switch is on), dtype codes.
 * Internal: lib/index.ts does not export this module.
 */
import { native, NativeProblem, StorageHandle } from '../native';
import { isPoisonOutputsEnabled } from '../context';
import { deviceIndex } from '../device';
import { DType, dtypeCode } from '../dtype';
import { numelOf, Tensor } from '../tensor';
import type { Window } from './validate';

/** Sizes of a problem besides its window. */
export interface ProblemSizes {
  batch: number;
  heads: number;
  headsKv: number;
  headDim: number;
  headDimV: number;
  spatial: readonly number[];
  nExtra: number;
  scale: number;
  hasRpb: boolean;
}

/** The native problem object. */
export function nativeProblem(s: ProblemSizes, w: Window): NativeProblem {
  return {
    dims: s.spatial.length,
    batch: s.batch,
    heads: s.heads,
    headsKv: s.headsKv,
    headDim: s.headDim,
    headDimV: s.headDimV,
    length: [...s.spatial],
    kernel: w.kernel,
    stride: w.stride,
    dilation: w.dilation,
    causal: w.causal,
    nExtra: s.nExtra,
    scale: s.scale,
    hasRpb: s.hasRpb,
  };
}

/** A new (uninitialised, or NaN-poisoned) tensor on `like`'s device. */
export function allocOutput<D extends DType>(shape: readonly number[], dtype: D, like: Tensor): Tensor<D> {
  const dev = deviceIndex(like.device);
  const code = dtypeCode(dtype);
  const n = numelOf(shape);
  const h = native.empty({ device: dev, dtype: code, numel: n });
  if (isPoisonOutputsEnabled()) native.fill({ dtype: code, numel: n, dst: h, value: NaN });
  return new Tensor(h, shape, dtype, like.device);
}

/** A new output shaped and typed like `t` (a gradient of t), on `on`'s device; undefined when t is. */
export function allocLike(t: Tensor, on: Tensor): Tensor;
export function allocLike(t: Tensor | undefined, on: Tensor): Tensor | undefined;
export function allocLike(t: Tensor | undefined, on: Tensor): Tensor | undefined {
  return t === undefined ? undefined : allocOutput(t.shape, t.dtype, on);
}

/** Runs `op`, an addon call that writes `outputs`, and disposes them when it throws: a call that fails leaves
 * no tensor behind. */
export function writing(outputs: readonly (Tensor | undefined)[], op: () => void): void {
  try {
    op();
  } catch (e) {
    for (const t of outputs) t?.dispose();
    throw e;
  }
}

/** The handle of an optional tensor, or null. */
export function handleOrNull(t: Tensor | undefined, name: string): StorageHandle | null {
  return t === undefined ? null : t.handle(name);
}

/** Product of a list of sizes. */
export function prod(xs: readonly number[]): number {
  return xs.reduce((a, b) => a * b, 1);
}
