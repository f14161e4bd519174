/**
 * The autotuner's switch and settings (docs/design.md §6), named as NATTEN's context API in camelCase:
 * `useAutotuner(options | false)` and `isAutotunerEnabled()`. Off by default.
 */
import { argTypeError, rangeError } from '../errors';

/** Options of {@link useAutotuner}. */
export interface AutotunerOptions {
  /** Tune the fused forward (default true). */
  forward?: boolean;
  /** Tune the fused backward (default true). */
  backward?: boolean;
  /** Untimed runs of each candidate before it is timed (default 5). */
  warmupSteps?: number;
  /** Timed runs of each candidate; its time is their mean (default 20). */
  steps?: number;
  /** Time every compiled config of the problem instead of the cost model's best few (default false). */
  thorough?: boolean;
}

/** The settings in force. @internal */
export interface AutotunerSettings {
  forward: boolean;
  backward: boolean;
  warmupSteps: number;
  steps: number;
  thorough: boolean;
}

const DEFAULTS: AutotunerSettings = { forward: true, backward: true, warmupSteps: 5, steps: 20, thorough: false };
const KEYS = Object.keys(DEFAULTS);

let enabled = false;
let settings: AutotunerSettings = { ...DEFAULTS };

function flagOption(o: AutotunerOptions, key: 'forward' | 'backward' | 'thorough'): boolean {
  const v = o[key] ?? DEFAULTS[key];
  if (typeof v !== 'boolean') throw argTypeError(`options.${key}`, 'a boolean', v);
  return v;
}

/** An integer option in [min, max]. @internal */
export function countOption(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number') throw argTypeError(name, 'an integer', v);
  if (!Number.isInteger(v) || v < min || v > max)
    throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `${name} must be an integer from ${min} to ${max}, got ${v}`);
  return v;
}

/** Validated settings from options (absent fields: the defaults). @internal */
export function settingsFrom(o: AutotunerOptions): AutotunerSettings {
  if (typeof o !== 'object' || o === null) throw argTypeError('options', 'an object or false', o);
  const unknown = Object.keys(o).filter((k) => !KEYS.includes(k));
  if (unknown.length)
    throw rangeError(
      'ERR_NATTEN_INVALID_ARG_VALUE',
      `useAutotuner: unknown option ${JSON.stringify(unknown[0])} (options are ${KEYS.join(', ')})`,
    );
  return {
    forward: flagOption(o, 'forward'),
    backward: flagOption(o, 'backward'),
    warmupSteps: countOption('options.warmupSteps', o.warmupSteps ?? DEFAULTS.warmupSteps, 0, 1000),
    steps: countOption('options.steps', o.steps ?? DEFAULTS.steps, 1, 10000),
    thorough: flagOption(o, 'thorough'),
  };
}

/**
 * Turns the autotuner on (`useAutotuner()` or `useAutotuner({...})`) or off (`useAutotuner(false)`). While
 * on, a fused op (`na1d/2d/3d` and their backward, on a GPU with the fused kernels, without explicit tile
 * options) whose problem is not in the tuning cache is tuned before it runs, and tuned problems run
 * their cached config. Process-wide, like the other context switches.
 */
export function useAutotuner(options: AutotunerOptions | boolean = {}): void {
  if (options === false || options === true) {
    enabled = options;
    if (options) settings = { ...DEFAULTS };
    return;
  }
  settings = settingsFrom(options);
  enabled = true;
}

/** True while the autotuner is on. */
export function isAutotunerEnabled(): boolean {
  return enabled;
}

/** The settings in force (those of the last `useAutotuner`). @internal */
export function autotunerSettings(): Readonly<AutotunerSettings> {
  return settings;
}
