/**
 * Matrix products (docs/design.md §6 "Tensor ops"): `linear` and `matmul` on the CPU engine's GEMM or
 * cuBLASLt on a GPU, and PyTorch's fp32 matmul precision switch. Half-precision inputs accumulate in fp32.
 */
import { native } from '../native';
import { dtypeCode } from '../dtype';
import { argTypeError, rangeError } from '../errors';
import { Tensor } from '../tensor';
import { allocOutput, prod, writing } from './problem';
import { checkSameDtypeDevice, optionalTensorArg, tensorArg } from './validate';

/** PyTorch's fp32 matmul precisions: `'highest'` computes in fp32, `'high'` lets GPUs use TF32 tensor cores. */
export type Float32MatmulPrecision = 'highest' | 'high';

let precision: Float32MatmulPrecision = 'highest';

/**
 * Sets how float32 `linear`/`matmul` compute on GPUs (PyTorch's `torch.set_float32_matmul_precision`):
 * `'highest'` (default) in full fp32, `'high'` with TF32 tensor cores (10-bit mantissa inputs, fp32
 * accumulation: several times faster, about 1e-3 relative error). The CPU always computes in fp32.
 */
export function setFloat32MatmulPrecision(p: Float32MatmulPrecision): void {
  if (p !== 'highest' && p !== 'high')
    throw argTypeError('setFloat32MatmulPrecision: precision', "'highest' or 'high'", p);
  precision = p;
}

/** The current fp32 matmul precision. */
export function getFloat32MatmulPrecision(): Float32MatmulPrecision {
  return precision;
}

const shapeStr = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** The checked arguments of a linear map and its sizes. @internal */
export interface LinearArgs {
  x: Tensor;
  weight: Tensor;
  bias: Tensor | undefined;
  /** x's leading axes (every axis but the last). */
  lead: number[];
  outF: number;
  inF: number;
}

/** Checks the arguments of {@link linear} (also for its backward, under that op's name `fn`). @internal */
export function linearArgs(fn: string, x: unknown, weight: unknown, bias: unknown): LinearArgs {
  const a = tensorArg(fn, x, 'x'),
    w = tensorArg(fn, weight, 'weight'),
    b = optionalTensorArg(fn, bias, 'bias');
  checkSameDtypeDevice(
    fn,
    b
      ? [
          [a, 'x'],
          [w, 'weight'],
          [b, 'bias'],
        ]
      : [
          [a, 'x'],
          [w, 'weight'],
        ],
  );
  if (w.ndim !== 2)
    throw rangeError('ERR_NATTEN_INVALID_SHAPE', `${fn}: weight must be [out, in], got ${shapeStr(w.shape)}`);
  const [outF, inF] = w.shape;
  if (a.ndim < 1 || a.shape[a.ndim - 1] !== inF) {
    throw rangeError(
      'ERR_NATTEN_INVALID_SHAPE',
      `${fn}: x must be [..., ${inF}] (its last axis the weight's in-features), got ${shapeStr(a.shape)}`,
    );
  }
  if (b && (b.ndim !== 1 || b.shape[0] !== outF))
    throw rangeError('ERR_NATTEN_INVALID_SHAPE', `${fn}: bias must be [${outF}], got ${shapeStr(b.shape)}`);
  return { x: a, weight: w, bias: b, lead: a.shape.slice(0, -1), outF, inF };
}

/**
 * `x · weightᵀ + bias` over the last axis of x (PyTorch's `linear`): x `[..., in]` (also 1-D), weight
 * `[out, in]` as PyTorch stores it, bias `[out]` (optional). Returns `[..., out]` in x's dtype.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const args = linearArgs('linear', x, weight, bias);
  const out = allocOutput([...args.lead, args.outF], args.x.dtype, args.x);
  writing([out], () => enqueueLinear(args, out, 1));
  return out;
}

/** Enqueues out = x · weightᵀ + bias as `parts` GEMMs of the weight's row blocks (x shared), each writing its
 * block of out: one GEMM when parts is 1, the stacked q/k/v of {@link linearChunks} otherwise. */
