/**
 * Helpers of the CUDA op tests (test/cuda_*.test.ts): moving oracle tensors to the GPU in a dtype and
 * back, poisoned outputs, the tolerances of docs/design.md §8, a seeded case generator, and runs of the
 * native NA op bindings of lib/native.ts (called directly, so these tests check exactly the CUDA kernels
 * behind them).
 */
import * as natten from '../lib';
import {
  native,
  type NaFusedInputs,
  type NativeFusedConfig,
  type NativeProblem,
  type StorageHandle,
} from '../lib/native';
import { dtypeCode } from '../lib/dtype';
import { caseName, type FusedSizes, toOracle } from './helpers/na_compare';
import { mulberry32, prod, randnTensor, relError, type FusedOptions, type Tensor as OTensor } from './oracle';

/** Device the CUDA op tests run on: 'cuda' (default), or 'cpu' (NATTEN_CUDA_TESTS_ON=cpu) to check the tests
 * themselves against the CPU engine on a machine without a GPU. */
export const TEST_DEVICE: 'cuda' | 'cpu' = process.env.NATTEN_CUDA_TESTS_ON === 'cpu' ? 'cpu' : 'cuda';

/** The dtypes the CUDA kernels take. */
export type GpuDType = 'float32' | 'float16' | 'bfloat16';
export const GPU_DTYPES: readonly GpuDType[] = ['float32', 'float16', 'bfloat16'];

/** docs/design.md §8 tolerances on relError (max abs difference / max(1, max |expected|)). */
export const TOL = {
  out: { float32: 1e-4, float16: 1e-2, bfloat16: 5e-2 } as Record<GpuDType, number>,
  grad: { float32: 1e-3, float16: 2e-2, bfloat16: 1e-1 } as Record<GpuDType, number>,
  lse: 5e-4,
};

/** A device tensor and the exact (dtype-rounded) values it holds. */
export interface Uploaded {
  dev: natten.Tensor;
  exact: OTensor;
}

/** Tensors of one test case, disposed together. */
export class Scope {
  private readonly held: natten.Tensor[] = [];

  /** Registers a tensor for disposal and returns it. */
  keep<T extends natten.Tensor>(t: T): T {
    this.held.push(t);
    return t;
  }

  /** The storage handle of an optional tensor (null when absent). */
  static handle(t: natten.Tensor | undefined): StorageHandle | null {
    return t === undefined ? null : t.handle();
  }

  /** Uploads an oracle tensor in `dtype` (rounded to nearest even) and returns the device tensor and the
   * exact values it holds (the oracle must see the rounded inputs). */
  async upload(t: OTensor, dtype: GpuDType): Promise<Uploaded> {
    const dev = this.keep(natten.tensor(t.data, t.shape, { dtype, device: TEST_DEVICE }));
    return { dev, exact: await download(dev) };
  }

  /** A device tensor filled with NaN: any element an op fails to write stays NaN and fails the check. */
  poisoned(shape: readonly number[], dtype: GpuDType | 'float32'): natten.Tensor {
    const t = this.keep(natten.empty(shape, { dtype, device: TEST_DEVICE }));
    native.fill({ dtype: dtypeCode(dtype), numel: t.numel, dst: t.handle(), value: NaN });
    return t;
  }

  dispose(): void {
    for (const t of this.held) t.dispose();
    this.held.length = 0;
  }
}

/** Reads a device tensor as an oracle tensor. */
export const download = toOracle;

/** Collects comparison failures of a sweep with the case that produced them. */
export class Failures {
  readonly list: string[] = [];
  checks = 0;

  /** Records a failure when relError(actual, expected) > tol. */
  check(what: string, actual: OTensor, expected: OTensor, tol: number): void {
    this.checks++;
    if (actual.data.length !== expected.data.length) {
      this.list.push(`${what}: ${actual.data.length} elements, expected ${expected.data.length}`);
      return;
    }
    const err = relError(actual.data, expected.data);
    if (!(err <= tol)) this.list.push(`${what}: relError ${err.toExponential(3)} > ${tol}`);
  }

  /** Runs one case with a fresh Scope (disposed afterwards); a throw becomes a failure tagged `tag`. */
  async run(tag: string, body: (s: Scope) => Promise<void>): Promise<void> {
    const s = new Scope();
    try {
      await body(s);
    } catch (e) {
      this.list.push(`${tag}: threw ${(e as Error).message}`);
    } finally {
      s.dispose();
    }
  }
}

/** A seeded random source for case generation. */
export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** Uniform in [0, 1). */
  uniform(): number {
    return this.next();
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** One element of a list. */
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
}

/** Window parameters of a random case (per axis). */
export interface WindowCase {
  spatial: number[];
  kernel: number[];
  stride: number[];
  dilation: number[];
  causal: boolean[];
}

