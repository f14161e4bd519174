// fp64 references of the tensor ops (docs/design.md §6 "Tensor ops"): the textbook loops, written for
// obviousness. Shapes are assumed valid (the tests pass valid ones).
import { prod, type Tensor } from './util';

/** y[..., o] = sum_i x[..., i] * w[o, i] + bias[o]. */
export function linear(x: Tensor, w: Tensor, bias?: Tensor): Tensor {
  const [outF, inF] = w.shape;
  const rows = prod(x.shape) / inF;
  const data = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outF; o++) {
      let s = bias ? bias.data[o] : 0;
      for (let i = 0; i < inF; i++) s += x.data[r * inF + i] * w.data[o * inF + i];
      data[r * outF + o] = s;
    }
  return { data, shape: [...x.shape.slice(0, -1), outF] };
}

/** c[b] = a[b] · b[b] (b 2-D: the same matrix for every batch entry). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const [m, k] = a.shape.slice(-2),
    n = b.shape[b.shape.length - 1];
  const batch = prod(a.shape.slice(0, -2));
  const bStride = b.shape.length === 2 ? 0 : k * n;
  const data = new Float64Array(batch * m * n);
  for (let q = 0; q < batch; q++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a.data[q * m * k + i * k + p] * b.data[q * bStride + p * n + j];
        data[q * m * n + i * n + j] = s;
      }
  return { data, shape: [...a.shape.slice(0, -2), m, n] };
}

/** a + b, b repeated over a's leading axes. */
export function add(a: Tensor, b: Tensor): Tensor {
  const data = a.data.map((x, i) => x + b.data[i % b.data.length]);
  return { data, shape: [...a.shape] };
}

/** Layer norm over the last axis (biased variance). */
export function layerNorm(x: Tensor, w: Tensor | null, b: Tensor | null, eps: number): Tensor {
  const C = x.shape[x.shape.length - 1];
  const data = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length / C; r++) {
    const row = x.data.subarray(r * C, (r + 1) * C);
    const mean = row.reduce((s, v) => s + v, 0) / C;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / C;
    for (let c = 0; c < C; c++)
      data[r * C + c] = ((row[c] - mean) / Math.sqrt(variance + eps)) * (w ? w.data[c] : 1) + (b ? b.data[c] : 0);
  }
  return { data, shape: [...x.shape] };
}

/** erf by its Maclaurin series (|x| < 6; error below 1e-9 there), ±1 beyond (erfc(6) ~ 2e-17). */
export function erf(x: number): number {
  if (Math.abs(x) >= 6) return Math.sign(x);
  let term = x,
    sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** GELU: x Φ(x), or the tanh approximation. */
export function gelu(x: Tensor, approximate: 'none' | 'tanh'): Tensor {
  const f =
    approximate === 'tanh'
      ? (v: number): number => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))
      : (v: number): number => 0.5 * v * (1 + erf(v / Math.SQRT2));
  return { data: x.data.map(f), shape: [...x.shape] };
}

/** Part [start, start + len) of an axis. */
export function slice(x: Tensor, axis: number, start: number, len: number): Tensor {
  const outer = prod(x.shape.slice(0, axis)),
    inner = prod(x.shape.slice(axis + 1)),
    L = x.shape[axis];
  const data = new Float64Array(outer * len * inner);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < len * inner; i++) data[o * len * inner + i] = x.data[o * L * inner + start * inner + i];
  const shape = [...x.shape];
  shape[axis] = len;
  return { data, shape };
}

/** Concatenation along an axis. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  const outer = prod(xs[0].shape.slice(0, axis)),
    inner = prod(xs[0].shape.slice(axis + 1));
  const out: number[] = [];
  for (let o = 0; o < outer; o++)
    for (const x of xs) {
      const run = x.shape[axis] * inner;
      out.push(...x.data.subarray(o * run, (o + 1) * run));
    }
  const shape = [...xs[0].shape];
  shape[axis] = xs.reduce((s, x) => s + x.shape[axis], 0);
  return { data: Float64Array.from(out), shape };
}