function enqueueLinear(g: LinearArgs, out: Tensor, parts: number): void {
  const each = g.outF / parts;
  const m = prod(g.lead);
  native.gemm({
    dtype: dtypeCode(g.x.dtype),
    batch: parts,
    m,
    n: each,
    k: g.inF,
    a: g.x.handle('x'),
    // One GEMM: the strides a single matrix has (so its cuBLASLt plan is the one linear always had).
    aStride: parts > 1 ? 0 : m * g.inF,
    b: g.weight.handle('weight'),
    bStride: parts > 1 ? each * g.inF : 0,
    bTrans: true,
    bias: g.bias ? g.bias.handle('bias') : null,
    biasStride: g.bias && parts > 1 ? each : 0,
    c: out.handle(),
    allowTf32: precision === 'high',
  });
}

/**
 * `linear(x, weight, bias)` with the output's last axis cut into `parts` equal chunks stacked on a new first
 * axis: `[parts, ...lead, out / parts]`, i.e. `stack(chunk(linear(x, weight, bias), parts, -1))` in one
 * batched GEMM (weight rows and bias in `parts` blocks, x shared). A module's packed q/k/v projection: each
 * part is then a contiguous view (split along axis 0), so no copy separates q, k and v. @internal
 */
export function linearChunks(x: Tensor, weight: Tensor, bias: Tensor | null, parts: number): Tensor {
  const fn = 'linearChunks';
  const args = linearArgs(fn, x, weight, bias);
  const { outF } = args;
  if (!Number.isInteger(parts) || parts < 1 || outF % parts !== 0)
    throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `${fn}: parts must divide the out-features ${outF}, got ${parts}`);
  const out = allocOutput([parts, ...args.lead, outF / parts], args.x.dtype, args.x);
  writing([out], () => enqueueLinear(args, out, parts));
  return out;
}

/** The checked arguments of a matrix product and its sizes. @internal */
export interface MatmulArgs {
  a: Tensor;
  b: Tensor;
  batchDims: number[];
  m: number;
  k: number;
  n: number;
  /** b is one 2-D matrix for every batch entry. */
  shared: boolean;
}

/** Checks the arguments of {@link matmul} (also for its backward, under that op's name `fn`). @internal */
export function matmulArgs(fn: string, a: unknown, b: unknown): MatmulArgs {
  const x = tensorArg(fn, a, 'a'),
    y = tensorArg(fn, b, 'b');
  checkSameDtypeDevice(fn, [
    [x, 'a'],
    [y, 'b'],
  ]);
  if (x.ndim < 2 || y.ndim < 2)
    throw rangeError(
      'ERR_NATTEN_INVALID_SHAPE',
      `${fn}: a and b must have at least 2 axes, got ${shapeStr(x.shape)} and ${shapeStr(y.shape)}`,
    );
  const [m, k] = x.shape.slice(-2),
    [k2, n] = y.shape.slice(-2);
  const batchDims = x.shape.slice(0, -2);
  const shared = y.ndim === 2;
  const sameBatch = shared || (y.ndim === x.ndim && y.shape.slice(0, -2).every((d, i) => d === batchDims[i]));
  if (k !== k2 || !sameBatch) {
    throw rangeError(
      'ERR_NATTEN_INVALID_SHAPE',
      `${fn}: b must be [..., ${k}, n] with a's batch axes ${shapeStr(batchDims)} (or [${k}, n]), ` +
        `got a ${shapeStr(x.shape)} and b ${shapeStr(y.shape)}`,
    );
  }
  return { a: x, b: y, batchDims, m, k, n, shared };
}

/**
 * Batched matrix product `a · b`: a `[..., m, k]`, b `[..., k, n]` with the same batch axes (or b 2-D, one
 * matrix for every batch entry). Returns `[..., m, n]`.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const { a: x, b: y, batchDims, m, k, n, shared } = matmulArgs('matmul', a, b);
  const out = allocOutput([...batchDims, m, n], x.dtype, x);
  writing([out], () =>
    native.gemm({
      dtype: dtypeCode(x.dtype),
      batch: prod(batchDims),
      m,
      n,
      k,
      a: x.handle('a'),
      aStride: m * k,
      b: y.handle('b'),
      bStride: shared ? 0 : k * n,
      bTrans: false,
      c: out.handle(),
      allowTf32: precision === 'high',
    }),
  );
  return out;
}
