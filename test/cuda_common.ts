/**
 * Helpers of the CUDA op tests (test/cuda_*.test.ts): moving oracle tensors to the GPU in a dtype and
 * back, poisoned outputs, the tolerances of docs/design.md §8, a seeded case generator, and a typed view of the
 * native NA op bindings (called directly, so these tests check exactly the CUDA kernels behind them).
 */
import * as natten from '../lib';
import { native, type StorageHandle } from '../lib/binding';
import { dtypeCode } from '../lib/dtype';
import { mulberry32, prod, randnTensor, relError, type Tensor as OTensor } from './oracle';

/** Device the CUDA op tests run on: 'cuda' (default), or 'cpu' (NATTEN_CUDA_TESTS_ON=cpu) to check the tests
 * themselves against the CPU engine on a machine without a GPU. */
export const TEST_DEVICE: 'cuda' | 'cpu' = process.env.NATTEN_CUDA_TESTS_ON === 'cpu' ? 'cpu' : 'cuda';

/** The dtypes the CUDA kernels take. */
export type GpuDType = 'float32' | 'float16' | 'bfloat16';
export const GPU_DTYPES: readonly GpuDType[] = ['float32', 'float16', 'bfloat16'];

/** The problem object of the native NA op bindings (native/problem_arg.h). */
export interface NativeProblem {
  dims: number;
  batch: number;
  heads: number;
  headsKv?: number;
  headDim: number;
  headDimV?: number;
  length: number[];
  kernel: number[];
  stride?: number[];
  dilation?: number[];
  causal?: boolean[];
  nExtra?: number;
  scale?: number;
  hasRpb?: boolean;
}

type H = StorageHandle | null;

/** The native NA op bindings used here (argument order of native/na_ops_binding.cc). */
export interface NaOpsBinding {
  naForward(p: NativeProblem, t: number, q: H, k: H, v: H, ek: H, ev: H, out: H, lse: H, config: object | null): void;
  naBackward(
    p: NativeProblem,
    t: number,
    q: H,
    k: H,
    v: H,
    ek: H,
    ev: H,
    out: H,
    lse: H,
    dOut: H,
    dq: H,
    dk: H,
    dv: H,
    dek: H,
    dev: H,
    config: object | null,
  ): void;
  naQK(p: NativeProblem, t: number, q: H, k: H, rpb: H, ek: H, attn: H): void;
  naAV(p: NativeProblem, t: number, attn: H, v: H, ev: H, out: H): void;
  naQKBackward(p: NativeProblem, t: number, dAttn: H, q: H, k: H, ek: H, dq: H, dk: H, dRpb: H, dek: H): void;
  naAVBackward(p: NativeProblem, t: number, dOut: H, attn: H, v: H, ev: H, dAttn: H, dv: H, dev: H): void;
  softmax(t: number, rows: number, cols: number, x: H, y: H): void;
  softmaxBackward(t: number, rows: number, cols: number, dy: H, y: H, dx: H): void;
  fill(h: H, t: number, numel: number, value: number): void;
}

/** The native NA op bindings, typed. */
export const ops = native as unknown as NaOpsBinding;

/** docs/design.md §8 tolerances on relError (max abs difference / max(1, max |expected|)). */
export const TOL = {
  out: { float32: 1e-4, float16: 1e-2, bfloat16: 5e-2 } as Record<GpuDType, number>,
  grad: { float32: 1e-3, float16: 2e-2, bfloat16: 1e-1 } as Record<GpuDType, number>,
  lse: 5e-4,
};

/** Tensors of one test case, disposed together. */
export class Scope {
  private readonly held: natten.Tensor[] = [];

  /** Registers a tensor for disposal and returns it. */
  keep<T extends natten.Tensor>(t: T): T {
    this.held.push(t);
    return t;
  }

  /** The storage handle of an optional tensor (null when absent). */
  static handle(t: natten.Tensor | undefined): H {
    return t === undefined ? null : t.handle();
  }

  /** Uploads an oracle tensor in `dtype` (rounded to nearest even) and returns the device tensor and the
   * exact values it holds (the oracle must see the rounded inputs). */
  async upload(t: OTensor, dtype: GpuDType): Promise<{ dev: natten.Tensor; exact: OTensor }> {
    const dev = this.keep(natten.tensor(t.data, t.shape, { dtype, device: TEST_DEVICE }));
    return { dev, exact: { data: Float64Array.from(await dev.toArray()), shape: [...t.shape] } };
  }

  /** A device tensor filled with NaN: any element an op fails to write stays NaN and fails the check. */
  poisoned(shape: readonly number[], dtype: GpuDType | 'float32'): natten.Tensor {
    const t = this.keep(natten.empty(shape, { dtype, device: TEST_DEVICE }));
    ops.fill(t.handle(), dtypeCode(dtype), t.numel, NaN);
    return t;
  }

  dispose(): void {
    for (const t of this.held) t.dispose();
    this.held.length = 0;
  }
}

/** Reads a device tensor as an oracle tensor. */
export async function download(t: natten.Tensor): Promise<OTensor> {
  return { data: Float64Array.from(await t.toArray()), shape: [...t.shape] };
}

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
export function describeCase(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(',')}]` : String(v)}`)
    .join(' ');
}

/** Sizes of a fused-layout case ([B, ...spatial, H, D]), as the fused-op sweeps draw them. */
export interface FusedCaseShape {
  w: WindowCase;
  B: number;
  H: number;
  Hkv: number;
  D: number;
  Dv: number;
  nExtra: number;
  scale?: number;
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

/** Seeded random Q, K, V (and extra K/V when nExtra > 0) of a fused-layout case, uploaded in `dtype`. */
export async function uploadFusedInputs(s: Scope, c: FusedCaseShape, dtype: GpuDType, seed: number) {
  const S = c.w.spatial;
  const q = await s.upload(randnTensor([c.B, ...S, c.H, c.D], seed + 1), dtype);
  const k = await s.upload(randnTensor([c.B, ...S, c.Hkv, c.D], seed + 2), dtype);
  const v = await s.upload(randnTensor([c.B, ...S, c.Hkv, c.Dv], seed + 3), dtype);
  const ek = c.nExtra ? await s.upload(randnTensor([c.B, c.nExtra, c.Hkv, c.D], seed + 4), dtype) : undefined;
  const ev = c.nExtra ? await s.upload(randnTensor([c.B, c.nExtra, c.Hkv, c.Dv], seed + 5), dtype) : undefined;
  return { q, k, v, ek, ev };
}