/** A random window over 1-3 axes covering docs/design.md §8: odd and even k, dilation with L mod d != 0,
 * stride, causal per axis, odd sizes. */
export function randomWindow(r: Rng, dims: number, odd = false): WindowCase {
  const maxL = dims === 1 ? 40 : dims === 2 ? 13 : 7;
  const w: WindowCase = { spatial: [], kernel: [], stride: [], dilation: [], causal: [] };
  for (let a = 0; a < dims; a++) {
    const L = r.int(3, maxL);
    const d = r.chance(0.65) ? 1 : r.int(1, Math.max(1, Math.floor(L / 2)));
    const kmax = Math.min(Math.floor(L / d), dims === 1 ? 15 : 7);
    let k = r.int(2, Math.max(2, kmax));
    if (odd && k % 2 === 0) k = k + 1 <= kmax ? k + 1 : k - 1;
    if (odd && k < 3) k = 3;
    const dd = k * d > L ? Math.max(1, Math.floor(L / k)) : d;
    w.spatial.push(L);
    w.kernel.push(k);
    w.dilation.push(dd);
    w.stride.push(r.chance(0.6) ? 1 : r.int(1, k));
    w.causal.push(!odd && r.chance(0.25));
  }
  return w;
}

/** Random head dims over 1..256 (mostly small so the fp64 oracle stays quick). */
export function randomHeadDim(r: Rng): number {
  return r.chance(0.7) ? r.pick([8, 16, 32, 24, 40, 64]) : r.pick([1, 5, 13, 96, 128, 160, 256]);
}

/** Window positions per query. */
export function windowSize(w: WindowCase): number {
  return prod(w.kernel);
}

/** Short description of a case for failure messages. */
export const describeCase = caseName;

/** The fields every sweep case has (Hkv in the fused-layout ones). */
export interface SweepCase {
  seed: number;
  dtype: GpuDType;
  w: WindowCase;
  B: number;
  H: number;
  Hkv?: number;
  D: number;
  Dv: number;
  nExtra: number;
}

/** describeCase of a sweep case's fields (seed, dtype, window, B, H, Hkv, D, Dv, nExtra), then `extra`. */
export function describeSweepCase(c: SweepCase, extra: Record<string, unknown> = {}): string {
  return describeCase({
    seed: c.seed,
    dtype: c.dtype,
    L: c.w.spatial,
    k: c.w.kernel,
    s: c.w.stride,
    d: c.w.dilation,
    causal: c.w.causal,
    B: c.B,
    H: c.H,
    ...(c.Hkv === undefined ? {} : { Hkv: c.Hkv }),
    D: c.D,
    Dv: c.Dv,
    nExtra: c.nExtra,
    ...extra,
  });
}

/** Sizes of a fused-layout case ([B, ...spatial, H, D]), as the fused-op sweeps draw them. */
export interface FusedCaseShape extends FusedSizes {
  w: WindowCase;
}

/** The native problem of a fused-layout case. */
export function fusedProblem(c: FusedCaseShape): NativeProblem {
  const S = c.w.spatial;
  return {
    dims: S.length,
    batch: c.B,
    heads: c.H,
    headsKv: c.Hkv,
    headDim: c.D,
    headDimV: c.Dv,
    length: S,
    kernel: c.w.kernel,
    stride: c.w.stride,
    dilation: c.w.dilation,
    causal: c.w.causal,
    nExtra: c.nExtra,
    scale: c.scale,
  };
}

/** A fused-layout sweep case: its sizes, seed and dtype. */
export interface FusedCase<D extends GpuDType = GpuDType> extends FusedCaseShape {
  seed: number;
  dtype: D;
}

/** Uploaded Q, K, V (and extra K/V) of a fused-layout case. */
export interface FusedInputs {
  q: Uploaded;
  k: Uploaded;
  v: Uploaded;
  ek?: Uploaded;
  ev?: Uploaded;
}

/** Seeded random Q, K, V (and extra K/V when nExtra > 0) of a fused-layout case, uploaded in `dtype`. */
export async function uploadFusedInputs(
  s: Scope,
  c: FusedCaseShape,
  dtype: GpuDType,
  seed: number,
): Promise<FusedInputs> {
  const S = c.w.spatial;
  const q = await s.upload(randnTensor([c.B, ...S, c.H, c.D], seed + 1), dtype);
  const k = await s.upload(randnTensor([c.B, ...S, c.Hkv, c.D], seed + 2), dtype);
  const v = await s.upload(randnTensor([c.B, ...S, c.Hkv, c.Dv], seed + 3), dtype);
  const ek = c.nExtra ? await s.upload(randnTensor([c.B, c.nExtra, c.Hkv, c.D], seed + 4), dtype) : undefined;
  const ev = c.nExtra ? await s.upload(randnTensor([c.B, c.nExtra, c.Hkv, c.Dv], seed + 5), dtype) : undefined;
  return { q, k, v, ek, ev };
}

