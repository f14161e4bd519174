/**
 * The key layout of an optimizer's state dict (docs/design.md §6 "Training"): `hyper.<name>` (PyTorch's
 * snake_case names; float64 CPU tensors, booleans as 0/1) and `state.<parameter name>.<field>` (`step`, a
 * float64 CPU scalar; `master`, the fp32 master weights of a half parameter; the algorithm's buffers), and
 * the checks a loaded dict must pass.
 */
import { argTypeError, rangeError, type CodedRangeError } from '../errors';
import type { Parameter } from '../nn/parameter';
import type { TensorDict } from '../safetensors';
import { Tensor } from '../tensor';

/** Hyperparameter values as the dict stores them. */
export type HyperValues = Record<string, number[]>;

/** `weightDecay` -> `weight_decay` (PyTorch's spelling of the option names). */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Resolved options as dict values: numbers as [v], booleans as [0 | 1], arrays as they are. */
export function hyperValues(h: object): HyperValues {
  const out: HyperValues = {};
  for (const [k, v] of Object.entries(h)) {
    out[snakeCase(k)] = Array.isArray(v) ? [...(v as number[])] : [typeof v === 'boolean' ? Number(v) : (v as number)];
  }
  return out;
}

/** Dict values back into raw options shaped like `like` (then checked as a constructor checks them). */
export function optionsFromValues(like: object, v: HyperValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, old] of Object.entries(like)) {
    const x = v[snakeCase(k)];
    out[k] = Array.isArray(old) ? x : typeof old === 'boolean' ? x[0] !== 0 : x[0];
  }
  return out;
}

/** The dict as a Map of live tensors. */
export function dictEntries(fn: string, dict: TensorDict): Map<string, Tensor> {
  if (dict === null || typeof dict !== 'object') throw argTypeError(`${fn}: dict`, 'a Map or record of tensors', dict);
  const entries = dict instanceof Map ? [...dict.entries()] : Object.entries(dict);
  for (const [k, t] of entries) {
    if (!(t instanceof Tensor)) throw argTypeError(`${fn}: dict[${JSON.stringify(k)}]`, 'a Tensor', t);
    t.handle(`${fn}: dict[${JSON.stringify(k)}]`);
  }
  return new Map(entries as [string, Tensor][]);
}

/** A state-dict error listing every problem. */
export function stateDictError(fn: string, problems: readonly string[]): CodedRangeError {
  return rangeError('ERR_NATTEN_STATE_DICT', `${fn}: ${problems.join('; ')}`);
}

/** The dict's entries of one parameter, by field. */
export type ParamEntries = Map<Parameter, Map<string, Tensor>>;

/** What a dict must hold: the hyperparameter names with their lengths, and the fields a parameter's state
 * may have. */
export interface DictLayout {
  hyper: Record<string, number>;
  fields: readonly string[];
}

/**
 * Splits a dict by the layout, collecting every missing, unexpected and mis-shaped key (thrown as one
 * ERR_NATTEN_STATE_DICT error): the hyperparameter tensors by name and the state entries per parameter.
 */
export function splitDict(
  fn: string,
  dict: Map<string, Tensor>,
  params: readonly Parameter[],
  layout: DictLayout,
): { hyper: Map<string, Tensor>; state: ParamEntries } {
  const problems: string[] = [];
  const byName = new Map(params.map((p) => [p.name, p]));
  const hyper = new Map<string, Tensor>();
  const state: ParamEntries = new Map();
  for (const [key, t] of dict) {
    if (key.startsWith('hyper.') && key.slice(6) in layout.hyper) {
      const want = layout.hyper[key.slice(6)];
      if (t.numel !== want) problems.push(`${key} has ${t.numel} elements, expected ${want}`);
      hyper.set(key.slice(6), t);
      continue;
    }
    const dot = key.lastIndexOf('.');
    const p = key.startsWith('state.') && dot > 6 ? byName.get(key.slice(6, dot)) : undefined;
    const field = key.slice(dot + 1);
    if (!p || !layout.fields.includes(field)) {
      problems.push(`unexpected key ${key}`);
      continue;
    }
    const want = field === 'step' ? [] : p.value.shape;
    if (field === 'step' ? t.numel !== 1 : t.shape.join() !== want.join())
      problems.push(`${key} is [${t.shape.join(', ')}], expected [${want.join(', ')}]`);
    if (!state.has(p)) state.set(p, new Map());
    state.get(p)!.set(field, t);
  }
  for (const k of Object.keys(layout.hyper)) if (!hyper.has(k)) problems.push(`missing key hyper.${k}`);
  for (const [p, fields] of state) if (!fields.has('step')) problems.push(`missing key state.${p.name}.step`);
  if (problems.length) throw stateDictError(fn, problems);
  return { hyper, state };
}

/** The numbers a small CPU-readable tensor holds (read without blocking the event loop). */
export async function numbersOf(t: Tensor): Promise<number[]> {
  return Array.from(await t.toArray());
}
