/**
 * Errors thrown by natten-node. Argument errors are plain `TypeError`/`RangeError` objects carrying a
 * `code`; failures of the library or the device (CUDA errors, out-of-memory, disposed tensors) are
 * {@link NattenError}s. Every code starts with `ERR_NATTEN_`.
 */

/** Every error code natten-node throws. */
export type NattenErrorCode =
  | 'ERR_NATTEN_INVALID_ARG_TYPE'
  | 'ERR_NATTEN_INVALID_ARG_VALUE'
  | 'ERR_NATTEN_INVALID_SHAPE'
  | 'ERR_NATTEN_INVALID_DTYPE'
  | 'ERR_NATTEN_INVALID_DEVICE'
  | 'ERR_NATTEN_DEVICE'
  | 'ERR_NATTEN_DEVICE_MISMATCH'
  | 'ERR_NATTEN_DTYPE_MISMATCH'
  | 'ERR_NATTEN_DISPOSED'
  | 'ERR_NATTEN_OOM'
  | 'ERR_NATTEN_CUDA'
  | 'ERR_NATTEN_NO_CUDA'
  | 'ERR_NATTEN_NO_CUBLAS'
  | 'ERR_NATTEN_UNSUPPORTED'
  | 'ERR_NATTEN_ASYNC'
  | 'ERR_NATTEN_INTERNAL'
  | 'ERR_NATTEN_ADDON'
  | 'ERR_NATTEN_BACKWARD_MISMATCH'
  | 'ERR_NATTEN_GRADCHECK'
  | 'ERR_NATTEN_SAFETENSORS'
  | 'ERR_NATTEN_STATE_DICT'
  | 'ERR_NATTEN_NO_SAVED_FORWARD'
  | 'ERR_NATTEN_INVALID_STATE'
  | 'ERR_NATTEN_GRAPH';

/** A library or device failure (CUDA error, out of memory, disposed tensor, ...). */
export class NattenError extends Error {
  /** Stable machine-readable code, e.g. `ERR_NATTEN_OOM`. */
  readonly code: NattenErrorCode;
  constructor(message: string, code: NattenErrorCode) {
    super(message);
    this.name = 'NattenError';
    this.code = code;
  }
}

/** A `TypeError` with a `code` property. */
export interface CodedTypeError extends TypeError {
  code: NattenErrorCode;
}
/** A `RangeError` with a `code` property. */
export interface CodedRangeError extends RangeError {
  code: NattenErrorCode;
}

/** Builds a TypeError for an argument of the wrong type: names the argument, expected and given. */
export function argTypeError(arg: string, expected: string, given: unknown): CodedTypeError {
  const err = new TypeError(`${arg} must be ${expected}, got ${describe(given)}`) as CodedTypeError;
  err.code = 'ERR_NATTEN_INVALID_ARG_TYPE';
  return err;
}

/** Builds a RangeError for a bad value or shape. */
export function rangeError(code: NattenErrorCode, message: string): CodedRangeError {
  const err = new RangeError(message) as CodedRangeError;
  err.code = code;
  return err;
}

/** Builds a TypeError with a specific code (dtype/device mismatches). */
export function typeError(code: NattenErrorCode, message: string): CodedTypeError {
  const err = new TypeError(message) as CodedTypeError;
  err.code = code;
  return err;
}

/** Short human description of a value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v))
    return v.length <= 8 ? `[${v.map((x) => describe(x)).join(', ')}]` : `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'object')
    return v.constructor && v.constructor.name !== 'Object' ? `a ${v.constructor.name}` : 'an object';
  return `${typeof v} ${String(v)}`;
}
