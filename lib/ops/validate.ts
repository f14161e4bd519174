/**
 * Argument checks shared by the neighborhood-attention ops (docs/design.md §7 and NATTEN's checks): tensors alive,
 * of one dtype and device, with consistent ranks and shapes; window parameters per spatial axis
 * (kernel size >= 2, 1 <= stride <= kernel size, dilation >= 1, kernel size * dilation <= length,
 * causal flags), scale, tile shapes. Every error names the function, the argument, what was expected
 * and what was given, and carries an ERR_NATTEN_* code.
 * Internal: lib/index.ts does not export this module.
 */
import { describe, argTypeError, rangeError, typeError } from '../errors';
import { Tensor } from '../tensor';

/** A value for every spatial axis (one number for all, or one per axis). */
export type PerAxis<T> = T | readonly T[];

/** The window options every NA op takes. */
export interface WindowOptions {
  /** Kernel (window) size per spatial axis, >= 2 (odd or even). */
  kernelSize: PerAxis<number>;
  /** Dilation per axis, >= 1 (default 1). */
  dilation?: PerAxis<number>;
  /** Stride per axis, 1 <= stride <= kernelSize (default 1). */
  stride?: PerAxis<number>;
  /** Causal masking per axis (default false). */
  isCausal?: PerAxis<boolean>;
}

/** Window options expanded to one entry per spatial axis. */
export interface Window {
  kernel: number[];
  stride: number[];
  dilation: number[];
  causal: boolean[];
}

/** Option keys of the window. */
export const WINDOW_KEYS = ['kernelSize', 'dilation', 'stride', 'isCausal'] as const;

const shapeStr = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** Throws unless opts is an object whose keys are all in `allowed`. */
export function checkOptions(
  fn: string,
  opts: unknown,
  allowed: readonly string[],
): asserts opts is Record<string, unknown> {
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    throw argTypeError(`${fn}: opts`, 'an options object', opts);
  }
  // Plain loops in these checks: they run on every op call (Object.entries and array callbacks allocate).
  for (const key in opts) {
    if ((opts as Record<string, unknown>)[key] !== undefined && !allowed.includes(key)) {
      throw rangeError(
        'ERR_NATTEN_INVALID_ARG_VALUE',
        `${fn}: unknown option ${JSON.stringify(key)} (expected one of ${allowed.join(', ')})`,
      );
    }
  }
}

/** A live tensor argument (TypeError for anything else, ERR_NATTEN_DISPOSED once disposed). */
export function tensorArg(fn: string, x: unknown, name: string): Tensor {
  if (!(x instanceof Tensor)) throw argTypeError(`${fn}: ${name}`, 'a Tensor', x);
  x.handle(`${fn}: ${name}`);
  return x;
}

/** An optional tensor argument (undefined or null when absent). */
export function optionalTensorArg(fn: string, x: unknown, name: string): Tensor | undefined {
  return x === undefined || x === null ? undefined : tensorArg(fn, x, name);
}

/** Throws unless every tensor shares the first one's dtype and device. */
export function checkSameDtypeDevice(fn: string, tensors: ReadonlyArray<readonly [Tensor, string]>): void {
  const [ref, refName] = tensors[0];
  for (const [t, name] of tensors.slice(1)) {
    if (t.dtype !== ref.dtype) {
      throw typeError(
        'ERR_NATTEN_DTYPE_MISMATCH',
        `${fn}: ${name} is ${t.dtype} but ${refName} is ${ref.dtype} (the tensors of an op must share one dtype)`,
      );
    }
    if (t.device !== ref.device) {
      throw typeError(
        'ERR_NATTEN_DEVICE_MISMATCH',
        `${fn}: ${name} is on ${t.device} but ${refName} is on ${ref.device} (the tensors of an op must be on one device)`,
      );
    }
  }
}

/** Throws unless t has the given rank; `layout` describes the expected axes, e.g. '[batch, X, Y, heads, headDim]'. */
export function checkRank(fn: string, t: Tensor, name: string, rank: number, layout: string): void {
  if (t.shape.length !== rank) {
    throw rangeError(
      'ERR_NATTEN_INVALID_SHAPE',
      `${fn}: ${name} must have rank ${rank} (${layout}), got shape ${shapeStr(t.shape)}`,
    );
  }
  let empty = false;
  for (let i = 0; i < rank; i++) empty = empty || t.shape[i] < 1;
  if (empty) {
    throw rangeError(
      'ERR_NATTEN_INVALID_SHAPE',
      `${fn}: ${name} must have no empty axis (${layout}), got shape ${shapeStr(t.shape)}`,
    );
  }
}

/** Throws unless t's shape equals `expected`. */
export function checkShape(fn: string, t: Tensor, name: string, expected: readonly number[], layout: string): void {
  let same = t.shape.length === expected.length;
  for (let i = 0; same && i < expected.length; i++) same = t.shape[i] === expected[i];
  if (!same) {
    throw rangeError(
      'ERR_NATTEN_INVALID_SHAPE',
      `${fn}: ${name} must have shape ${shapeStr(expected)} (${layout}), got ${shapeStr(t.shape)}`,
    );
  }
}

/** Two tensor arguments of one dtype, device and shape: `second` (named `secondName`) is checked against
 * `first`'s shape. Returns both. */
export function matchingPair(
  fn: string,
  first: unknown,
  firstName: string,
  second: unknown,
  secondName: string,
): [Tensor, Tensor] {
  const a = tensorArg(fn, first, firstName),
    b = tensorArg(fn, second, secondName);
  checkSameDtypeDevice(fn, [
    [a, firstName],
    [b, secondName],
  ]);
  checkShape(fn, b, secondName, a.shape, `${firstName}'s shape`);
  return [a, b];
}

