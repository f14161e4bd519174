/**
 * Helpers for the CPU engine / API tests: random NA problems, moving data between natten tensors and the
 * fp64 oracle's tensors (the oracle always sees the values as rounded to the tested dtype), and
 * tolerance checks by dtype (docs/design.md §8).
 */
import * as natten from '../../lib';
import * as oracle from '../oracle';

export type Dtype = 'float32' | 'float16' | 'bfloat16' | 'float64';

/** Output, gradient and LSE tolerances (absolute, rtol 0) per dtype. float64 computes in float64 (1e-12);
 * its LSE is float32 like every dtype's (docs/design.md §5), so it is held to float32 rounding. */
export const TOL: Record<Dtype, { out: number; grad: number; lse: number }> = {
  float64: { out: 1e-12, grad: 1e-12, lse: 1e-5 },
  float32: { out: 1e-4, grad: 2e-4, lse: 1e-4 },
  float16: { out: 1e-2, grad: 2e-2, lse: 1e-2 },
  bfloat16: { out: 5e-2, grad: 8e-2, lse: 5e-2 },
};

/** A natten tensor from oracle data, and the oracle tensor holding exactly its (dtype-rounded) values. */
export function pair(o: oracle.Tensor, dtype: Dtype): { t: natten.Tensor; o: oracle.Tensor } {
  const t = natten.tensor(Float64Array.from(o.data), o.shape, { dtype });
  return { t, o: { data: Float64Array.from(t.toArraySync()), shape: [...o.shape] } };
}

/** The oracle tensor of a natten tensor. */
export async function toOracle(t: natten.Tensor): Promise<oracle.Tensor> {
  return { data: Float64Array.from(await t.toArray()), shape: [...t.shape] };
}

/** Largest |a - e| over finite expectations; NaN anywhere in a (e.g. a poisoned element left unwritten) is Infinity. */
export function maxErr(a: ArrayLike<number>, e: ArrayLike<number>): number {
  if (a.length !== e.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i],
      y = e[i];
    if (Number.isNaN(x)) return Infinity;
    if (y === -Infinity || y === Infinity) {
      if (x !== y) return Infinity;
      continue;
    }
    const d = Math.abs(x - y);
    if (!(d <= m)) m = d;
  }
  return m;
}

/** Seeded uniform integer in [lo, hi]. */
export function randint(rng: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/** A random window problem: spatial sizes and per-axis kernel/stride/dilation/causal that satisfy docs/design.md §5. */
export interface RandomWindow {
  spatial: number[];
  kernelSize: number[];
  stride: number[];
  dilation: number[];
  isCausal: boolean[];
}

/** Draws a window problem with `dims` axes, lengths up to maxL (dense k = L sometimes, L mod d != 0 often). */
export function randomWindow(rng: () => number, dims: number, maxL: number): RandomWindow {
  const w: RandomWindow = { spatial: [], kernelSize: [], stride: [], dilation: [], isCausal: [] };
  for (let a = 0; a < dims; a++) {
    const L = randint(rng, 2, maxL);
    let d = rng() < 0.3 ? randint(rng, 2, 3) : 1;
    if (2 * d > L) d = 1;
    const kmax = Math.floor(L / d);
    const k = rng() < 0.12 ? kmax : randint(rng, 2, kmax);
    const s = rng() < 0.35 ? randint(rng, 1, k) : 1;
    w.spatial.push(L);
    w.kernelSize.push(k);
    w.dilation.push(d);
    w.stride.push(s);
    w.isCausal.push(rng() < 0.3);
  }
  return w;
}

/** Window options of a RandomWindow. */
export function windowOpts(w: RandomWindow): oracle.NAOptions {
  return { kernelSize: w.kernelSize, stride: w.stride, dilation: w.dilation, isCausal: w.isCausal };
}

/** Batch, heads, head dims, extra keys and scale of a fused NA case ([B, ...spatial, H, D] layout). */
export interface FusedSizes {
  B: number;
  H: number;
  Hkv: number;
  D: number;
  Dv: number;
  nExtra: number;
  scale?: number;
}

/** A RandomWindow's fields for caseName: L, k, s, d, causal (0/1). */
export function windowFields(w: RandomWindow): Record<string, unknown> {
  return { L: w.spatial, k: w.kernelSize, s: w.stride, d: w.dilation, causal: w.isCausal.map(Number) };
}

/** Short description of a case for failure messages. */
export function caseName(parts: Record<string, unknown>): string {
  return Object.entries(parts)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(',')}]` : String(v)}`)
    .join(' ');
}
