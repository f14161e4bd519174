/**
 * Merging attention outputs computed over disjoint key sets (e.g. a neighborhood pass and a pass over
 * extra tokens), as NATTEN's `merge_attentions`: output = sum_i exp(lse_i - lse) output_i with
 * lse = log(sum_i exp(lse_i)).
 */
import { native } from '../native';
import { dtypeCode, type DType } from '../dtype';
import { argTypeError, rangeError, typeError } from '../errors';
import { Tensor } from '../tensor';
import { allocOutput, writing } from './problem';
import { checkSameDtypeDevice, checkShape, tensorArg } from './validate';

/** A merged attention output. */
export interface MergedAttention<D extends DType = DType> {
  /** [batch, ...spatial, heads, headDimV] */
  output: Tensor<D>;
  /** [batch, ...spatial, heads], float32 */
  lse: Tensor<'float32'>;
}

/**
 * Merges outputs [batch, ...spatial, heads, headDimV] (one dtype and device) with their logsumexps
 * [batch, ...spatial, heads] (float32), as returned by the fused ops with `returnLse: true`.
 */
export function mergeAttentions<D extends DType>(
  outputs: readonly Tensor<D>[],
  lses: readonly Tensor<'float32'>[],
): MergedAttention<D> {
  const fn = 'mergeAttentions';
  if (!Array.isArray(outputs)) throw argTypeError(`${fn}: outputs`, 'an array of tensors', outputs);
  if (!Array.isArray(lses)) throw argTypeError(`${fn}: lses`, 'an array of tensors', lses);
  if (outputs.length < 1 || outputs.length !== lses.length) {
    throw rangeError(
      'ERR_NATTEN_INVALID_ARG_VALUE',
      `${fn}: outputs and lses must be non-empty arrays of equal length, got ${outputs.length} and ${lses.length}`,
    );
  }
  const outs = outputs.map((o, i) => tensorArg(fn, o, `outputs[${i}]`));
  const ls = lses.map((l, i) => tensorArg(fn, l, `lses[${i}]`));
  const ref = outs[0];
  if (ref.shape.length < 3) {
    throw rangeError(
      'ERR_NATTEN_INVALID_SHAPE',
      `${fn}: outputs[0] must be [batch, ...spatial, heads, headDimV], got shape [${ref.shape.join(', ')}]`,
    );
  }
  const lseShape = ref.shape.slice(0, -1);
  outs.forEach((o, i) => checkShape(fn, o, `outputs[${i}]`, ref.shape, 'the shape of outputs[0]'));
  checkSameDtypeDevice(
    fn,
    outs.map((o, i) => [o, `outputs[${i}]`] as const),
  );
  ls.forEach((l, i) => {
    checkShape(fn, l, `lses[${i}]`, lseShape, '[batch, ...spatial, heads]');
    if (l.dtype !== 'float32')
      throw typeError('ERR_NATTEN_DTYPE_MISMATCH', `${fn}: lses[${i}] must be float32, got ${l.dtype}`);
    if (l.device !== ref.device)
      throw typeError(
        'ERR_NATTEN_DEVICE_MISMATCH',
        `${fn}: lses[${i}] is on ${l.device} but outputs[0] is on ${ref.device}`,
      );
  });
  const dv = ref.shape[ref.shape.length - 1];
  const rows = ref.numel / dv;
  const output = allocOutput(ref.shape, ref.dtype, ref);
  const lse = allocOutput(lseShape, 'float32', ref);
  writing([output, lse], () =>
    native.mergeAttentions({
      dtype: dtypeCode(ref.dtype),
      rows,
      headDimV: dv,
      outputs: outs.map((o, i) => o.handle(`outputs[${i}]`)),
      lses: ls.map((l, i) => l.handle(`lses[${i}]`)),
      output: output.handle(),
      lse: lse.handle(),
    }),
  );
  return { output: output as Tensor<D>, lse };
}
