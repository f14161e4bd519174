/**
 * A trainable tensor (docs/design.md §6 "Training"): what `module.parameters()` yields and what the
 * optimizers of natten.optim update.
 */
import type { Tensor } from '../tensor';

/** A named parameter, its value and its accumulated gradient. */
export interface Parameter {
  /** The parameter's name in its module's state dict (e.g. `qkv.weight`). */
  name: string;
  /** The parameter tensor; optimizers update it in place. */
  value: Tensor;
  /** Its gradient, or null when none has been accumulated: float32 for half-precision parameters, else the
   * parameter's dtype; on the parameter's device, of its shape. */
  grad: Tensor | null;
}
