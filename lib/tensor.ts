/**
 * Typed tensors (docs/design.md §3): contiguous row-major storage on the CPU or a CUDA device, owned by a native
 * reference-counted block. Creation and conversion enqueue work on the device's ordered queue and return
 * at once; `toArray()` is the asynchronous sync point.
 */
import { native, type ReadOptions, type StorageHandle } from './native';
import { deviceIndex, deviceName, DeviceLike, DeviceName } from './device';
import { ArrayFor, DType, DTYPES, dtypeCode, isHalf } from './dtype';
import { argTypeError, rangeError, NattenError, typeError } from './errors';

/** Options accepted by the tensor factories. */
export interface TensorOptions<D extends DType = DType> {
  /** Element type (default `'float32'`). */
  dtype?: D;
  /** Device (default `'cpu'`). */
  device?: DeviceLike;
}

/** Options of {@link randn}. */
export interface RandnOptions<D extends DType = DType> extends TensorOptions<D> {
  /** Seed of the counter-based generator: the same seed gives the same tensor (default: random). */
  seed?: number;
}

/** Data accepted by {@link tensor}: numbers (flat or nested arrays) or a typed array. A Uint16Array holds
 * raw float16/bfloat16 bit patterns and needs a matching half dtype. */
export type TensorData = ArrayLike<number> | NestedNumbers | Float32Array | Float64Array | Uint16Array;
/** Nested arrays of numbers, flattened in row-major order. */
export type NestedNumbers = ReadonlyArray<number | NestedNumbers>;

// Node 20 predates Symbol.dispose; define it (as TypeScript's `using` support expects) when missing.
if (typeof Symbol.dispose !== 'symbol') {
  Object.defineProperty(Symbol, 'dispose', {
    value: Symbol.for('Symbol.dispose'),
    configurable: false,
    writable: false,
  });
}
const disposeSymbol: typeof Symbol.dispose = Symbol.dispose;

/** Scopes opened by {@link tidy}: tensors created inside are tracked here. */
const scopes: Set<Tensor>[] = [];

/** An n-dimensional array on a device. */
export class Tensor<D extends DType = DType> {
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: D;
  /** Canonical device name: `'cpu'` or `'cuda:N'`. */
  readonly device: DeviceName;
  #handle: StorageHandle | null;

  /** @internal Use the factories ({@link tensor}, {@link randn}, ...) instead. */
  constructor(handle: StorageHandle, shape: readonly number[], dtype: D, device: DeviceName) {
    this.#handle = handle;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.device = device;
    scopes[scopes.length - 1]?.add(this);
  }

