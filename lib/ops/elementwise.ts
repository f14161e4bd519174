/**
 * Element-wise tensor ops (docs/design.md §6 "Tensor ops"): `add` (b the same shape as a, or broadcast over
 * a's leading axes), `mul` by a scalar, `gelu`, and `layerNorm` over the last axis. Half-precision inputs
 * compute in fp32 and round once (PyTorch's behaviour); float64 computes in float64.
 */
import { native } from '../native';
import { dtypeCode } from '../dtype';
import { argTypeError, rangeError } from '../errors';
import { Tensor } from '../tensor';
import { scaled } from './layout';
import { allocOutput, writing } from './problem';
import { checkOptions, checkSameDtypeDevice, optionalTensorArg, tensorArg } from './validate';

const shapeStr = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * `a + b`: b has a's shape, or the shape of a's trailing axes (it is repeated over the leading ones, as a
 * bias `[C]` over `[B, H, W, C]`). Returns a new tensor shaped like a.
 */
export function add(a: Tensor, b: Tensor): Tensor {
  const fn = 'add';
  const x = tensorArg(fn, a, 'a'),
    y = tensorArg(fn, b, 'b');
  checkSameDtypeDevice(fn, [
    [x, 'a'],
    [y, 'b'],
  ]);
  const lead = x.ndim - y.ndim;
  if (lead < 0 || y.shape.some((d, i) => d !== x.shape[lead + i])) {
    throw rangeError(
      'ERR_NATTEN_INVALID_SHAPE',
      `${fn}: b must have a's shape or the shape of its trailing axes (a is ${shapeStr(x.shape)}), got ${shapeStr(y.shape)}`,
    );
  }
  const out = allocOutput(x.shape, x.dtype, x);
  writing([out], () =>
    native.add({
      dtype: dtypeCode(x.dtype),
      numel: x.numel,
      bNumel: y.numel,
      a: x.handle('a'),
      b: y.handle('b'),
      out: out.handle(),
    }),
  );
  return out;
}

/** `t * scalar` (a new tensor; half types multiply in fp32). */
export function mul(t: Tensor, scalar: number): Tensor {
  const x = tensorArg('mul', t, 't');
  if (typeof scalar !== 'number') throw argTypeError('mul: scalar', 'a number', scalar);
  return scaled(x, scalar);
}

/** Options of {@link gelu}. */
export interface GeluOptions {
  /** `'none'` (default): x·Φ(x) with the exact erf; `'tanh'`: the tanh approximation (PyTorch's names). */
  approximate?: 'none' | 'tanh';
}

/** The checked `approximate` option of {@link gelu} (also for its backward). @internal */
export function geluApproximation(fn: string, opts: GeluOptions): 'none' | 'tanh' {
  checkOptions(fn, opts, ['approximate']);
  const approx = opts.approximate ?? 'none';
  if (approx !== 'none' && approx !== 'tanh') throw argTypeError(`${fn}: approximate`, "'none' or 'tanh'", approx);
  return approx;
}

/** GELU element-wise (PyTorch's `gelu`). */
export function gelu(x: Tensor, opts: GeluOptions = {}): Tensor {
  const fn = 'gelu';
  const t = tensorArg(fn, x, 'x');
  const approx = geluApproximation(fn, opts);
  const out = allocOutput(t.shape, t.dtype, t);
  writing([out], () =>
    native.gelu({
      dtype: dtypeCode(t.dtype),
      numel: t.numel,
      x: t.handle('x'),
      out: out.handle(),
      tanh: approx === 'tanh',
    }),
  );
  return out;
}

/** The checked arguments of a layer norm. @internal */
export interface LayerNormArgs {
  x: Tensor;
  weight: Tensor | undefined;
  bias: Tensor | undefined;
  /** Rows and their length C (x's last axis). */
  rows: number;
  cols: number;
  eps: number;
}

/** Checks the arguments of {@link layerNorm} (also for its backward, under that op's name `fn`). @internal */
export function layerNormArgs(fn: string, x: unknown, weight: unknown, bias: unknown, eps: unknown): LayerNormArgs {
  const t = tensorArg(fn, x, 'x');
  const w = optionalTensorArg(fn, weight, 'weight'),
    b = optionalTensorArg(fn, bias, 'bias');
  const named: [Tensor, string][] = [[t, 'x']];
  if (w) named.push([w, 'weight']);
  if (b) named.push([b, 'bias']);
  checkSameDtypeDevice(fn, named);
  if (t.ndim < 1) throw rangeError('ERR_NATTEN_INVALID_SHAPE', `${fn}: x must have at least one axis, got a scalar`);
  const C = t.shape[t.ndim - 1];
  for (const [p, name] of named.slice(1)) {
    if (p.ndim !== 1 || p.shape[0] !== C)
      throw rangeError(
        'ERR_NATTEN_INVALID_SHAPE',
        `${fn}: ${name} must be [${C}] (x's last axis), got ${shapeStr(p.shape)}`,
      );
  }
  if (typeof eps !== 'number') throw argTypeError(`${fn}: eps`, 'a non-negative number', eps);
  if (!(eps >= 0) || !Number.isFinite(eps))
    throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `${fn}: eps must be a finite number >= 0, got ${eps}`);
  return { x: t, weight: w, bias: b, rows: C === 0 ? 0 : t.numel / C, cols: C, eps };
}

/**
 * Layer normalisation over the last axis (PyTorch's `layer_norm` with `normalized_shape = [C]`):
 * `(x - mean) / sqrt(var + eps) * weight + bias`, biased variance. weight and bias are `[C]` or null
 * (1 and 0); eps a non-negative number (default 1e-5).
 */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  const { x: t, weight: w, bias: b, rows, cols: C } = layerNormArgs('layerNorm', x, weight, bias, eps);
  const out = allocOutput(t.shape, t.dtype, t);
  writing([out], () =>
    native.layerNorm({
      dtype: dtypeCode(t.dtype),
      rows,
      cols: C,
      x: t.handle('x'),
      weight: w ? w.handle('weight') : null,
      bias: b ? b.handle('bias') : null,
      out: out.handle(),
      eps,
    }),
  );
  return out;
}