/** The fp64 oracle's options of a fused-layout case (window, scale, the uploaded extra keys/values). */
export function fusedOracleOptions(c: FusedCaseShape, x: FusedInputs): FusedOptions {
  return {
    kernelSize: c.w.kernel,
    stride: c.w.stride,
    dilation: c.w.dilation,
    isCausal: c.w.causal,
    scale: c.scale,
    additionalKeys: x.ek?.exact,
    additionalValues: x.ev?.exact,
  };
}

/** The native problem, dtype code and Q, K, V, extra K/V handles: what naForward and naBackward read. */
function inputArgs(c: FusedCaseShape, dtype: GpuDType, x: FusedInputs): NaFusedInputs {
  return {
    dtype: dtypeCode(dtype),
    problem: fusedProblem(c),
    q: x.q.dev.handle(),
    k: x.k.dev.handle(),
    v: x.v.dev.handle(),
    additionalKeys: Scope.handle(x.ek?.dev),
    additionalValues: Scope.handle(x.ev?.dev),
  };
}

/** naForward of a fused-layout case with a native config, into poisoned O and LSE. */
export function runNaForward(
  s: Scope,
  c: FusedCaseShape,
  dtype: GpuDType,
  x: FusedInputs,
  config: NativeFusedConfig,
): { out: natten.Tensor; lse: natten.Tensor } {
  const S = c.w.spatial;
  const out = s.poisoned([c.B, ...S, c.H, c.Dv], dtype);
  const lse = s.poisoned([c.B, ...S, c.H], 'float32');
  native.naForward({ ...inputArgs(c, dtype, x), output: out.handle(), lse: lse.handle(), config });
  return { out, lse };
}

/** Gradient tensors of one naBackward run (dek/dev with extra keys/values). */
export interface BackwardGrads {
  dq: natten.Tensor;
  dk: natten.Tensor;
  dv: natten.Tensor;
  dek?: natten.Tensor;
  dev?: natten.Tensor;
}

/** naBackward of a fused-layout case from O, LSE and dOut with a native config, into poisoned gradients. */
export function runNaBackward(
  s: Scope,
  c: FusedCaseShape,
  dtype: GpuDType,
  x: FusedInputs,
  fwd: { out: natten.Tensor; lse: natten.Tensor },
  dOut: natten.Tensor,
  config: NativeFusedConfig,
): BackwardGrads {
  const g: BackwardGrads = {
    dq: s.poisoned(x.q.exact.shape, dtype),
    dk: s.poisoned(x.k.exact.shape, dtype),
    dv: s.poisoned(x.v.exact.shape, dtype),
    dek: x.ek ? s.poisoned(x.ek.exact.shape, dtype) : undefined,
    dev: x.ev ? s.poisoned(x.ev.exact.shape, dtype) : undefined,
  };
  native.naBackward({
    ...inputArgs(c, dtype, x),
    output: fwd.out.handle(),
    lse: fwd.lse.handle(),
    dOut: dOut.handle(),
    dq: g.dq.handle(),
    dk: g.dk.handle(),
    dv: g.dv.handle(),
    dAdditionalKeys: Scope.handle(g.dek),
    dAdditionalValues: Scope.handle(g.dev),
    config,
  });
  return g;
}

/** `it` for tests that need the CUDA device itself (skipped when NATTEN_CUDA_TESTS_ON=cpu). */
export const itOnCuda = TEST_DEVICE === 'cpu' ? it.skip : it;

/** The public API on CUDA tensors against the CPU engine: `on(randn)` makes its inputs with `randn(shape,
 * seed)` (fp32, on one device) and returns its results; run on 'cuda' and on 'cpu', they must match pairwise
 * (named by `names`) within the fp32 gradient tolerance. */
export async function expectCudaMatchesCpu(
  on: (randn: (shape: number[], seed: number) => natten.Tensor) => natten.Tensor[],
  names: readonly string[],
): Promise<void> {
  const run = (device: 'cpu' | 'cuda') => on((shape, seed) => natten.randn(shape, { seed, device, dtype: 'float32' }));
  const gpu = run('cuda');
  expect(gpu.every((t) => t.device === 'cuda:0')).toBe(true);
  const cpu = run('cpu');
  const f = new Failures();
  for (let i = 0; i < gpu.length; i++)
    f.check(`API ${names[i]}`, await download(gpu[i]), await download(cpu[i]), TOL.grad.float32);
  for (const t of [...gpu, ...cpu]) t.dispose();
  expect(f.list).toEqual([]);
}