function perAxis<T>(
  fn: string,
  name: string,
  v: PerAxis<T> | undefined,
  dflt: T,
  dims: number,
  kind: 'number' | 'boolean',
): T[] {
  const expected = `${kind === 'number' ? 'an integer' : 'a boolean'} or an array of ${dims} ${kind === 'number' ? 'integers' : 'booleans'}`;
  if (v === undefined) return new Array<T>(dims).fill(dflt);
  if (Array.isArray(v)) {
    if (v.length !== dims) {
      throw rangeError(
        'ERR_NATTEN_INVALID_ARG_VALUE',
        `${fn}: ${name} must have ${dims} entries (one per spatial axis), got ${describe(v)}`,
      );
    }
    v.forEach((x, i) => {
      if (typeof x !== kind)
        throw argTypeError(`${fn}: ${name}[${i}]`, kind === 'number' ? 'an integer' : 'a boolean', x);
    });
    return [...(v as T[])];
  }
  if (typeof v !== kind) throw argTypeError(`${fn}: ${name}`, expected, v);
  return new Array<T>(dims).fill(v as T);
}

/**
 * Expands and checks the window options against the spatial sizes (`spatial[a]` is the length of axis a,
 * `input` names the tensor they come from).
 */
export function resolveWindow(fn: string, opts: WindowOptions, spatial: readonly number[], input: string): Window {
  const dims = spatial.length;
  if (opts.kernelSize === undefined)
    throw argTypeError(`${fn}: kernelSize`, `an integer or an array of ${dims} integers`, undefined);
  const kernel = perAxis(fn, 'kernelSize', opts.kernelSize, 0, dims, 'number');
  const dilation = perAxis(fn, 'dilation', opts.dilation, 1, dims, 'number');
  const stride = perAxis(fn, 'stride', opts.stride, 1, dims, 'number');
  const causal = perAxis(fn, 'isCausal', opts.isCausal, false, dims, 'boolean');
  const at = (name: string, a: number): string =>
    dims > 1 || Array.isArray((opts as unknown as Record<string, unknown>)[name]) ? `${name}[${a}]` : name;
  for (let a = 0; a < dims; a++) {
    const k = kernel[a],
      d = dilation[a],
      s = stride[a];
    if (!Number.isInteger(k) || k < 2) {
      throw rangeError(
        'ERR_NATTEN_INVALID_ARG_VALUE',
        `${fn}: ${at('kernelSize', a)} must be an integer >= 2, got ${k}`,
      );
    }
    if (!Number.isInteger(d) || d < 1) {
      throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `${fn}: ${at('dilation', a)} must be an integer >= 1, got ${d}`);
    }
    if (!Number.isInteger(s) || s < 1) {
      throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `${fn}: ${at('stride', a)} must be an integer >= 1, got ${s}`);
    }
    if (s > k) {
      throw rangeError(
        'ERR_NATTEN_INVALID_ARG_VALUE',
        `${fn}: ${at('stride', a)} must be <= ${at('kernelSize', a)} = ${k}, got ${s}`,
      );
    }
    if (k * d > spatial[a]) {
      throw rangeError(
        'ERR_NATTEN_INVALID_ARG_VALUE',
        `${fn}: ${at('kernelSize', a)} * ${at('dilation', a)} = ${k} * ${d} = ${k * d} must be <= ${input}'s length ${spatial[a]} on spatial axis ${a}`,
      );
    }
  }
  return { kernel, stride, dilation, causal };
}

/** The score scale: a finite number (default headDim^-0.5). */
export function scaleArg(fn: string, v: unknown, headDim: number): number {
  if (v === undefined) return 1 / Math.sqrt(headDim);
  if (typeof v !== 'number') throw argTypeError(`${fn}: scale`, 'a finite number', v);
  if (!Number.isFinite(v))
    throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `${fn}: scale must be a finite number, got ${v}`);
  return v;
}

/** An optional boolean option. */
export function boolArg(fn: string, v: unknown, name: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw argTypeError(`${fn}: ${name}`, 'a boolean', v);
  return v;
}

/** An optional tile shape: `dims` positive integers. */
export function tileShapeArg(fn: string, v: unknown, name: string, dims: number): number[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw argTypeError(`${fn}: ${name}`, `an array of ${dims} positive integers`, v);
  if (v.length !== dims || !v.every((x) => Number.isInteger(x) && x >= 1)) {
    throw rangeError(
      'ERR_NATTEN_INVALID_ARG_VALUE',
      `${fn}: ${name} must be ${dims} positive integers (one per spatial axis), got ${describe(v)}`,
    );
  }
  return [...(v as number[])];
}

/** An optional non-negative integer option. */
export function countArg(fn: string, v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw argTypeError(`${fn}: ${name}`, 'a non-negative integer', v);
  if (!Number.isInteger(v) || v < 0)
    throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `${fn}: ${name} must be a non-negative integer, got ${v}`);
  return v;
}

/** Throws unless the relative positional bias is usable: odd kernel, non-causal on every axis. */
export function checkRpbWindow(fn: string, w: Window): void {
  w.kernel.forEach((k, a) => {
    if (k % 2 === 0)
      throw rangeError(
        'ERR_NATTEN_INVALID_ARG_VALUE',
        `${fn}: rpb needs an odd kernelSize on every axis, got kernelSize ${describe(w.kernel)}`,
      );
    if (w.causal[a])
      throw rangeError(
        'ERR_NATTEN_INVALID_ARG_VALUE',
        `${fn}: rpb is not supported with causal masking (isCausal ${describe(w.causal)})`,
      );
  });
}
