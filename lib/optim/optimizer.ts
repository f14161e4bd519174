/**
 * The base of natten.optim's optimizers (docs/design.md §6 "Training"): the parameters, their state (made at
 * a parameter's first step: step count, fp32 master weights of a half parameter, the algorithm's buffers),
 * `step()` (one multi-tensor native call per device and dtype, queued: it never waits for the device),
 * `zeroGrad()`, `stateDict()` / `loadStateDict()` and `dispose()`. SGD and AdamW supply the hyperparameters,
 * the buffers and the per-parameter step fields.
 */
import { native, type OptimStepOptions, type OptimTensorOptions } from '../native';
import { dtypeCode, isHalf, type DType } from '../dtype';
import { NattenError, rangeError, typeError } from '../errors';
import type { DeviceName } from '../device';
import type { Parameter } from '../nn/parameter';
import type { TensorDict } from '../safetensors';
import { tensor, untracked, zeros, empty, type Tensor } from '../tensor';
import { numberOption } from './hyper';
import { collectParams, gradGroups, stateDtype } from './params';
import {
  dictEntries,
  hyperValues,
  numbersOf,
  optionsFromValues,
  splitDict,
  stateDictError,
  type HyperValues,
  type ParamEntries,
} from './state_dict';

/** One parameter's optimizer state. */
interface ParamState {
  /** Steps taken by this parameter. */
  step: number;
  /** The parameter's dtype, device and shape when the state was made. */
  dtype: DType;
  device: DeviceName;
  shape: readonly number[];
  /** fp32 master weights (half-precision parameters only). */
  master: Tensor | null;
  /** The algorithm's buffers by PyTorch's state names, in the order the native step reads them. */
  buffers: Map<string, Tensor>;
}

/** A buffer of the algorithm: its PyTorch state name and whether it starts at zero (false: the first step
 * writes it). */
export type BufferSpec = readonly [name: string, zero: boolean];

/** The native step fields an algorithm does not read (each subclass overrides its own). */
export const UNUSED_HYPER = {
  momentum: 0,
  dampening: 0,
  nesterov: false,
  beta1: 0,
  beta2: 0,
  eps: 0,
  amsgrad: false,
} as const;

/** The common options every optimizer has. */
export interface BaseHyper {
  lr: number;
}

/** An optimizer over a fixed list of parameters (see {@link SGD}, {@link AdamW}). */
export abstract class Optimizer<H extends BaseHyper = BaseHyper> {
  /** The parameters, in the order given. */
  readonly params: readonly Parameter[];
  readonly #name: string;
  #hyper: H;
  readonly #state = new Map<Parameter, ParamState>();
  #loading = false;

  protected constructor(name: string, params: Iterable<Parameter>, hyper: H) {
    this.#name = name;
    this.params = Object.freeze(collectParams(`${name}`, params));
    this.#hyper = Object.freeze({ ...hyper });
  }

  /** The resolved hyperparameters. */
  get options(): Readonly<H> {
    return this.#hyper;
  }

  /** The learning rate (settable between steps, as a scheduler does). */
  get lr(): number {
    return this.#hyper.lr;
  }
  set lr(v: number) {
    const lr = numberOption(`${this.#name}.lr`, 'lr', v, undefined, { min: 0 });
    this.#hyper = Object.freeze({ ...this.#hyper, lr });
  }

  /** Checks raw options as the constructor does and resolves them (used by loadStateDict). */
  protected abstract resolve(fn: string, raw: Record<string, unknown>): H;
  /** The native step's kind and hyperparameters. */
  protected abstract nativeHyper(h: H): Omit<OptimStepOptions, 'dtype' | 'tensors'>;
  /** The buffers of a parameter's state under hyperparameters h. */
  protected abstract buffers(h: H): readonly BufferSpec[];
  /** Every buffer name some hyperparameters give (the state-dict fields besides step and master). */
  protected abstract allBufferNames(): readonly string[];
  /** The native per-parameter fields of step number t (1 for a parameter's first step). */
  protected abstract stepFields(
    h: H,
    t: number,
  ): Pick<OptimTensorOptions, 'first' | 'stepSize' | 'biasCorrection2Sqrt'>;

