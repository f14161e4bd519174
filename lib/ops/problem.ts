/**
 * Glue between the validated op arguments and the native bindings: the problem object, output
 * allocation on the inputs' device (poisoned with NaN when the debug switch is on), dtype codes.
 * @internal
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
  const h = native.empty(dev, code, n);
  if (isPoisonOutputsEnabled()) native.fill(h, code, n, NaN);
  return new Tensor(h, shape, dtype, like.device);
}

/** The handle of an optional tensor, or null. */
export function handleOrNull(t: Tensor | undefined, name: string): StorageHandle | null {
  return t === undefined ? null : t.handle(name);
}

/** Product of a list of sizes. */
export function prod(xs: readonly number[]): number {
  return xs.reduce((a, b) => a * b, 1);
}
