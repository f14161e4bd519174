/**
 * natten.optim.SGD: PyTorch's torch.optim.SGD (docs/design.md §6 "Training"): momentum (the buffer starts as
 * the first gradient), dampening, Nesterov momentum, L2 weight decay added to the gradient, maximize.
 */
import type { OptimTensorOptions } from '../native';
import type { Parameter } from '../nn/parameter';
import { checkOptions } from '../ops/validate';
import { rangeError } from '../errors';
import { boolOption, numberOption } from './hyper';
import { Optimizer, UNUSED_HYPER, type BufferSpec } from './optimizer';

/** Options of {@link SGD} (PyTorch's, camelCase). */
export interface SGDOptions {
  /** Learning rate (required, >= 0). */
  lr: number;
  /** Momentum factor (default 0: none). */
  momentum?: number;
  /** Dampening of the momentum (default 0). */
  dampening?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/** The resolved options of an SGD optimizer. */
export type SGDHyper = Required<SGDOptions>;

const KEYS = ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'maximize'];

function resolveSgd(fn: string, o: unknown): SGDHyper {
  checkOptions(fn, o, KEYS);
  const h: SGDHyper = {
    lr: numberOption(fn, 'lr', o.lr, undefined, { min: 0 }),
    momentum: numberOption(fn, 'momentum', o.momentum, 0, { min: 0 }),
    dampening: numberOption(fn, 'dampening', o.dampening, 0, {}),
    weightDecay: numberOption(fn, 'weightDecay', o.weightDecay, 0, { min: 0 }),
    nesterov: boolOption(fn, 'nesterov', o.nesterov, false),
    maximize: boolOption(fn, 'maximize', o.maximize, false),
  };
  if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0))
    throw rangeError(
      'ERR_NATTEN_INVALID_ARG_VALUE',
      `${fn}: nesterov needs momentum > 0 and dampening 0, got momentum ${h.momentum} and dampening ${h.dampening}`,
    );
  return h;
}

/**
 * Stochastic gradient descent with PyTorch's semantics: g = grad (negated with maximize) + weightDecay·p;
 * with momentum, b = g at a parameter's first step, then b = momentum·b + (1 - dampening)·g, and g = b
 * (or g + momentum·b with nesterov); p -= lr·g. Half-precision parameters are updated on fp32 master weights.
 */
export class SGD extends Optimizer<SGDHyper> {
  /** An optimizer over `params` (e.g. `module.parameters()`); throws a coded error for bad options. */
  constructor(params: Iterable<Parameter>, options: SGDOptions) {
    super('SGD', params, resolveSgd('SGD', options));
  }

  protected resolve(fn: string, raw: Record<string, unknown>): SGDHyper {
    return resolveSgd(fn, raw);
  }

  protected nativeHyper(h: SGDHyper) {
    const { lr, weightDecay, maximize, momentum, dampening, nesterov } = h;
    return { ...UNUSED_HYPER, kind: 0 as const, lr, weightDecay, maximize, momentum, dampening, nesterov };
  }

  protected buffers(h: SGDHyper): readonly BufferSpec[] {
    return h.momentum !== 0 ? [['momentum_buffer', false]] : [];
  }

  protected allBufferNames(): readonly string[] {
    return ['momentum_buffer'];
  }

  protected stepFields(
    _h: SGDHyper,
    t: number,
  ): Pick<OptimTensorOptions, 'first' | 'stepSize' | 'biasCorrection2Sqrt'> {
    return { first: t === 1, stepSize: 0, biasCorrection2Sqrt: 1 };
  }
}