  /**
   * One update of every parameter whose grad is not null (the others are skipped and keep their state).
   * Checks every gradient first (a coded error changes nothing), then queues one multi-tensor step per device
   * and dtype and returns: the new values are read like any op's results.
   */
  step(): void {
    const fn = `${this.#name}.step`;
    this.#checkIdle(fn);
    const groups = gradGroups(fn, this.params);
    for (const g of groups.values()) for (const p of g.params) this.#checkState(fn, p);
    const hyper = this.nativeHyper(this.#hyper);
    for (const g of groups.values()) {
      const tensors = g.params.map((p) => this.#tensorOptions(p));
      native.optimStep({ dtype: dtypeCode(g.dtype), ...hyper, tensors });
      for (const p of g.params) this.#state.get(p)!.step += 1;
    }
  }

  /** Disposes every parameter's gradient and sets it to null (PyTorch's `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /**
   * The hyperparameters and every parameter's state as tensors (copies, queued now: later steps do not change
   * them; the caller owns and disposes them), named for `saveSafetensors`: `hyper.<name>` (float64 CPU),
   * `state.<parameter>.step` (float64 CPU scalar), `state.<parameter>.master` and the buffers
   * (`state.<parameter>.exp_avg`, ...).
   */
  stateDict(): Map<string, Tensor> {
    this.#checkIdle(`${this.#name}.stateDict`);
    const out = new Map<string, Tensor>();
    for (const [k, v] of Object.entries(hyperValues(this.#hyper)))
      out.set(`hyper.${k}`, tensor(Float64Array.from(v), v.length === 1 ? [] : [v.length], { dtype: 'float64' }));
    for (const p of this.params) {
      const st = this.#state.get(p);
      if (!st) continue;
      out.set(`state.${p.name}.step`, tensor([st.step], [], { dtype: 'float64' }));
      if (st.master) out.set(`state.${p.name}.master`, st.master.to({}));
      for (const [name, b] of st.buffers) out.set(`state.${p.name}.${name}`, b.to({}));
    }
    return out;
  }

  /**
   * Replaces the hyperparameters and the state with a dict's (as {@link stateDict} names them; the dict's
   * tensors are copied into each parameter's device and state dtype and stay the caller's). Missing,
   * unexpected and mis-shaped keys throw one ERR_NATTEN_STATE_DICT error at once; the values are read without
   * blocking, so the promise rejects for bad values (hyperparameters out of range, a buffer the loaded
   * hyperparameters need missing). Nothing changes unless it resolves; step() waits for it (a coded error
   * until then).
   */
  loadStateDict(dict: TensorDict): Promise<void> {
    const fn = `${this.#name}.loadStateDict`;
    this.#checkIdle(fn);
    const entries = dictEntries(fn, dict);
    const layout = { hyper: {} as Record<string, number>, fields: ['step', 'master', ...this.allBufferNames()] };
    for (const [k, v] of Object.entries(hyperValues(this.#hyper))) layout.hyper[k] = v.length;
    const split = splitDict(fn, entries, this.params, layout);
    this.#loading = true;
    return this.#load(fn, split.hyper, split.state).finally(() => {
      this.#loading = false;
    });
  }

  /** Frees the state (master weights and buffers); a later step starts it afresh. */
  dispose(): void {
    for (const st of this.#state.values()) disposeState(st);
    this.#state.clear();
  }

  async #load(fn: string, hyperTensors: Map<string, Tensor>, entries: ParamEntries): Promise<void> {
    const values: HyperValues = {};
    for (const [k, t] of hyperTensors) values[k] = await numbersOf(t);
    const hyper = this.resolve(fn, optionsFromValues(this.#hyper, values));
    const steps = new Map<Parameter, number>();
    for (const [p, fields] of entries) steps.set(p, (await numbersOf(fields.get('step')!))[0]);
    const problems = this.#loadProblems(hyper, entries, steps);
    if (problems.length) throw stateDictError(fn, problems);
    const made = untracked(() => [...entries].map(([p, fields]) => this.#stateFrom(p, fields, steps.get(p)!, hyper)));
    this.dispose();
    for (const [i, p] of [...entries.keys()].entries()) this.#state.set(p, made[i]);
    this.#hyper = Object.freeze({ ...hyper });
  }

  /** What a dict's state lacks or has too much of under hyperparameters h. */
  #loadProblems(h: H, entries: ParamEntries, steps: Map<Parameter, number>): string[] {
    const problems: string[] = [];
    const want = this.buffers(h).map(([name]) => name);
    for (const [p, fields] of entries) {
      const step = steps.get(p)!;
      if (!Number.isSafeInteger(step) || step < 0)
        problems.push(`state.${p.name}.step must be a non-negative integer, got ${step}`);
      const need = [...want, ...(isHalf(p.value.dtype) ? ['master'] : [])];
      for (const f of need) if (!fields.has(f)) problems.push(`missing key state.${p.name}.${f}`);
      for (const f of fields.keys())
        if (f !== 'step' && !need.includes(f)) problems.push(`unexpected key state.${p.name}.${f}`);
    }
    return problems;
  }

  /** A parameter's state from a dict's tensors (copied into its device and state dtype). */
  #stateFrom(p: Parameter, fields: Map<string, Tensor>, step: number, h: H): ParamState {
    const v = p.value;
    const sd = stateDtype(v.dtype);
    const master = fields.get('master')?.to({ device: v.device, dtype: 'float32' }) ?? null;
    const buffers = new Map<string, Tensor>();
    for (const [name] of this.buffers(h)) buffers.set(name, fields.get(name)!.to({ device: v.device, dtype: sd }));
    return { step, dtype: v.dtype, device: v.device, shape: [...v.shape], master, buffers };
  }

  #checkIdle(fn: string): void {
    if (this.#loading)
      throw new NattenError(
        `${fn}: a loadStateDict() is still reading its dict (await it first)`,
        'ERR_NATTEN_INVALID_STATE',
      );
  }

  /** The parameter must still have the dtype, device and shape its state was made for. */
  #checkState(fn: string, p: Parameter): void {
    const st = this.#state.get(p);
    if (!st) return;
    const v = p.value;
    const what = `${fn}: parameter ${JSON.stringify(p.name)} is`;
    const fix = 'its optimizer state was made for';
    if (v.dtype !== st.dtype) throw typeError('ERR_NATTEN_DTYPE_MISMATCH', `${what} ${v.dtype}, ${fix} ${st.dtype}`);
    if (v.device !== st.device)
      throw typeError('ERR_NATTEN_DEVICE_MISMATCH', `${what} on ${v.device}, ${fix} ${st.device}`);
    if (v.shape.join() !== st.shape.join())
      throw rangeError('ERR_NATTEN_INVALID_SHAPE', `${what} [${v.shape.join(', ')}], ${fix} [${st.shape.join(', ')}]`);
  }

  /** The native fields of one parameter's step, its state made first when this is its first step. */
  #tensorOptions(p: Parameter): OptimTensorOptions {
    let st = this.#state.get(p);
    if (!st) {
      st = untracked(() => this.#newState(p));
      this.#state.set(p, st);
    }
    const bufs = [...st.buffers.values()].map((b) => b.handle());
    return {
      numel: p.value.numel,
      param: p.value.handle(),
      grad: p.grad!.handle(),
      master: st.master ? st.master.handle() : null,
      state0: bufs[0] ?? null,
      state1: bufs[1] ?? null,
      state2: bufs[2] ?? null,
      ...this.stepFields(this.#hyper, st.step + 1),
    };
  }

  #newState(p: Parameter): ParamState {
    const v = p.value;
    const opts = { device: v.device, dtype: stateDtype(v.dtype) };
    const buffers = new Map<string, Tensor>();
    for (const [name, zero] of this.buffers(this.#hyper))
      buffers.set(name, zero ? zeros(v.shape, opts) : empty(v.shape, opts));
    const master = isHalf(v.dtype) ? v.to({ dtype: 'float32' }) : null;
    return { step: 0, dtype: v.dtype, device: v.device, shape: [...v.shape], master, buffers };
  }
}

function disposeState(st: ParamState): void {
  st.master?.dispose();
  for (const b of st.buffers.values()) b.dispose();
}
