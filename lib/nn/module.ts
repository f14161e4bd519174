/**
 * The base of the natten.nn modules (docs/design.md §6 "Modules" and "Training"): parameters with gradients,
 * child modules, the training flag, and the tensors a forward keeps for its backward.
 *
 * A forward in training mode and outside `noGrad` keeps what its backward needs (its inputs as second
 * handles, so the caller may dispose them, and the intermediates the backward reads); a new forward replaces
 * what the previous one kept. `backward(dY)` uses and frees it, returns dX and adds into every parameter's
 * gradient; `zeroGrad()` and `dispose()` free it too.
 */
import { isGradEnabled } from '../grad_mode';
import { NattenError } from '../errors';
import { Tensor, untrack } from '../tensor';
import { type Parameter, ParameterStore } from './parameter';
import { matchStateDict, type LoadStateDictOptions, type StateDict } from './state_dict';

/** The tensors one forward keeps for its backward. */
export class Saved {
  #held: Tensor[] = [];

  /** Keeps t (this record disposes it; an enclosing natten.tidy does not). */
  keep<T extends Tensor>(t: T): T {
    untrack(t);
    this.#held.push(t);
    return t;
  }

  /** Keeps a second handle to t's storage (t stays the caller's). */
  share<T extends Tensor>(t: T): T {
    return this.keep(t.reshape(t.shape) as T);
  }

  /** Whether t is kept. */
  has(t: Tensor): boolean {
    return this.#held.includes(t);
  }

  /** Frees every kept tensor. */
  dispose(): void {
    for (const t of this.#held) t.dispose();
    this.#held = [];
  }
}

/** Why a module holds nothing for a backward. */
type NoSavedReason = 'none' | 'eval' | 'noGrad';

/** A module: parameters (with gradients), children, training flag, the forward's saved tensors. */
export abstract class Module {
  /** Training flag (PyTorch's `module.training`): forwards keep what backward needs only while it is set. */
  training = true;
  /** The module's own parameters. */
  protected readonly params = new ParameterStore();
  #children: [string, Module][] = [];
  #saved: Saved | null = null;
  #why: NoSavedReason = 'none';

  /** The module's name in messages, e.g. `NeighborhoodAttention2D`. */
  protected abstract get label(): string;

  /** Registers `m` as the child `name` (its parameters are then named `name.…`); returns it. */
  protected child<M extends Module>(name: string, m: M): M {
    m.#prefix(`${name}.`);
    this.#children.push([name, m]);
    return m;
  }

  #prefix(p: string): void {
    this.params.prefix(p);
    for (const [, c] of this.#children) c.#prefix(p);
  }

  /** Every parameter of the module and its children, `{ name, value, grad }`, in registration order. */
  *parameters(): IterableIterator<Parameter> {
    yield* this.params.list();
    for (const [, c] of this.#children) yield* c.parameters();
  }

  /** Parameter names (relative to this module, children's as `child.name`) and shapes. */
  get parameterShapes(): Map<string, number[]> {
    const m = new Map<string, number[]>();
    for (const [n, t] of this.params.values()) m.set(n, [...t.shape]);
    for (const [cn, c] of this.#children) for (const [n, s] of c.parameterShapes) m.set(`${cn}.${n}`, s);
    return m;
  }

  /** The parameters by name (as parameterShapes names them): the module's own tensors, not copies. */
  stateDict(): Map<string, Tensor> {
    const m = this.params.values();
    for (const [cn, c] of this.#children) for (const [n, t] of c.stateDict()) m.set(`${cn}.${n}`, t);
    return m;
  }

  /** Loads parameters (each copied into its parameter's device and dtype). One ERR_NATTEN_STATE_DICT error
   * lists every missing, unexpected (when `strict`, the default) and mis-shaped key; nothing is loaded then. */
  loadStateDict(dict: StateDict, opts: LoadStateDictOptions = {}): this {
    const found = matchStateDict(`${this.label}.loadStateDict`, dict, this.parameterShapes, opts.strict ?? true);
    for (const [name, t] of found) this.#assign(name, t);
    return this;
  }

  /** Copies t into parameter `name` (relative to this module). */
  #assign(name: string, t: Tensor): void {
    if (this.params.has(name)) {
      const cur = this.params.get(name);
      this.params.set(name, t.to({ device: cur.device, dtype: cur.dtype }));
      return;
    }
    const [cn, c] = this.#children.find(([n]) => name.startsWith(`${n}.`)) as [string, Module];
    c.#assign(name.slice(cn.length + 1), t);
  }

  /** Sets the training flag of the module and its children (PyTorch's `train(mode)`); leaving training
   * frees what a forward kept. Returns the module. */
  train(mode = true): this {
    this.training = mode;
    if (!mode) this.releaseSaved();
    for (const [, c] of this.#children) c.train(mode);
    return this;
  }

  /** `train(false)`: forwards keep nothing, a backward throws ERR_NATTEN_NO_SAVED_FORWARD. */
  eval(): this {
    return this.train(false);
  }

  /** Frees every parameter's gradient (grad becomes null) and what a forward kept for a backward, here and
   * in the children. */
  zeroGrad(): void {
    this.params.zeroGrad();
    this.releaseSaved();
    for (const [, c] of this.#children) c.zeroGrad();
  }

  /** Frees the parameters, their gradients and the saved tensors; the module cannot run afterwards. */
  dispose(): void {
    this.params.dispose();
    this.releaseSaved();
    for (const [, c] of this.#children) c.dispose();
  }

  /** Starts a forward: a record for the tensors it keeps when it records (training, outside noGrad), else
   * null. Frees what an earlier forward kept. */
  protected beginForward(): Saved | null {
    this.releaseSaved();
    if (!this.training) this.#why = 'eval';
    else if (!isGradEnabled()) this.#why = 'noGrad';
    else return (this.#saved = new Saved());
    return null;
  }

  /** Runs a backward on what the last forward kept, freeing it afterwards (also when body throws). */
  protected withSaved<T>(body: (s: Saved) => T): T {
    const s = this.#saved;
    if (s === null) {
      const why =
        this.#why === 'eval'
          ? 'the last forward ran in eval() mode'
          : this.#why === 'noGrad'
            ? 'the last forward ran inside noGrad()'
            : 'no forward has run since the last backward, zeroGrad() or dispose()';
      throw new NattenError(`${this.label}.backward: nothing to differentiate: ${why}`, 'ERR_NATTEN_NO_SAVED_FORWARD');
    }
    this.#saved = null;
    this.#why = 'none';
    try {
      return body(s);
    } finally {
      s.dispose();
    }
  }

  /** Frees what the last forward kept for a backward. */
  protected releaseSaved(): void {
    this.#saved?.dispose();
    this.#saved = null;
    this.#why = 'none';
  }
}
