/**
 * Column sums: the gradient of a tensor broadcast over rows (a bias, add's b). fp32 accumulation (float64 in
 * float64) in an order fixed by the shape, so the result is deterministic.
 * Internal: lib/index.ts does not export this module.
 */
import { native } from '../native';
import { dtypeCode } from '../dtype';
import { Tensor } from '../tensor';
import { allocOutput, writing } from './problem';

/** out[c] = sum over r of x[r, c], x read as [rows, cols]; returns a new tensor of `shape` (cols elements). */
export function sumRows(x: Tensor, rows: number, cols: number, shape: readonly number[]): Tensor {
  const out = allocOutput(shape, x.dtype, x);
  writing([out], () =>
    native.sumRows({ dtype: dtypeCode(x.dtype), rows, cols, x: x.handle('dOut'), out: out.handle() }),
  );
  return out;
}
