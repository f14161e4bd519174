/**
 * The high-level neighborhood attention on the fused layout [batch, ...spatial, heads, headDim]: the
 * fused op when {@link useFusedNA} is on (the default), otherwise NATTEN's unfused chain
 * QK -> scale -> softmax -> AV on the [batch, heads, ...spatial, headDim] layout, with the permutes (and
 * GQA head repetition) around it. Both give the same result up to rounding.
 */
import { isFusedNAEnabled } from '../context';
import type { DType } from '../dtype';
import { Tensor } from '../tensor';
import { fusedForward, NAOptions, validateFused } from './fused';
import { scaled, toFused, toUnfused } from './layout';
import { softmax } from './softmax';
import { na1dAV, na1dQK, na2dAV, na2dQK, na3dAV, na3dQK } from './unfused';
import { scaleArg } from './validate';

/** Options of `neighborhoodAttention1d/2d/3d`: those of the fused ops without `returnLse`. */
export type NeighborhoodAttentionOptions = Omit<NAOptions, 'returnLse'>;

const QK = [na1dQK, na2dQK, na3dQK];
const AV = [na1dAV, na2dAV, na3dAV];

function unfusedChain(dims: number, q: Tensor, k: Tensor, v: Tensor, opts: NeighborhoodAttentionOptions): Tensor {
  const heads = q.shape[dims + 1];
  const window = { kernelSize: opts.kernelSize, dilation: opts.dilation, stride: opts.stride, isCausal: opts.isCausal };
  const made: Tensor[] = [];
  const keep = <T extends Tensor>(t: T): T => {
    made.push(t);
    return t;
  };
  try {
    const qu = keep(toUnfused(q, heads)),
      ku = keep(toUnfused(k, heads)),
      vu = keep(toUnfused(v, heads));
    const eku = opts.additionalKeys ? keep(toUnfused(opts.additionalKeys, heads)) : undefined;
    const evu = opts.additionalValues ? keep(toUnfused(opts.additionalValues, heads)) : undefined;
    const attn = keep(QK[dims - 1](qu, ku, { ...window, additionalKeys: eku }));
    const probs = keep(softmax(keep(scaled(attn, scaleArg('neighborhoodAttention', opts.scale, q.shape[dims + 2])))));
    const out = keep(AV[dims - 1](probs, vu, { ...window, additionalValues: evu }));
    return toFused(out, heads);
  } finally {
    for (const t of made) t.dispose();
  }
}

function attention(
  fn: string,
  dims: number,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: NeighborhoodAttentionOptions,
): Tensor {
  if (isFusedNAEnabled()) return fusedForward(fn, dims, q, k, v, { ...opts, returnLse: false }) as Tensor;
  // Same checks (and messages) as the fused path, then the chain on valid input.
  validateFused(fn, dims, q, k, v, opts);
  return unfusedChain(dims, q, k, v, opts);
}

/** 1-D neighborhood attention on [batch, X, heads, headDim] (fused or unfused per {@link useFusedNA}). */
export function neighborhoodAttention1d<D extends DType>(
  q: Tensor<D>,
  k: Tensor<D>,
  v: Tensor<D>,
  opts: NeighborhoodAttentionOptions,
): Tensor<D> {
  return <Tensor<D>>attention('neighborhoodAttention1d', 1, q, k, v, opts);
}

/** 2-D neighborhood attention on [batch, X, Y, heads, headDim]. */
export function neighborhoodAttention2d<D extends DType>(
  q: Tensor<D>,
  k: Tensor<D>,
  v: Tensor<D>,
  opts: NeighborhoodAttentionOptions,
): Tensor<D> {
  return <Tensor<D>>attention('neighborhoodAttention2d', 2, q, k, v, opts);
}

/** 3-D neighborhood attention on [batch, X, Y, Z, heads, headDim]. */
export function neighborhoodAttention3d<D extends DType>(
  q: Tensor<D>,
  k: Tensor<D>,
  v: Tensor<D>,
  opts: NeighborhoodAttentionOptions,
): Tensor<D> {
  return <Tensor<D>>attention('neighborhoodAttention3d', 3, q, k, v, opts);
}
