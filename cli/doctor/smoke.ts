/**
 * doctor's smoke test: a small na2d forward and backward (dilation, an even kernel and a causal axis, so
 * the window logic is exercised too). On a GPU the output and gradients are compared with the CPU
 * engine's; on the CPU the engine's output is compared with the textbook single-thread loop (an
 * independent implementation) and its gradients must be finite and non-zero.
 */
import * as natten from '../../lib';
import { native } from '../../lib/native';
import { dtypeCode } from '../../lib/dtype';

/** The result on one device. */
export interface SmokeResult {
  device: string;
  dtype: natten.DType;
  ok: boolean;
  /** Largest |got - want| / max(1, max|want|) over what was compared. */
  maxError?: number;
  tolerance: number;
  ms: number;
  /** The error that stopped the test, when one did. */
  error?: string;
}

const SHAPE = [1, 12, 10, 2, 16];
const WINDOW = { kernelSize: [5, 4], dilation: [2, 1], isCausal: [false, true] };

/** Tolerance on the normalised error, per dtype (looser than the test suite's: this is a health check). */
const TOLERANCE: Record<natten.DType, number> = { float32: 1e-3, float64: 1e-3, float16: 3e-2, bfloat16: 1e-1 };

async function values(t: natten.Tensor): Promise<Float32Array | Float64Array> {
  return (await t.to('cpu').toArray()) as Float32Array | Float64Array;
}

function normalisedError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 1;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    err = Math.max(err, Number.isNaN(d) ? Infinity : d);
  }
  return err / scale;
}

/** Output and gradients of na2d on `device` in `dtype`, read back to the host. */
async function readAll(device: natten.DeviceLike, dtype: natten.DType): Promise<ArrayLike<number>[]> {
  const make = (seed: number): natten.Tensor => natten.randn(SHAPE, { seed }).to({ device, dtype });
  const [q, k, v, dOut] = [make(1), make(2), make(3), make(4)];
  const { output, lse } = natten.na2d(q, k, v, { ...WINDOW, returnLse: true });
  const g = natten.na2dBackward(dOut, q, k, v, output, lse, WINDOW);
  const outs = [output, g.dq, g.dk, g.dv];
  try {
    return await Promise.all(outs.map(values));
  } finally {
    for (const t of [q, k, v, dOut, lse, ...outs]) t.dispose();
  }
}

/** The textbook loop's output for the smoke problem (float32, CPU). */
async function naiveOutput(): Promise<Float32Array | Float64Array> {
  const [q, k, v] = [1, 2, 3].map((seed) => natten.randn(SHAPE, { seed }));
  const out = natten.empty(SHAPE);
  const lse = natten.empty(SHAPE.slice(0, -1));
  const dims = 2;
  native.naForwardNaive({
    dtype: dtypeCode('float32'),
    problem: {
      dims,
      batch: SHAPE[0],
      heads: SHAPE[3],
      headsKv: SHAPE[3],
      headDim: SHAPE[4],
      headDimV: SHAPE[4],
      length: SHAPE.slice(1, 1 + dims),
      kernel: WINDOW.kernelSize,
      stride: [1, 1],
      dilation: WINDOW.dilation,
      causal: WINDOW.isCausal,
      nExtra: 0,
      scale: 1 / Math.sqrt(SHAPE[4]),
      hasRpb: false,
    },
    q: q.handle(),
    k: k.handle(),
    v: v.handle(),
    output: out.handle(),
    lse: lse.handle(),
  });
  try {
    return await out.toArray();
  } finally {
    for (const t of [q, k, v, out, lse]) t.dispose();
  }
}

/** The normalised error of what `device` computed: against the CPU engine on a GPU; on the CPU, the
 * output against the textbook loop, and gradients that are not finite or all zero count as infinite. */
async function smokeError(device: natten.DeviceLike, dtype: natten.DType): Promise<number> {
  const got = await readAll(device, dtype);
  if (device !== 'cpu') {
    const want = await readAll('cpu', 'float32');
    return Math.max(...got.map((g, i) => normalisedError(g, want[i])));
  }
  const gradsOk = got
    .slice(1)
    .every(
      (g) => Array.prototype.every.call(g, Number.isFinite) && Array.prototype.some.call(g, (x: number) => x !== 0),
    );
  return gradsOk ? normalisedError(got[0], await naiveOutput()) : Infinity;
}

/** Runs the smoke test on `device` in `dtype`. Never throws: a failure is a result with `ok: false`. */
export async function smokeTest(device: natten.DeviceLike, dtype: natten.DType): Promise<SmokeResult> {
  const t0 = performance.now();
  const tolerance = TOLERANCE[dtype];
  try {
    const maxError = await smokeError(device, dtype);
    return { device, dtype, ok: maxError <= tolerance, maxError, tolerance, ms: performance.now() - t0 };
  } catch (e) {
    const err = e as { code?: string; message?: string };
    return {
      device,
      dtype,
      ok: false,
      tolerance,
      ms: performance.now() - t0,
      error: `${err.code ? err.code + ': ' : ''}${err.message ?? String(e)}`,
    };
  }
}
