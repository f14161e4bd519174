/**
 * `gradcheck`: checks an op's backward against central finite differences of its forward, in float64 on the
 * CPU (docs/design.md §6). Any op, chain of ops or module fits that has a forward function and a backward
 * function: gradcheck perturbs every element of every named input, runs the forward twice per element and
 * compares the directional derivative along a seeded random dOut, d/dx_i sum(dOut * output), with the
 * gradient the backward returns for dOut (a vector-Jacobian product: one backward, two forwards per element).
 */
import { NattenError, argTypeError, rangeError, typeError } from './errors';
import { randn, Tensor, tensor, tidy, type TidyResult } from './tensor';

/** The tensors gradcheck differentiates with respect to, by name (every one must be float64 on the CPU). */
export type GradcheckInputs = Readonly<Record<string, Tensor>>;

/** What a forward returns: the output, or an object holding it as `output` next to what the backward needs
 * (e.g. the fused ops' `{ output, lse }`). */
export type GradcheckForwardResult = Tensor | { readonly output: Tensor };

/**
 * An op as gradcheck sees it. `backward` returns the gradients of sum(dOut * output) for the inputs: an
 * object in which the gradient of input `x` is `x`, `dx` or `dX` (so `{dq, dk, dv, dAdditionalKeys}` of
 * `na2dBackward` serves inputs named q, k, v, additionalKeys), or, for a single input, the gradient tensor itself.
 */
export interface Differentiable<I extends GradcheckInputs, R extends GradcheckForwardResult> {
  /** Runs the op on `inputs`. */
  forward(inputs: I): R;
  /** The gradients for `dOut`, given the inputs and what `forward` returned for them. */
  backward(dOut: Tensor, inputs: I, result: R): Tensor | object;
}

/** Options of {@link gradcheck}. */
export interface GradcheckOptions {
  /** Half the central-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-8). */
  atol?: number;
  /** Relative tolerance, times |numerical| (default 1e-5). */
  rtol?: number;
  /** Seed of the random dOut (default 0). */
  seed?: number;
}

/** The worst element of one input whose gradient is outside the tolerance. */
export interface GradcheckFailure {
  /** Name of the input. */
  input: string;
  /** Coordinates of the worst element. */
  index: number[];
  /** Its gradient from the backward. */
  analytical: number;
  /** Its gradient from central differences. */
  numerical: number;
  /** |analytical - numerical|. */
  error: number;
  /** atol + rtol * |numerical|. */
  allowed: number;
  /** Elements of this input outside the tolerance. */
  failing: number;
  /** Elements of this input. */
  numel: number;
}

/** Thrown (code ERR_NATTEN_GRADCHECK) when a gradient differs from central differences, or the backward
 * returns no gradient or a mis-shaped one for an input. `failures` holds one entry per failing input. */
export class GradcheckError extends NattenError {
  /** The worst element of each input outside the tolerance (empty when the backward's result is unusable). */
  readonly failures: readonly GradcheckFailure[];
  constructor(message: string, failures: readonly GradcheckFailure[]) {
    super(message, 'ERR_NATTEN_GRADCHECK');
    this.name = 'GradcheckError';
    this.failures = failures;
  }
}

/** Elements whose two forwards are in flight at once: bounds the tensors alive while keeping the queue busy. */
const BATCH = 32;

interface Tolerance {
  eps: number;
  atol: number;
  rtol: number;
  seed: number;
}

function nonNegative(v: unknown, name: string, dflt: number, positive: boolean): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number') throw argTypeError(`gradcheck: options.${name}`, 'a number', v);
  if (!Number.isFinite(v) || v < 0 || (positive && v === 0))
    throw rangeError(
      'ERR_NATTEN_INVALID_ARG_VALUE',
      `gradcheck: options.${name} must be a finite number ${positive ? '> 0' : '>= 0'}, got ${v}`,
    );
  return v;
}

function tolerance(opts: GradcheckOptions): Tolerance {
  if (typeof opts !== 'object' || opts === null) throw argTypeError('gradcheck: options', 'an object', opts);
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw argTypeError('gradcheck: options.seed', 'a non-negative safe integer', seed);
  return {
    eps: nonNegative(opts.eps, 'eps', 1e-6, true),
    atol: nonNegative(opts.atol, 'atol', 1e-8, false),
    rtol: nonNegative(opts.rtol, 'rtol', 1e-5, false),
    seed,
  };
}

