/** Softmax over the last axis (fp32 math, float64 math for float64; -Infinity entries give 0, a row of only -Infinity gives zeros). */
import { native } from '../native';
import { dtypeCode, type DType } from '../dtype';
import { rangeError } from '../errors';
import { Tensor } from '../tensor';
import { allocOutput } from './problem';
import { checkSameDtypeDevice, checkShape, tensorArg } from './validate';

function rowsCols(fn: string, t: Tensor, name: string): [number, number] {
  if (t.shape.length < 1)
    throw rangeError('ERR_NATTEN_INVALID_SHAPE', `${fn}: ${name} must have at least one axis, got a scalar`);
  const cols = t.shape[t.shape.length - 1];
  return [cols === 0 ? 0 : t.numel / cols, cols];
}

/**
 * Softmax of t over its last axis (a new tensor of the same shape and dtype). -Infinity entries give 0 and a
 * row of only -Infinity gives zeros (PyTorch gives NaN there; NA windows never produce such a row: every
 * query sees at least one key). A NaN anywhere in a row makes the whole row NaN, -Infinity entries
 * included, and so does +Infinity (exp(inf - inf) is NaN), as in PyTorch.
 */
export function softmax<D extends DType>(t: Tensor<D>): Tensor<D> {
  const x = tensorArg('softmax', t, 't');
  const [rows, cols] = rowsCols('softmax', x, 't');
  const y = allocOutput(x.shape, x.dtype, x);
  native.softmax({ dtype: dtypeCode(x.dtype), rows, cols, x: x.handle('t'), y: y.handle() });
  return y as Tensor<D>;
}

/**
 * Backward of {@link softmax}: dx = y * (dy - sum(y * dy)) over the last axis, from the softmax output y.
 * Entries with y == 0 (masked ones) give exactly 0 and take no part in the sum, whatever dy holds there; a
 * NaN row of y (the softmax of a row holding a NaN) gives a NaN row.
 */
export function softmaxBackward<D extends DType>(dy: Tensor<D>, y: Tensor<D>): Tensor<D> {
  const fn = 'softmaxBackward';
  const g = tensorArg(fn, dy, 'dy'),
    out = tensorArg(fn, y, 'y');
  checkShape(fn, g, 'dy', out.shape, 'the shape of y');
  checkSameDtypeDevice(fn, [
    [out, 'y'],
    [g, 'dy'],
  ]);
  const [rows, cols] = rowsCols(fn, out, 'y');
  const dx = allocOutput(out.shape, out.dtype, out);
  native.softmaxBackward({
    dtype: dtypeCode(out.dtype),
    rows,
    cols,
    dy: g.handle('dy'),
    y: out.handle('y'),
    dx: dx.handle(),
  });
  return dx as Tensor<D>;
}
