/**
 * Parameters of the natten.nn modules and their gradients (docs/design.md §6 "Training"): each is a
 * `{ name, value, grad }` record; a module's backward adds into `grad` (allocated by the first backward:
 * float32 for half-precision parameters, else the parameter's dtype, on the parameter's device), and
 * `zeroGrad()` frees it (`grad` becomes null, as PyTorch's `zero_grad(set_to_none=True)`).
 */
import { native } from '../native';
import type { DeviceName } from '../device';
import { type DType, dtypeCode, isHalf } from '../dtype';
import { Tensor, untrack } from '../tensor';

/** A module parameter: its full name (as in the module's state dict, `attn.qkv.weight`), its value and its
 * gradient (null until a backward has run, and after zeroGrad). Optimizers update `value` in place. */
export interface Parameter {
  /** The parameter's name in the model's state dict. */
  readonly name: string;
  /** The parameter (owned by the module). */
  value: Tensor;
  /** The accumulated gradient (owned by the module), or null. */
  grad: Tensor | null;
}

/** The dtype a parameter's gradient accumulates in: float32 for the half types, else the parameter's. */
export function gradDtype(dtype: DType): DType {
  return isHalf(dtype) ? 'float32' : dtype;
}

/** A mutable Parameter whose name a parent module may prefix. */
class Param implements Parameter {
  constructor(
    public name: string,
    public value: Tensor,
    public grad: Tensor | null = null,
  ) {}
}

/**
 * The parameters a module owns, by local name, and their gradients (a module's `params`; a subclass of
 * `natten.nn.Module` registers its parameters here).
 */
export class ParameterStore {
  #byName = new Map<string, Param>();
  #prefix = '';

  /** Sets (or replaces, disposing the old value; the gradient is kept) parameter `name`. Values and
   * gradients belong to the store: no enclosing natten.tidy disposes them. */
  set(name: string, value: Tensor): void {
    untrack(value);
    const p = this.#byName.get(name);
    if (p === undefined) {
      this.#byName.set(name, new Param(this.#prefix + name, value));
      return;
    }
    if (p.value !== value) p.value.dispose();
    p.value = value;
  }

  /** The value of parameter `name`. */
  get(name: string): Tensor {
    return (this.#byName.get(name) as Param).value;
  }

  /** Whether parameter `name` exists. */
  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /** Values by local name. */
  values(): Map<string, Tensor> {
    return new Map([...this.#byName].map(([n, p]) => [n, p.value]));
  }

  /** The parameter records. */
  list(): Parameter[] {
    return [...this.#byName.values()];
  }

  /** Puts `prefix` before every name (a parent module registering this one as a child). */
  prefix(prefix: string): void {
    this.#prefix = prefix + this.#prefix;
    for (const p of this.#byName.values()) p.name = prefix + p.name;
  }

  /**
   * Adds `g` (a fresh tensor no one else holds; this store takes it) to the gradient of `name`: the first
   * gradient becomes `grad` (converted to the gradient dtype), later ones are added into it in place.
   */
  accumulate(name: string, g: Tensor): void {
    const p = this.#byName.get(name) as Param;
    const want = gradDtype(p.value.dtype);
    let own = g;
    if (g.dtype !== want) {
      own = g.to({ dtype: want });
      g.dispose();
    }
    if (p.grad === null) {
      untrack(own);
      p.grad = own;
      return;
    }
    try {
      const h = p.grad.handle();
      native.add({ dtype: dtypeCode(want), numel: own.numel, bNumel: own.numel, a: h, b: own.handle(), out: h });
    } finally {
      own.dispose(); // the queued add holds its own reference
    }
  }

  /** Converts every gradient to the gradient dtype of `dtype` on `device` (after `module.to`). */
  convertGrads(dtype: DType, device: DeviceName): void {
    for (const p of this.#byName.values()) {
      if (p.grad === null) continue;
      const moved = p.grad.to({ dtype: gradDtype(dtype), device });
      untrack(moved);
      p.grad.dispose();
      p.grad = moved;
    }
  }

  /** Frees every gradient (grad becomes null). */
  zeroGrad(): void {
    for (const p of this.#byName.values()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees the values and gradients. */
  dispose(): void {
    this.zeroGrad();
    for (const p of this.#byName.values()) p.value.dispose();
  }
}
