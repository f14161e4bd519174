/**
 * natten.optim.AdamW: PyTorch's torch.optim.AdamW (docs/design.md §6 "Training"): decoupled weight decay
 * (p *= 1 - lr·weightDecay), bias-corrected moments, amsgrad, maximize.
 */
import type { OptimTensorOptions } from '../native';
import type { Parameter } from '../nn/parameter';
import { checkOptions } from '../ops/validate';
import { argTypeError } from '../errors';
import { boolOption, numberOption } from './hyper';
import { Optimizer, UNUSED_HYPER, type BufferSpec } from './optimizer';

/** Options of {@link AdamW} (PyTorch's names and defaults, camelCase). */
export interface AdamWOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Decay rates of the first and second moments (default [0.9, 0.999]; each in [0, 1)). */
  betas?: readonly [number, number];
  /** Added to the denominator (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay (default 1e-2). */
  weightDecay?: number;
  /** Use the running maximum of the second moment (AMSGrad; default false). */
  amsgrad?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/** The resolved options of an AdamW optimizer. */
export interface AdamWHyper {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}

const KEYS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize'];

function resolveAdamW(fn: string, o: unknown = {}): AdamWHyper {
  checkOptions(fn, o, KEYS);
  const betas = o.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2) throw argTypeError(`${fn}: betas`, 'an array of two numbers', betas);
  const beta = { min: 0, max: 1, maxOpen: true };
  return {
    lr: numberOption(fn, 'lr', o.lr, 1e-3, { min: 0 }),
    betas: [
      numberOption(fn, 'betas[0]', betas[0], undefined, beta),
      numberOption(fn, 'betas[1]', betas[1], undefined, beta),
    ],
    eps: numberOption(fn, 'eps', o.eps, 1e-8, { min: 0 }),
    weightDecay: numberOption(fn, 'weightDecay', o.weightDecay, 1e-2, { min: 0 }),
    amsgrad: boolOption(fn, 'amsgrad', o.amsgrad, false),
    maximize: boolOption(fn, 'maximize', o.maximize, false),
  };
}

/**
 * Adam with decoupled weight decay, PyTorch's semantics: p *= 1 - lr·weightDecay; m = β1·m + (1-β1)·g;
 * v = β2·v + (1-β2)·g²; p -= lr/(1-β1^t) · m / (sqrt(v')/sqrt(1-β2^t) + eps), v' = v or, with amsgrad,
 * the running maximum of v. t counts each parameter's own steps. Half-precision parameters are updated on
 * fp32 master weights.
 */
export class AdamW extends Optimizer<AdamWHyper> {
  /** An optimizer over `params` (e.g. `module.parameters()`); throws a coded error for bad options. */
  constructor(params: Iterable<Parameter>, options: AdamWOptions = {}) {
    super('AdamW', params, resolveAdamW('AdamW', options));
  }

  protected resolve(fn: string, raw: Record<string, unknown>): AdamWHyper {
    return resolveAdamW(fn, raw);
  }

  protected nativeHyper(h: AdamWHyper) {
    const { lr, weightDecay, maximize, eps, amsgrad } = h;
    return {
      ...UNUSED_HYPER,
      kind: 1 as const,
      lr,
      weightDecay,
      maximize,
      beta1: h.betas[0],
      beta2: h.betas[1],
      eps,
      amsgrad,
    };
  }

  protected buffers(h: AdamWHyper): readonly BufferSpec[] {
    const b: BufferSpec[] = [
      ['exp_avg', true],
      ['exp_avg_sq', true],
    ];
    if (h.amsgrad) b.push(['max_exp_avg_sq', true]);
    return b;
  }

  protected allBufferNames(): readonly string[] {
    return ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'];
  }

  protected stepFields(
    h: AdamWHyper,
    t: number,
  ): Pick<OptimTensorOptions, 'first' | 'stepSize' | 'biasCorrection2Sqrt'> {
    return {
      first: t === 1,
      stepSize: h.lr / (1 - h.betas[0] ** t),
      biasCorrection2Sqrt: Math.sqrt(1 - h.betas[1] ** t),
    };
  }
}
