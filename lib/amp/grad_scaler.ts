/**
 * natten.amp.GradScaler: dynamic loss scaling for float16 training, PyTorch's torch.amp.GradScaler
 * (docs/design.md §6 "Training"). The scale is a host number (fp32-rounded, as PyTorch's scale tensor); the
 * unscale runs on the gradients' device and flags inf/NaN there; step() reads that flag with an ordinary
 * asynchronous read (the device's queue settles it), so the event loop never waits.
 */
import { native } from '../native';
import { dtypeCode } from '../dtype';
import { argTypeError, NattenError, rangeError } from '../errors';
import { mul } from '../ops/elementwise';
import { boolOption, numberOption } from '../optim/hyper';
import type { Optimizer } from '../optim/optimizer';
import { gradGroups } from '../optim/params';
import { checkOptions } from '../ops/validate';
import { Tensor, untracked, zeros } from '../tensor';

/** Options of {@link GradScaler} (PyTorch's names and defaults, camelCase). */
export interface GradScalerOptions {
  /** The first scale (default 65536). */
  initScale?: number;
  /** Factor the scale grows by after growthInterval steps without inf/NaN (default 2; > 1). */
  growthFactor?: number;
  /** Factor the scale shrinks by after a step with inf/NaN (default 0.5; in (0, 1)). */
  backoffFactor?: number;
  /** Consecutive finite steps before the scale grows (default 2000). */
  growthInterval?: number;
  /** False: scale() and unscale() do nothing and step() just steps (default true). */
  enabled?: boolean;
}

/** The scaler's state (PyTorch's `state_dict()` fields, camelCase). */
export interface GradScalerState {
  scale: number;
  growthFactor: number;
  backoffFactor: number;
  growthInterval: number;
  growthTracker: number;
}

/** Where an optimizer is between two update() calls. */
interface PerOptimizer {
  stage: 'ready' | 'unscaled' | 'stepped';
  /** Resolves to the number of devices whose gradients held inf/NaN; `found` once it has. */
  pending: Promise<number> | null;
  found: number | undefined;
  /** step() has not finished yet. */
  stepping: boolean;
}

const fround = Math.fround;

/** Dynamic loss scaling: `scale(loss)`, backward, `await scaler.step(optimizer)`, `scaler.update()`. */
export class GradScaler {
  #scale: number;
  #growthTracker = 0;
  readonly #growthFactor: number;
  readonly #backoffFactor: number;
  readonly #growthInterval: number;
  readonly #enabled: boolean;
  #perOptimizer = new Map<Optimizer, PerOptimizer>();