/** Throws unless t is a float64 CPU tensor (finite differences need float64 arithmetic throughout). */
function checkFloat64(t: unknown, what: string): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw argTypeError(`gradcheck: ${what}`, 'a Tensor', t);
  if (t.dtype !== 'float64' || t.device !== 'cpu')
    throw typeError(
      'ERR_NATTEN_INVALID_DTYPE',
      `gradcheck: ${what} is ${t.dtype} on ${t.device}; gradcheck needs float64 tensors on the CPU ` +
        `(convert with t.to({ device: 'cpu', dtype: 'float64' }))`,
    );
}

function outputOf(r: GradcheckForwardResult): Tensor {
  const out = r instanceof Tensor ? r : r?.output;
  checkFloat64(out, 'the forward output');
  return out;
}

/** Disposes every tensor in v (a tensor, or arrays/objects of them) except the caller's inputs. */
function disposeAll(v: unknown, keep: ReadonlySet<Tensor>): void {
  if (v instanceof Tensor) {
    if (!keep.has(v)) v.dispose();
  } else if (Array.isArray(v)) for (const x of v) disposeAll(x, keep);
  else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) disposeAll(x, keep);
}

/** The gradient the backward returned for input `name` (`name`, `dname` or `dName`), checked against its shape. */
function gradientOf(grads: Tensor | object, name: string, input: Tensor, single: boolean): Tensor {
  const fields = grads as Readonly<Record<string, unknown>>;
  const g =
    single && grads instanceof Tensor
      ? grads
      : (fields[name] ?? fields[`d${name}`] ?? fields[`d${name[0].toUpperCase()}${name.slice(1)}`]);
  if (!(g instanceof Tensor))
    throw new GradcheckError(`gradcheck: the backward returned no gradient for input '${name}'`, []);
  if (g.shape.length !== input.shape.length || g.shape.some((d, i) => d !== input.shape[i]))
    throw new GradcheckError(
      `gradcheck: the backward's gradient for '${name}' has shape [${g.shape.join(', ')}], ` +
        `the input has [${input.shape.join(', ')}]`,
      [],
    );
  return g;
}

/** Runs f inside natten.tidy: tensors it creates and does not return (a chain's intermediates) are freed. */
function scoped<T>(f: () => T): T {
  return tidy(() => f() as unknown as TidyResult) as unknown as T;
}

/** Coordinates of flat index i in a row-major shape. */
function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let a = shape.length - 1; a >= 0; a--) {
    idx[a] = i % shape[a];
    i = Math.floor(i / shape[a]);
  }
  return idx;
}

/** d/dx_i sum(dOut * output) for every element of one input, by central differences. */
async function numericalGradient<I extends GradcheckInputs, R extends GradcheckForwardResult>(
  fn: Differentiable<I, R>,
  inputs: I,
  name: string,
  dOut: Float64Array,
  tol: Tolerance,
  keep: ReadonlySet<Tensor>,
): Promise<Float64Array> {
  const x = inputs[name];
  const base = await x.toArray();
  const grad = new Float64Array(base.length);
  /** The forward's result at x + delta e_i. */
  const forwardAt = (i: number, delta: number): R => {
    const data = Float64Array.from(base);
    data[i] += delta;
    const moved = tensor(data, x.shape, { dtype: 'float64' });
    try {
      return scoped(() => fn.forward({ ...inputs, [name]: moved }));
    } finally {
      moved.dispose(); // the queued forward holds its own reference
    }
  };
  for (let start = 0; start < base.length; start += BATCH) {
    // Both forwards of a batch of elements are queued before any read: the CPU queue stays busy.
    const runs: { i: number; results: R[]; reads: Promise<Float64Array>[] }[] = [];
    try {
      for (let i = start; i < Math.min(base.length, start + BATCH); i++) {
        const run = { i, results: [] as R[], reads: [] as Promise<Float64Array>[] };
        runs.push(run);
        for (const delta of [tol.eps, -tol.eps]) {
          const result = forwardAt(i, delta);
          run.results.push(result);
          run.reads.push(outputOf(result).toArray() as Promise<Float64Array>);
        }
      }
      for (const run of runs) {
        const [yp, ym] = await Promise.all(run.reads);
        let s = 0;
        // Outputs equal at both points (masked -Infinity weights among them) do not depend on x_i.
        for (let j = 0; j < yp.length; j++) if (yp[j] !== ym[j]) s += dOut[j] * (yp[j] - ym[j]);
        grad[run.i] = s / (2 * tol.eps);
      }
    } finally {
      for (const run of runs) disposeAll(run.results, keep);
    }
  }
  return grad;
}

