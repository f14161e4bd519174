/**
 * Backward of the matrix products (docs/design.md §6 "Training"): `linearBackward` and `matmulBackward`, each a
 * composition of GEMMs on the forward's path (the CPU engine's GEMM, cuBLASLt on a GPU; fp32 accumulation
 * for the half types) and, for a bias, a column sum. Gradients are in the inputs' dtype.
 */
import { native } from '../native';
import { dtypeCode } from '../dtype';
import { Tensor } from '../tensor';
import { getFloat32MatmulPrecision, linearArgs, matmulArgs } from './linear';
import { sumRows } from './sum_rows';
import { allocOutput, prod, writing } from './problem';
import { checkShape, tensorArg } from './validate';

/** One GEMM c = op(a) · op(b) of the sizes given, into a new tensor of `shape` (see native GemmOptions). */
function gemm(
  shape: readonly number[],
  a: Tensor,
  b: Tensor,
  g: {
    batch: number;
    m: number;
    n: number;
    k: number;
    aStride: number;
    bStride: number;
    aTrans: boolean;
    bTrans: boolean;
  },
): Tensor {
  const out = allocOutput(shape, a.dtype, a);
  writing([out], () =>
    native.gemm({
      dtype: dtypeCode(a.dtype),
      ...g,
      a: a.handle(),
      b: b.handle(),
      c: out.handle(),
      allowTf32: getFloat32MatmulPrecision() === 'high',
    }),
  );
  return out;
}

/** Gradients of {@link linear}. */
export interface LinearGradients {
  /** Shaped like x. */
  dx: Tensor;
  /** Shaped like weight `[out, in]`. */
  dWeight: Tensor;
  /** `[out]`: present when the forward had a bias. */
  dBias?: Tensor;
}

/**
 * Backward of {@link linear}: for dOut `[..., out]`, `dx = dOut · weight`, `dWeight = dOutᵀ · x` (summed over
 * every leading axis) and, when `bias` is given (only its shape is read), `dBias` the sum of dOut over the
 * leading axes.
 */
export function linearBackward(dOut: Tensor, x: Tensor, weight: Tensor, bias?: Tensor | null): LinearGradients {
  const fn = 'linearBackward';
  const { x: a, weight: w, bias: b, lead, outF, inF } = linearArgs(fn, x, weight, bias);
  const g = tensorArg(fn, dOut, 'dOut');
  checkShape(fn, g, 'dOut', [...lead, outF], "the forward output's shape [..., out]");
  const rows = prod(lead);
  const dx = gemm(a.shape, g, w, {
    batch: 1,
    m: rows,
    n: inF,
    k: outF,
    aStride: 0,
    bStride: 0,
    aTrans: false,
    bTrans: false,
  });
  const grads: LinearGradients = { dx, dWeight: dx };
  try {
    // dWeight = dOutᵀ · x: dOut [rows, out] read transposed.
    grads.dWeight = gemm(w.shape, g, a, {
      batch: 1,
      m: outF,
      n: inF,
      k: rows,
      aStride: 0,
      bStride: 0,
      aTrans: true,
      bTrans: false,
    });
    if (b) grads.dBias = sumRows(g, rows, outF, [outF]);
  } catch (e) {
    for (const t of new Set(Object.values(grads))) t.dispose();
    throw e;
  }
  return grads;
}

/** Gradients of {@link matmul}. */
export interface MatmulGradients {
  /** Shaped like a. */
  da: Tensor;
  /** Shaped like b (summed over the batch when b was one 2-D matrix). */
  db: Tensor;
}

/** Backward of {@link matmul}: `da = dOut · bᵀ`, `db = aᵀ · dOut` per batch entry (summed over the batch for a
 * 2-D b). */
export function matmulBackward(dOut: Tensor, a: Tensor, b: Tensor): MatmulGradients {
  const fn = 'matmulBackward';
  const { a: x, b: y, batchDims, m, k, n, shared } = matmulArgs(fn, a, b);
  const g = tensorArg(fn, dOut, 'dOut');
  checkShape(fn, g, 'dOut', [...batchDims, m, n], "the forward output's shape [..., m, n]");
  const batch = prod(batchDims);
  const da = gemm(x.shape, g, y, {
    batch,
    m,
    n: k,
    k: n,
    aStride: m * n,
    bStride: shared ? 0 : k * n,
    aTrans: false,
    bTrans: true,
  });
  try {
    // db = aᵀ · dOut: a [m, k] read transposed; for a shared b the batch folds into the sum (k = batch · m).
    const db = shared
      ? gemm(y.shape, x, g, { batch: 1, m: k, n, k: batch * m, aStride: 0, bStride: 0, aTrans: true, bTrans: false })
      : gemm(y.shape, x, g, { batch, m: k, n, k: m, aStride: m * k, bStride: m * n, aTrans: true, bTrans: false });
    return { da, db };
  } catch (e) {
    da.dispose();
    throw e;
  }
}