  /** A scaler; throws a coded error for bad options. */
  constructor(options: GradScalerOptions = {}) {
    const fn = 'GradScaler';
    checkOptions(fn, options, ['initScale', 'growthFactor', 'backoffFactor', 'growthInterval', 'enabled']);
    this.#scale = fround(numberOption(fn, 'initScale', options.initScale, 65536, { min: 0, minOpen: true }));
    this.#growthFactor = numberOption(fn, 'growthFactor', options.growthFactor, 2, { min: 1, minOpen: true });
    this.#backoffFactor = numberOption(fn, 'backoffFactor', options.backoffFactor, 0.5, {
      min: 0,
      minOpen: true,
      max: 1,
      maxOpen: true,
    });
    this.#growthInterval = numberOption(fn, 'growthInterval', options.growthInterval, 2000, { min: 1 });
    if (!Number.isSafeInteger(this.#growthInterval))
      throw rangeError(
        'ERR_NATTEN_INVALID_ARG_VALUE',
        `${fn}: growthInterval must be an integer, got ${this.#growthInterval}`,
      );
    this.#enabled = boolOption(fn, 'enabled', options.enabled, true);
  }

  /** Whether scaling is on. */
  isEnabled(): boolean {
    return this.#enabled;
  }

  /** The current scale (1 when disabled). */
  getScale(): number {
    return this.#enabled ? this.#scale : 1;
  }

  /** Consecutive steps without inf/NaN since the scale last changed. */
  getGrowthTracker(): number {
    return this.#growthTracker;
  }

  /** `loss * scale` as a new tensor (the loss itself when disabled), or a number times the scale: the factor
   * to scale a loss gradient dY by when the backward starts from dY. */
  scale(loss: Tensor): Tensor;
  scale(loss: number): number;
  scale(loss: Tensor | number): Tensor | number {
    if (typeof loss === 'number') return this.#enabled ? loss * this.#scale : loss;
    if (!(loss instanceof Tensor)) throw argTypeError('GradScaler.scale: loss', 'a Tensor or a number', loss);
    return this.#enabled ? mul(loss, this.#scale) : loss;
  }

  /**
   * Divides the optimizer's gradients by the scale in place (queued on their devices), flagging inf/NaN on
   * each device. At most once per optimizer between two update() calls, and not after its step().
   */
  unscale(optimizer: Optimizer): void {
    if (!this.#enabled) return;
    const st = this.#stateOf(optimizer, 'GradScaler.unscale');
    if (st.stage === 'unscaled')
      throw invalidState(
        'GradScaler.unscale: unscale() has already been called on this optimizer since the last update()',
      );
    if (st.stage === 'stepped') throw invalidState('GradScaler.unscale: unscale() is being called after step()');
    st.pending = this.#unscaleGrads(optimizer);
    st.stage = 'unscaled';
    st.pending.then(
      (n) => (st.found = n),
      () => undefined,
    );
  }

  /**
   * Unscales the gradients (unless unscale() did), waits for the inf/NaN flags without blocking the event
   * loop, and runs `optimizer.step()` when every gradient is finite. Resolves to whether the step ran.
   */
  async step(optimizer: Optimizer): Promise<boolean> {
    if (!this.#enabled) {
      optimizer.step();
      return true;
    }
    const st = this.#stateOf(optimizer, 'GradScaler.step');
    if (st.stage === 'stepped')
      throw invalidState('GradScaler.step: step() has already been called since the last update()');
    if (st.stage === 'ready') this.unscale(optimizer);
    st.stage = 'stepped';
    st.stepping = true;
    try {
      if ((await st.pending!) > 0) return false;
      optimizer.step();
      return true;
    } finally {
      st.stepping = false;
    }
  }

  /**
   * Adjusts the scale from this iteration's inf/NaN flags (PyTorch's rule): any inf/NaN multiplies it by
   * backoffFactor and resets the growth tracker; otherwise the tracker counts up and at growthInterval the
   * scale grows by growthFactor (kept if finite in fp32) and the tracker resets. `newScale` sets the scale
   * instead. Needs the flags read: await step() first.
   */
  update(newScale?: number): void {
    if (!this.#enabled) return;
    if (newScale !== undefined) {
      this.#scale = fround(
        numberOption('GradScaler.update', 'newScale', newScale, undefined, { min: 0, minOpen: true }),
      );
    } else {
      const states = [...this.#perOptimizer.values()];
      if (states.length === 0) throw invalidState('GradScaler.update: no inf checks were recorded prior to update()');
      if (states.some((s) => s.found === undefined || s.stepping))
        throw invalidState('GradScaler.update: the inf/NaN check has not been read yet (await step() before update())');
      this.#applyFound(states.reduce((a, s) => a + s.found!, 0));
    }
    this.#perOptimizer = new Map();
  }

  /** The scale and growth state. */
  stateDict(): GradScalerState {
    return {
      scale: this.#scale,
      growthFactor: this.#growthFactor,
      backoffFactor: this.#backoffFactor,
      growthInterval: this.#growthInterval,
      growthTracker: this.#growthTracker,
    };
  }

  /** Restores the scale and the growth tracker of a {@link stateDict}. */
  loadStateDict(state: GradScalerState): void {
    const fn = 'GradScaler.loadStateDict';
    checkOptions(fn, state, ['scale', 'growthFactor', 'backoffFactor', 'growthInterval', 'growthTracker']);
    this.#scale = fround(numberOption(fn, 'scale', state.scale, undefined, { min: 0, minOpen: true }));
    const tracker = numberOption(fn, 'growthTracker', state.growthTracker, 0, { min: 0 });
    if (!Number.isSafeInteger(tracker))
      throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `${fn}: growthTracker must be an integer, got ${tracker}`);
    this.#growthTracker = tracker;
  }

  #applyFound(found: number): void {
    if (found > 0) {
      this.#scale = fround(this.#scale * this.#backoffFactor);
      this.#growthTracker = 0;
      return;
    }
    const successful = this.#growthTracker + 1;
    if (successful === this.#growthInterval) {
      const grown = fround(this.#scale * this.#growthFactor);
      if (Number.isFinite(grown)) this.#scale = grown;
      this.#growthTracker = 0;
    } else {
      this.#growthTracker = successful;
    }
  }

  #stateOf(optimizer: Optimizer, fn: string): PerOptimizer {
    if (optimizer === null || typeof optimizer !== 'object' || !Array.isArray(optimizer.params))
      throw argTypeError(`${fn}: optimizer`, 'an optimizer of natten.optim', optimizer);
    let st = this.#perOptimizer.get(optimizer);
    if (!st)
      this.#perOptimizer.set(optimizer, (st = { stage: 'ready', pending: null, found: undefined, stepping: false }));
    return st;
  }

  /** Queues the unscale of every gradient (one call per device and dtype) and resolves to the number of
   * devices that flagged inf/NaN. */
  #unscaleGrads(optimizer: Optimizer): Promise<number> {
    const groups = gradGroups('GradScaler.unscale', optimizer.params);
    const inv = fround(1 / this.#scale);
    const flags = new Map<string, Tensor>();
    for (const g of groups.values()) {
      let flag = flags.get(g.device);
      if (!flag) flags.set(g.device, (flag = untracked(() => zeros([1], { device: g.device }))));
      const grads = g.params.map((p) => p.grad!);
      native.unscaleGrads({
        dtype: dtypeCode(grads[0].dtype),
        grads: grads.map((t) => t.handle()),
        numels: grads.map((t) => t.numel),
        invScale: inv,
        foundInf: flag.handle(),
      });
    }
    return Promise.all(
      [...flags.values()].map(async (f) => {
        const v = (await f.toArray())[0];
        f.dispose();
        return v;
      }),
    ).then((vs) => vs.filter((v) => v !== 0).length);
  }
}

function invalidState(message: string): NattenError {
  return new NattenError(message, 'ERR_NATTEN_INVALID_STATE');
}
