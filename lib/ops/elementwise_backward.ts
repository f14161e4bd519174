/**
 * Backward of the element-wise tensor ops (docs/design.md §6 "Training"): `addBackward`, `mulBackward`,
 * `geluBackward`, `layerNormBackward`. Gradients are in the inputs' dtype; the half types compute in fp32 and
 * sums over rows (bias and affine-parameter gradients) accumulate in fp32, in an order fixed by the shape.
 */
import { native } from '../native';
import { dtypeCode } from '../dtype';
import { argTypeError, rangeError } from '../errors';
import { Tensor } from '../tensor';
import { geluApproximation, layerNormArgs, mul, type GeluOptions } from './elementwise';
import { allocOutput, writing } from './problem';
import { sumRows } from './sum_rows';
import { checkSameDtypeDevice, checkShape, tensorArg } from './validate';

const shapeStr = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** Gradients of {@link add}. */
export interface AddGradients {
  /** Shaped like a: a second handle to dOut's storage (dispose each separately). */
  da: Tensor;
  /** Shaped like b: dOut summed over a's leading axes (a handle to dOut's storage when b had a's shape). */
  db: Tensor;
}

/**
 * Backward of {@link add} for `b` of shape `bShape`: `da = dOut`, `db = dOut` summed over the leading axes b
 * was repeated over.
 */
export function addBackward(dOut: Tensor, bShape: readonly number[]): AddGradients {
  const fn = 'addBackward';
  const g = tensorArg(fn, dOut, 'dOut');
  if (!Array.isArray(bShape) || bShape.some((d) => typeof d !== 'number'))
    throw argTypeError(`${fn}: bShape`, 'an array of integers', bShape);
  const lead = g.ndim - bShape.length;
  if (lead < 0 || bShape.some((d, i) => d !== g.shape[lead + i]))
    throw rangeError(
      'ERR_NATTEN_INVALID_SHAPE',
      `${fn}: bShape must be dOut's shape or the shape of its trailing axes (dOut is ${shapeStr(g.shape)}), got ${shapeStr(bShape)}`,
    );
  const cols = bShape.reduce((a, b) => a * b, 1);
  const db = lead === 0 ? g.reshape(bShape) : sumRows(g, cols === 0 ? 0 : g.numel / cols, cols, bShape);
  return { da: g.reshape(g.shape), db };
}

/** Backward of {@link mul} by `scalar`: `dOut * scalar`. */
export function mulBackward(dOut: Tensor, scalar: number): Tensor {
  const g = tensorArg('mulBackward', dOut, 'dOut');
  if (typeof scalar !== 'number') throw argTypeError('mulBackward: scalar', 'a number', scalar);
  return mul(g, scalar);
}

/** Backward of {@link gelu}: `dx = dOut · gelu'(x)`, with the derivative of the form `approximate` names. */
export function geluBackward(dOut: Tensor, x: Tensor, opts: GeluOptions = {}): Tensor {
  const fn = 'geluBackward';
  const g = tensorArg(fn, dOut, 'dOut'),
    t = tensorArg(fn, x, 'x');
  const approx = geluApproximation(fn, opts);
  checkSameDtypeDevice(fn, [
    [t, 'x'],
    [g, 'dOut'],
  ]);
  checkShape(fn, g, 'dOut', t.shape, "x's shape");
  const dx = allocOutput(t.shape, t.dtype, t);
  writing([dx], () =>
    native.geluBackward({
      dtype: dtypeCode(t.dtype),
      numel: t.numel,
      x: t.handle('x'),
      dy: g.handle('dOut'),
      dx: dx.handle(),
      tanh: approx === 'tanh',
    }),
  );
  return dx;
}

/** Gradients of {@link layerNorm}. */
export interface LayerNormGradients {
  /** Shaped like x. */
  dx: Tensor;
  /** `[C]`: present when the forward had a weight. */
  dWeight?: Tensor;
  /** `[C]`: present when the forward had a bias. */
  dBias?: Tensor;
}

/**
 * Backward of {@link layerNorm} from the forward's arguments (the statistics are recomputed from x; only the
 * shape of `bias` is read): dx, and the gradients of the weight (sum over rows of dOut · x̂) and the bias
 * (sum over rows of dOut) when the forward had them.
 */
export function layerNormBackward(
  dOut: Tensor,
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  eps = 1e-5,
): LayerNormGradients {
  const fn = 'layerNormBackward';
  const a = layerNormArgs(fn, x, weight, bias, eps);
  const g = tensorArg(fn, dOut, 'dOut');
  checkSameDtypeDevice(fn, [
    [a.x, 'x'],
    [g, 'dOut'],
  ]);
  checkShape(fn, g, 'dOut', a.x.shape, "x's shape");
  const grads: LayerNormGradients = { dx: allocOutput(a.x.shape, a.x.dtype, a.x) };
  if (a.weight) grads.dWeight = allocOutput([a.cols], a.x.dtype, a.x);
  if (a.bias) grads.dBias = allocOutput([a.cols], a.x.dtype, a.x);
  writing([grads.dx, grads.dWeight, grads.dBias], () =>
    native.layerNormBackward({
      dtype: dtypeCode(a.x.dtype),
      rows: a.rows,
      cols: a.cols,
      x: a.x.handle('x'),
      weight: a.weight ? a.weight.handle('weight') : null,
      dy: g.handle('dOut'),
      dx: grads.dx.handle(),
      dWeight: grads.dWeight ? grads.dWeight.handle() : null,
      dBias: grads.dBias ? grads.dBias.handle() : null,
      eps: a.eps,
    }),
  );
  return grads;
}
