/**
 * nn.Linear and nn.LayerNorm (docs/design.md §6 "Modules"): PyTorch's modules of the same names (parameters
 * `weight`, `bias`), with backward.
 */
import { deviceIndex, deviceName, type DeviceLike, type DeviceName } from '../device';
import type { DType } from '../dtype';
import { argTypeError } from '../errors';
import { checkDtype, randn, tensor, Tensor, zeros } from '../tensor';
import { mul, layerNorm } from '../ops/elementwise';
import { layerNormBackward } from '../ops/elementwise_backward';
import { linear } from '../ops/linear';
import { linearBackward } from '../ops/linear_backward';
import { checkShape, tensorArg } from '../ops/validate';
import { Module, type Saved } from './module';

/** Device and dtype of a module's parameters. */
export interface ModulePlacement {
  /** Device of the parameters (default 'cpu'). */
  device?: DeviceLike;
  /** Dtype of the parameters and of the inputs forward takes (default 'float32'). */
  dtype?: DType;
}

function placement(fn: string, o: ModulePlacement): { device: DeviceName; dtype: DType } {
  const dtype = o.dtype ?? 'float32';
  checkDtype(dtype, `${fn}: options.dtype`);
  return { device: deviceName(deviceIndex(o.device ?? 'cpu', `${fn}: options.device`)), dtype };
}

function features(v: unknown, arg: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw argTypeError(arg, 'a positive integer', v);
  return v;
}

/** Options of {@link Linear}. */
export interface LinearOptions extends ModulePlacement {
  inFeatures: number;
  outFeatures: number;
  /** Whether the module has a bias (default true). */
  bias?: boolean;
}

/** `y = x · weightᵀ + bias` over the last axis (PyTorch's `nn.Linear`): weight `[out, in]` (normal, std
 * in^-0.5), bias `[out]` (zeros). */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  #x: Tensor | null = null;

  constructor(opts: LinearOptions) {
    super();
    if (typeof opts !== 'object' || opts === null) throw argTypeError('Linear: options', 'an options object', opts);
    this.inFeatures = features(opts.inFeatures, 'Linear: options.inFeatures');
    this.outFeatures = features(opts.outFeatures, 'Linear: options.outFeatures');
    const o = placement('Linear', opts);
    const w = randn([this.outFeatures, this.inFeatures], o);
    this.params.set('weight', mul(w, this.inFeatures ** -0.5));
    w.dispose();
    if (opts.bias ?? true) this.params.set('bias', zeros([this.outFeatures], o));
  }

  protected get label(): string {
    return 'Linear';
  }

  #bias(): Tensor | null {
    return this.params.has('bias') ? this.params.get('bias') : null;
  }

  /** `[..., in]` -> `[..., out]`. */
  forward(x: Tensor): Tensor {
    const y = linear(x, this.params.get('weight'), this.#bias());
    const s = this.beginForward();
    this.#x = s ? s.share(x) : null;
    return y;
  }

  /** dX for dY `[..., out]`; adds dWeight and dBias into the gradients. */
  backward(dY: Tensor): Tensor {
    const w = this.params.get('weight');
    return this.withSaved(() => {
      const g = linearBackward(dY, this.#x as Tensor, w, this.#bias());
      this.params.accumulate('weight', g.dWeight);
      if (g.dBias) this.params.accumulate('bias', g.dBias);
      return g.dx;
    });
  }
}

/** Options of {@link LayerNorm}. */
export interface LayerNormOptions extends ModulePlacement {
  /** C: the length of the last axis. */
  normalizedShape: number;
  /** Epsilon inside the square root (default 1e-5). */
  eps?: number;
  /** Whether the module has `weight` (ones) and `bias` (zeros) (default true). */
  elementwiseAffine?: boolean;
}

/** Layer normalisation over the last axis (PyTorch's `nn.LayerNorm` with `normalized_shape = [C]`). */
export class LayerNorm extends Module {
  readonly normalizedShape: number;
  readonly eps: number;
  #x: Tensor | null = null;

  constructor(opts: LayerNormOptions) {
    super();
    if (typeof opts !== 'object' || opts === null) throw argTypeError('LayerNorm: options', 'an options object', opts);
    const C = features(opts.normalizedShape, 'LayerNorm: options.normalizedShape');
    this.normalizedShape = C;
    this.eps = opts.eps ?? 1e-5;
    const o = placement('LayerNorm', opts);
    if (opts.elementwiseAffine ?? true) {
      this.params.set('weight', tensor(new Float64Array(C).fill(1), [C], o));
      this.params.set('bias', zeros([C], o));
    }
  }

  protected get label(): string {
    return 'LayerNorm';
  }

  #p(name: string): Tensor | null {
    return this.params.has(name) ? this.params.get(name) : null;
  }

  /** x `[..., C]` normalised over its last axis. */
  forward(x: Tensor): Tensor {
    const y = layerNorm(x, this.#p('weight'), this.#p('bias'), this.eps);
    const s: Saved | null = this.beginForward();
    this.#x = s ? s.share(x) : null;
    return y;
  }

  /** dX for dY (x's shape); adds dWeight and dBias into the gradients. */
  backward(dY: Tensor): Tensor {
    return this.withSaved(() => {
      const x = this.#x as Tensor;
      checkShape('LayerNorm.backward', tensorArg('LayerNorm.backward', dY, 'dY'), 'dY', x.shape, "the input's shape");
      const g = layerNormBackward(dY, x, this.#p('weight'), this.#p('bias'), this.eps);
      if (g.dWeight) this.params.accumulate('weight', g.dWeight);
      if (g.dBias) this.params.accumulate('bias', g.dBias);
      return g.dx;
    });
  }
}
