/**
 * Layout helpers of the unfused chain: fused [batch, tokens, heads, C] <-> unfused [batch, heads, tokens, C]
 * (repeating key/value heads for GQA, and summing them back for gradients), and scaling.
 * Internal: lib/index.ts does not export this module.
 */
import { native, type LayoutOptions } from '../native';
import { dtypeCode } from '../dtype';
import { Tensor } from '../tensor';
import { allocOutput } from './problem';

/** The sizes of a head-layout permute: `src` holds `sourceHeads` heads, `dst` holds `heads`. */
type PermuteSizes = Pick<LayoutOptions, 'batch' | 'tokens' | 'heads' | 'sourceHeads' | 'channels'>;

/** The addon's options to permute t into out (added to one literal, not spread: see fused.ts nativeOptions). */
function permute(t: Tensor, out: Tensor, sizes: PermuteSizes): LayoutOptions {
  return Object.assign({ dtype: dtypeCode(t.dtype), src: t.handle(), dst: out.handle() }, sizes);
}

/** [B, ...spatial, Hsrc, C] -> [B, H, ...spatial, C], head h reading source head h * Hsrc / H. */
export function toUnfused(t: Tensor, heads: number): Tensor {
  const r = t.shape.length;
  const B = t.shape[0],
    spatial = t.shape.slice(1, r - 2),
    Hs = t.shape[r - 2],
    C = t.shape[r - 1];
  const N = t.numel / (B * Hs * C);
  const out = allocOutput([B, heads, ...spatial, C], t.dtype, t);
  native.fusedToUnfused(permute(t, out, { batch: B, tokens: N, heads, sourceHeads: Hs, channels: C }));
  return out;
}

/** [B, Hsrc, ...spatial, C] -> [B, ...spatial, H, C], summing the source heads that map to each head. */
export function toFused(t: Tensor, heads: number): Tensor {
  const r = t.shape.length;
  const B = t.shape[0],
    Hs = t.shape[1],
    spatial = t.shape.slice(2, r - 1),
    C = t.shape[r - 1];
  const N = t.numel / (B * Hs * C);
  const out = allocOutput([B, ...spatial, heads, C], t.dtype, t);
  native.unfusedToFused(permute(t, out, { batch: B, tokens: N, heads, sourceHeads: Hs, channels: C }));
  return out;
}

/** t * factor (a new tensor). */
export function scaled(t: Tensor, factor: number): Tensor {
  const out = allocOutput(t.shape, t.dtype, t);
  native.scale({ dtype: dtypeCode(t.dtype), numel: t.numel, src: t.handle(), dst: out.handle(), factor });
  return out;
}
