/**
 * The mean squared error loss and its gradient (docs/design.md §6 "Training"), PyTorch's `mse_loss` with
 * `reduction='mean'`. The sum accumulates in fp32 on a GPU (one block, a fixed order) and in float64 on the
 * CPU; the result is rounded once to the inputs' dtype.
 */
import { native } from '../native';
import { dtypeCode } from '../dtype';
import { argTypeError, rangeError } from '../errors';
import { Tensor, tensor } from '../tensor';
import { allocOutput, writing } from './problem';
import { checkSameDtypeDevice, matchingPair, tensorArg } from './validate';

/** Checks pred and target: one dtype, one device, one shape. */
function lossArgs(fn: string, pred: unknown, target: unknown): [Tensor, Tensor] {
  return matchingPair(fn, pred, 'pred', target, 'target');
}

/** `mean((pred - target)²)` over every element: a scalar tensor (shape `[]`) in pred's dtype (NaN for empty
 * inputs, as PyTorch). */
export function mseLoss(pred: Tensor, target: Tensor): Tensor {
  const [p, t] = lossArgs('mseLoss', pred, target);
  const out = allocOutput([], p.dtype, p);
  writing([out], () =>
    native.mseLoss({
      dtype: dtypeCode(p.dtype),
      numel: p.numel,
      pred: p.handle('pred'),
      target: t.handle('target'),
      out: out.handle(),
    }),
  );
  return out;
}

/** Gradients of {@link mseLoss}. */
export interface MseLossGradients {
  /** `2 (pred - target) dLoss / numel`, shaped like pred. */
  dPred: Tensor;
  /** `-dPred`. */
  dTarget: Tensor;
}

/** The upstream gradient of a loss: a one-element tensor of pred's dtype and device, or a number (uploaded). */
function lossGradArg(fn: string, dLoss: unknown, like: Tensor): Tensor {
  if (typeof dLoss === 'number') return tensor([dLoss], [], { dtype: like.dtype, device: like.device });
  if (!(dLoss instanceof Tensor)) throw argTypeError(`${fn}: dLoss`, 'a Tensor or a number', dLoss);
  const g = tensorArg(fn, dLoss, 'dLoss');
  checkSameDtypeDevice(fn, [
    [like, 'pred'],
    [g, 'dLoss'],
  ]);
  if (g.numel !== 1)
    throw rangeError(
      'ERR_NATTEN_INVALID_SHAPE',
      `${fn}: dLoss must hold one element, got shape [${g.shape.join(', ')}]`,
    );
  return g.reshape(g.shape);
}

/** Backward of {@link mseLoss} for the upstream gradient `dLoss` (the number 1 for the gradient of the loss itself). */
export function mseLossBackward(dLoss: Tensor | number, pred: Tensor, target: Tensor): MseLossGradients {
  const fn = 'mseLossBackward';
  const [p, t] = lossArgs(fn, pred, target);
  const dy = lossGradArg(fn, dLoss, p);
  try {
    const grads: MseLossGradients = {
      dPred: allocOutput(p.shape, p.dtype, p),
      dTarget: allocOutput(p.shape, p.dtype, p),
    };
    writing([grads.dPred, grads.dTarget], () =>
      native.mseLossBackward({
        dtype: dtypeCode(p.dtype),
        numel: p.numel,
        pred: p.handle('pred'),
        target: t.handle('target'),
        dy: dy.handle('dLoss'),
        dPred: grads.dPred.handle(),
        dTarget: grads.dTarget.handle(),
      }),
    );
    return grads;
  } finally {
    dy.dispose(); // the queued op holds its own reference
  }
}