/** The worst element of one input outside atol + rtol * |numerical|, or undefined when all are inside. */
function compare(
  name: string,
  shape: readonly number[],
  analytical: Float64Array,
  numerical: Float64Array,
  tol: Tolerance,
): GradcheckFailure | undefined {
  let failing = 0,
    worst = -1,
    worstExcess = -Infinity;
  for (let i = 0; i < numerical.length; i++) {
    const error = Math.abs(analytical[i] - numerical[i]);
    const allowed = tol.atol + tol.rtol * Math.abs(numerical[i]);
    if (error <= allowed) continue; // NaN fails here too
    failing++;
    const excess = Number.isNaN(error) ? Infinity : error / Math.max(allowed, Number.MIN_VALUE);
    if (excess > worstExcess || worst < 0) [worst, worstExcess] = [i, excess];
  }
  if (failing === 0) return undefined;
  const n = numerical[worst],
    a = analytical[worst];
  return {
    input: name,
    index: unravel(worst, shape),
    analytical: a,
    numerical: n,
    error: Math.abs(a - n),
    allowed: tol.atol + tol.rtol * Math.abs(n),
    failing,
    numel: numerical.length,
  };
}

function describeFailure(f: GradcheckFailure): string {
  return (
    `${f.input}[${f.index.join(', ')}]: backward ${f.analytical}, central differences ${f.numerical} ` +
    `(|difference| ${f.error.toExponential(3)} > atol + rtol * |numerical| = ${f.allowed.toExponential(3)}; ` +
    `${f.failing} of ${f.numel} elements of ${f.input} outside the tolerance)`
  );
}

/**
 * Checks `fn.backward` against central differences of `fn.forward` at `inputs` (float64 CPU tensors, by
 * name): for a seeded random dOut, the gradient of every input element must be within
 * atol + rtol * |numerical| of (f(x + eps) - f(x - eps)) / (2 eps) dotted with dOut. Resolves to true, or
 * rejects with a {@link GradcheckError} naming each failing input and its worst element.
 */
export async function gradcheck<I extends GradcheckInputs, R extends GradcheckForwardResult>(
  fn: Differentiable<I, R>,
  inputs: I,
  opts: GradcheckOptions = {},
): Promise<true> {
  if (typeof fn !== 'object' || fn === null || typeof fn.forward !== 'function' || typeof fn.backward !== 'function')
    throw argTypeError('gradcheck: fn', 'an object with forward and backward functions', fn);
  if (typeof inputs !== 'object' || inputs === null)
    throw argTypeError('gradcheck: inputs', 'an object of tensors', inputs);
  const names = Object.keys(inputs);
  if (names.length === 0)
    throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', 'gradcheck: inputs must name at least one tensor');
  for (const n of names) checkFloat64(inputs[n], `inputs.${n}`);
  const tol = tolerance(opts);
  const keep = new Set<Tensor>(Object.values(inputs));

  const result = scoped(() => fn.forward(inputs));
  const analytical = new Map<string, Float64Array>();
  let dOut: Float64Array;
  let dOutT: Tensor | undefined;
  let grads: Tensor | object | undefined;
  try {
    const out = outputOf(result);
    const d = randn(out.shape, { dtype: 'float64', seed: tol.seed });
    dOutT = d;
    grads = scoped(() => fn.backward(d, inputs, result));
    for (const n of names)
      analytical.set(n, (await gradientOf(grads, n, inputs[n], names.length === 1).toArray()) as Float64Array);
    dOut = (await d.toArray()) as Float64Array;
  } finally {
    disposeAll([result, grads, dOutT], keep);
  }

  const failures: GradcheckFailure[] = [];
  for (const n of names) {
    const numerical = await numericalGradient(fn, inputs, n, dOut, tol, keep);
    const f = compare(n, inputs[n].shape, analytical.get(n)!, numerical, tol);
    if (f) failures.push(f);
  }
  if (failures.length > 0)
    throw new GradcheckError(
      `gradcheck: the backward's gradient differs from central differences (eps ${tol.eps}) for ` +
        `${failures.map((f) => `'${f.input}'`).join(', ')}; worst elements: ${failures.map(describeFailure).join('; ')}`,
      failures,
    );
  return true;
}
