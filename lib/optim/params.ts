/**
 * The parameters an optimizer takes and the gradients a step reads (docs/design.md §6 "Training"): checked
 * once per call, grouped by device and dtype (one multi-tensor native call per group).
 */
import type { DeviceName } from '../device';
import type { DType } from '../dtype';
import { argTypeError, rangeError, typeError } from '../errors';
import type { Parameter } from '../nn/parameter';
import { Tensor } from '../tensor';

/** The dtype of gradients and optimizer state for parameters of dtype d: float64 stays float64, the rest
 * (float32 and the half types, whose updates run on fp32 master weights) use float32. */
export function stateDtype(d: DType): 'float32' | 'float64' {
  return d === 'float64' ? 'float64' : 'float32';
}

/** `params` as an array of distinct parameters with distinct names (an optimizer's constructor). */
export function collectParams(fn: string, params: Iterable<Parameter>): Parameter[] {
  if (
    params === null ||
    typeof params !== 'object' ||
    typeof (params as Iterable<Parameter>)[Symbol.iterator] !== 'function'
  )
    throw argTypeError(`${fn}: params`, 'an iterable of parameters ({name, value, grad})', params);
  const list = Array.from(params);
  if (list.length === 0)
    throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `${fn}: params is empty (nothing to optimize)`);
  const names = new Set<string>();
  for (const [i, p] of list.entries()) {
    if (p === null || typeof p !== 'object')
      throw argTypeError(`${fn}: params[${i}]`, 'a parameter {name, value, grad}', p);
    if (typeof p.name !== 'string' || p.name === '')
      throw argTypeError(`${fn}: params[${i}].name`, 'a non-empty string', p.name);
    if (!(p.value instanceof Tensor)) throw argTypeError(`${fn}: params[${i}].value`, 'a Tensor', p.value);
    if (names.has(p.name))
      throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `${fn}: two parameters are named ${JSON.stringify(p.name)}`);
    names.add(p.name);
  }
  return list;
}

/** Parameters with a gradient, grouped by the value's device and dtype. */
export type GradGroups = Map<string, { device: DeviceName; dtype: DType; params: Parameter[] }>;

/** The parameters of `params` whose grad is not null, each gradient checked against its parameter (a
 * Tensor of its shape and device, float32 for half parameters, else its dtype), grouped by device and dtype. */
export function gradGroups(fn: string, params: readonly Parameter[]): GradGroups {
  const groups: GradGroups = new Map();
  for (const p of params) {
    if (p.grad === null || p.grad === undefined) continue;
    checkGrad(fn, p);
    const v = p.value;
    const key = `${v.device}|${v.dtype}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { device: v.device, dtype: v.dtype, params: [] }));
    g.params.push(p);
  }
  return groups;
}

function checkGrad(fn: string, p: Parameter): void {
  const what = `${fn}: the gradient of ${JSON.stringify(p.name)}`;
  const v = p.value,
    g = p.grad;
  if (!(v instanceof Tensor)) throw argTypeError(`${fn}: ${JSON.stringify(p.name)}.value`, 'a Tensor', v);
  v.handle(`${fn}: parameter ${JSON.stringify(p.name)}`);
  if (!(g instanceof Tensor)) throw argTypeError(what, 'a Tensor or null', g);
  g.handle(what);
  if (g.shape.length !== v.shape.length || g.shape.some((d, i) => d !== v.shape[i]))
    throw rangeError(
      'ERR_NATTEN_INVALID_SHAPE',
      `${what} is [${g.shape.join(', ')}], the parameter is [${v.shape.join(', ')}]`,
    );
  const want = stateDtype(v.dtype);
  if (g.dtype !== want)
    throw typeError('ERR_NATTEN_DTYPE_MISMATCH', `${what} is ${g.dtype}, a ${v.dtype} parameter's gradient is ${want}`);
  if (g.device !== v.device)
    throw typeError('ERR_NATTEN_DEVICE_MISMATCH', `${what} is on ${g.device}, the parameter on ${v.device}`);
}