  /** Number of elements (product of the shape; 1 for a scalar shape `[]`). */
  get numel(): number {
    return numelOf(this.shape);
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** True once {@link dispose} has run. */
  get isDisposed(): boolean {
    return this.#handle === null;
  }

  /** @internal The native storage handle; throws ERR_NATTEN_DISPOSED after dispose(). */
  handle(arg = 'tensor'): StorageHandle {
    if (this.#handle === null) {
      throw new NattenError(
        `${arg} has been disposed (shape [${this.shape.join(', ')}], ${this.dtype}, ${this.device})`,
        'ERR_NATTEN_DISPOSED',
      );
    }
    return this.#handle;
  }

  /** Copies to another device and/or dtype (a new tensor; `this` is unchanged). */
  to<T extends DType = D>(target: DeviceLike | { device?: DeviceLike; dtype?: T }): Tensor<T> {
    const opts = typeof target === 'string' ? { device: target } : target;
    if (typeof opts !== 'object' || opts === null)
      throw argTypeError('target', 'a device name or {device, dtype}', target);
    const dtype = (opts.dtype ?? this.dtype) as T;
    checkDtype(dtype, 'dtype');
    const dev = opts.device === undefined ? deviceIndex(this.device) : deviceIndex(opts.device);
    checkDtypeOnDevice(dtype, dev);
    const h = native.copy({
      src: this.handle(),
      srcDtype: dtypeCode(this.dtype),
      device: dev,
      dtype: dtypeCode(dtype),
      numel: this.numel,
    });
    return new Tensor(h, this.shape, dtype, deviceName(dev));
  }

  /** The same storage seen with another shape of the same size (shares memory; dispose each separately). */
  reshape(shape: readonly number[]): Tensor<D> {
    const s = checkShape(shape, 'shape');
    if (numelOf(s) !== this.numel) {
      throw rangeError(
        'ERR_NATTEN_INVALID_SHAPE',
        `shape [${s.join(', ')}] has ${numelOf(s)} elements, the tensor has ${this.numel}`,
      );
    }
    return new Tensor(native.share({ tensor: this.handle() }), s, this.dtype, this.device);
  }

  /** The tensor in contiguous row-major order: every tensor already is, so this is a second handle to the
   * same storage, like {@link reshape} with the same shape (dispose each separately). */
  contiguous(): Tensor<D> {
    return this.reshape(this.shape);
  }

  /** Reads the values once every queued operation producing them has finished (never blocks the event
   * loop). Float32Array for float32 and the half types, Float64Array for float64. */
  toArray(): Promise<ArrayFor<D>> {
    return native.toArray(this.#read()) as Promise<ArrayFor<D>>;
  }

  /** Like {@link toArray} but blocks the calling thread until the values are ready. */
  toArraySync(): ArrayFor<D> {
    return native.toArraySync(this.#read()) as ArrayFor<D>;
  }

  /** The addon's read of every element. */
  #read(): ReadOptions {
    return { tensor: this.handle(), dtype: dtypeCode(this.dtype), numel: this.numel };
  }

  /** Frees the memory (after queued work using it has finished). Idempotent. */
  dispose(): void {
    if (this.#handle !== null) {
      native.release({ tensor: this.#handle });
      this.#handle = null;
    }
  }

  /** `using t = ...` support: same as {@link dispose}. */
  [disposeSymbol](): void {
    this.dispose();
  }

  /** Short description, e.g. `Tensor(float32, [2, 3], cpu)`. */
  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(', ')}], ${this.device}${this.isDisposed ? ', disposed' : ''})`;
  }
}

/** Product of a shape. @internal */
export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Validates a shape: an array of non-negative integers. @internal */
export function checkShape(shape: unknown, arg: string): number[] {
  if (!Array.isArray(shape)) throw argTypeError(arg, 'an array of non-negative integers', shape);
  for (const [i, d] of shape.entries()) {
    if (typeof d !== 'number') throw argTypeError(`${arg}[${i}]`, 'a non-negative integer', d);
    if (!Number.isSafeInteger(d) || d < 0) {
      throw rangeError('ERR_NATTEN_INVALID_SHAPE', `${arg}[${i}] must be a non-negative integer, got ${d}`);
    }
  }
  if (!Number.isSafeInteger(numelOf(shape)))
    throw rangeError('ERR_NATTEN_INVALID_SHAPE', `${arg} has too many elements`);
  return shape as number[];
}

/** Validates a dtype name. @internal */
export function checkDtype(dtype: unknown, arg: string): asserts dtype is DType {
  if (typeof dtype !== 'string') throw argTypeError(arg, `one of ${DTYPES.map((d) => `'${d}'`).join(', ')}`, dtype);
  if (!(DTYPES as readonly string[]).includes(dtype)) {
    throw rangeError(
      'ERR_NATTEN_INVALID_DTYPE',
      `${arg} must be one of ${DTYPES.map((d) => `'${d}'`).join(', ')}, got ${JSON.stringify(dtype)}`,
    );
  }
}

function checkDtypeOnDevice(dtype: DType, dev: number): void {
  if (dtype === 'float64' && dev >= 0) {
    throw typeError(
      'ERR_NATTEN_INVALID_DTYPE',
      "dtype 'float64' is supported on the CPU only (use float32, float16 or bfloat16 on CUDA)",
    );
  }
}

function resolve<D extends DType>(opts: TensorOptions<D> | undefined, arg: string): { dtype: D; dev: number } {
  if (opts !== undefined && (typeof opts !== 'object' || opts === null))
    throw argTypeError(arg, 'an options object', opts);
  const dtype = (opts?.dtype ?? 'float32') as D;
  checkDtype(dtype, `${arg}.dtype`);
  const dev = deviceIndex(opts?.device ?? 'cpu', `${arg}.device`);
  checkDtypeOnDevice(dtype, dev);
  return { dtype, dev };
}

function flatten(data: NestedNumbers, out: number[]): void {
  for (const x of data) {
    if (Array.isArray(x)) flatten(x, out);
    else out.push(x as number);
  }
}

/** Creates a tensor from numbers or a typed array (the data is copied). */
export function tensor<D extends DType = 'float32'>(
  data: TensorData,
  shape?: readonly number[],
  opts?: TensorOptions<D>,
): Tensor<D> {
  const { dtype, dev } = resolve(opts, 'options');
  let src: Float32Array | Float64Array | Uint16Array;
  let srcDtype: DType;
  if (data instanceof Float32Array) [src, srcDtype] = [data, 'float32'];
  else if (data instanceof Float64Array) [src, srcDtype] = [data, 'float64'];
  else if (data instanceof Uint16Array) {
    if (!isHalf(dtype)) {
      throw typeError(
        'ERR_NATTEN_INVALID_DTYPE',
        `a Uint16Array holds raw half-precision bits and needs dtype 'float16' or 'bfloat16', got '${dtype}'`,
      );
    }
    [src, srcDtype] = [data, dtype];
  } else if (Array.isArray(data)) {
    const flat: number[] = [];
    flatten(data as NestedNumbers, flat);
    for (const [i, x] of flat.entries()) if (typeof x !== 'number') throw argTypeError(`data[${i}]`, 'a number', x);
    [src, srcDtype] = [Float64Array.from(flat), 'float64'];
  } else if (ArrayBuffer.isView(data) && !(data instanceof DataView)) {
    [src, srcDtype] = [Float64Array.from(data as unknown as ArrayLike<number>), 'float64'];
  } else {
    throw argTypeError('data', 'an array of numbers or a typed array', data);
  }
  const s = shape === undefined ? [src.length] : checkShape(shape, 'shape');
  if (numelOf(s) !== src.length) {
    throw rangeError(
      'ERR_NATTEN_INVALID_SHAPE',
      `shape [${s.join(', ')}] needs ${numelOf(s)} elements, data has ${src.length}`,
    );
  }
  return new Tensor(
    native.fromArray({ device: dev, dtype: dtypeCode(dtype), data: src, srcDtype: dtypeCode(srcDtype) }),
    s,
    dtype,
    deviceName(dev),
  );
}

/** Uninitialised tensor (contents unspecified). */
export function empty<D extends DType = 'float32'>(shape: readonly number[], opts?: TensorOptions<D>): Tensor<D> {
  const s = checkShape(shape, 'shape');
  const { dtype, dev } = resolve(opts, 'options');
  return new Tensor(
    native.empty({ device: dev, dtype: dtypeCode(dtype), numel: numelOf(s) }),
    s,
    dtype,
    deviceName(dev),
  );
}

/** Tensor of zeros. */
export function zeros<D extends DType = 'float32'>(shape: readonly number[], opts?: TensorOptions<D>): Tensor<D> {
  const s = checkShape(shape, 'shape');
  const { dtype, dev } = resolve(opts, 'options');
  return new Tensor(
    native.zeros({ device: dev, dtype: dtypeCode(dtype), numel: numelOf(s) }),
    s,
    dtype,
    deviceName(dev),
  );
}

/** Standard normal samples. With a seed the values depend only on (seed, element index), so the same
 * seed gives the same tensor on any device (up to the last bit of the device's log/cos). */
export function randn<D extends DType = 'float32'>(shape: readonly number[], opts?: RandnOptions<D>): Tensor<D> {
  const s = checkShape(shape, 'shape');
  const { dtype, dev } = resolve(opts, 'options');
  const seed = opts?.seed ?? Math.floor(Math.random() * 2 ** 52);
  if (!Number.isSafeInteger(seed) || seed < 0) throw argTypeError('options.seed', 'a non-negative safe integer', seed);
  return new Tensor(
    native.randn({ device: dev, dtype: dtypeCode(dtype), numel: numelOf(s), seed }),
    s,
    dtype,
    deviceName(dev),
  );
}

/** Values `tidy` keeps: a tensor, or arrays/objects containing tensors. */
export type TidyResult =
  | Tensor
  | readonly TidyResult[]
  | { readonly [k: string]: TidyResult }
  | void
  | number
  | string
  | boolean
  | null
  | undefined;

/** Runs fn and disposes every tensor created inside it except those it returns. When fn throws, every
 * tensor it created is disposed and the error propagates. */
export function tidy<T extends TidyResult>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    for (const t of scope) t.dispose();
    throw e;
  } finally {
    scopes.pop();
  }
  const keep = new Set<Tensor>();
  collect(result, keep);
  for (const t of scope) if (!keep.has(t)) t.dispose();
  const outer = scopes[scopes.length - 1];
  if (outer) for (const t of keep) if (scope.has(t)) outer.add(t);
  return result;
}

/** Takes t out of every open {@link tidy} scope, so none disposes it (a module keeping a tensor for its
 * backward). @internal */
export function untrack(t: Tensor): void {
  for (const s of scopes) s.delete(t);
}

/** Runs fn with no {@link tidy} scope open: tensors it creates outlive every enclosing tidy (state an object
 * keeps across calls, as an optimizer's). @internal */
export function untracked<T>(fn: () => T): T {
  const open = scopes.splice(0);
  try {
    return fn();
  } finally {
    scopes.push(...open);
  }
}

/** Adds the tensors in a {@link tidy} result (nested arrays and objects) to `out`. @internal */
export function collect(v: unknown, out: Set<Tensor>): void {
  if (v instanceof Tensor) out.add(v);
  else if (Array.isArray(v)) for (const x of v) collect(x, out);
  else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) collect(x, out);
}
