/**
 * State dicts of natten.nn modules: PyTorch's parameter names and shapes, loaded with one error that
 * lists every missing, unexpected and mis-shaped key.
 */
import { argTypeError, rangeError } from '../errors';
import { Tensor } from '../tensor';

/** A state dict: parameter name -> tensor (a Map, as `loadSafetensors` returns, or a record). */
export type StateDict = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

/** Options of `loadStateDict`. */
export interface LoadStateDictOptions {
  /** Missing and unexpected keys are errors (default true); mis-shaped keys always are, as in PyTorch. */
  strict?: boolean;
}

const shapeStr = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * Checks `dict` against the expected shapes and returns the tensors to load (expected keys present in
 * the dict). Throws one RangeError (ERR_NATTEN_STATE_DICT) listing every problem.
 */
export function matchStateDict(
  fn: string,
  dict: StateDict,
  expected: ReadonlyMap<string, readonly number[]>,
  strict: boolean,
): Map<string, Tensor> {
  if (typeof dict !== 'object' || dict === null)
    throw argTypeError(`${fn}: stateDict`, 'a Map or record of tensors', dict);
  const entries: [string, unknown][] = dict instanceof Map ? [...dict] : Object.entries(dict);
  const found = new Map<string, Tensor>();
  const problems: string[] = [];
  for (const [name, t] of entries) {
    const shape = expected.get(name);
    if (shape === undefined) {
      if (strict) problems.push(`unexpected key "${name}"`);
      continue;
    }
    if (!(t instanceof Tensor)) throw argTypeError(`${fn}: stateDict["${name}"]`, 'a Tensor', t);
    t.handle(`${fn}: stateDict["${name}"]`);
    if (shapeStr(t.shape) !== shapeStr(shape))
      problems.push(`"${name}" has shape ${shapeStr(t.shape)}, the module's is ${shapeStr(shape)}`);
    else found.set(name, t);
  }
  if (strict)
    for (const name of expected.keys()) if (!entries.some(([n]) => n === name)) problems.push(`missing key "${name}"`);
  if (problems.length > 0) throw rangeError('ERR_NATTEN_STATE_DICT', `${fn}: ${problems.join('; ')}`);
  return found;
}
