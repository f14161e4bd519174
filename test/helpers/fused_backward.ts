// Shared by the fused backward GPU sweeps (test/cuda_fused_backward.test.ts, the mma.sync family, and
// test/cuda_fused_backward_wgmma.test.ts, the sm_90a wgmma family): the case type and generator's window,
// one prepared case (inputs uploaded, O and LSE from the reference forward) run under any native config,
// and the comparisons (docs/design.md section 8 tolerance plus an error scaled by the gradient's size).
import type { Tensor } from '../../lib';
import type { NativeFusedConfig } from '../../lib/native';
import {
  Failures,
  type FusedCase,
  type FusedInputs,
  Rng,
  Scope,
  TOL,
  type Uploaded,
  type WindowCase,
  download,
  fusedOracleOptions,
  runNaBackward,
  runNaForward,
  uploadFusedInputs,
} from '../cuda_common';
import { naBackward, randnTensor, type Tensor as OTensor } from '../oracle';

/** The dtypes of the tensor-core backward. */
export type HalfDType = 'float16' | 'bfloat16';

/** Errors relative to the gradient's own size (dOut is scaled by 0.05, so docs/design.md §8's absolute
 * tolerances alone would pass a zero gradient): max |a - e| / max(max |e|, 1e-3). */
export const SCALED_TOL: Record<HalfDType, number> = { float16: 1e-2, bfloat16: 3e-2 };

/** Backward tile shapes of one config. */
export interface TileConfig {
  q: number[];
  kv: number[];
}

/** One sweep case; tiles absent: the plan's default. */
export interface BackwardCase extends FusedCase<HalfDType> {
  tiles?: TileConfig;
}

/** A small 2-D bf16 case (B1, H2/Hkv1, D 32, 12x10, kernel 5x3) for the tests of coded errors. */
export function smallCase(seed: number): BackwardCase {
  return {
    seed,
    dtype: 'bfloat16',
    B: 1,
    H: 2,
    Hkv: 1,
    D: 32,
    Dv: 32,
    nExtra: 0,
    w: { spatial: [12, 10], kernel: [5, 3], stride: [1, 1], dilation: [1, 1], causal: [false, false] },
  };
}

/** A window big enough that tiles of 64 tokens walk several tile pairs, some of them interior. */
export function randomWindow(r: Rng, dims: number): WindowCase {
  const maxL = dims === 1 ? 200 : dims === 2 ? 22 : 9;
  const w: WindowCase = { spatial: [], kernel: [], stride: [], dilation: [], causal: [] };
  for (let a = 0; a < dims; a++) {
    const L = r.int(2, maxL);
    const d = r.chance(0.7) ? 1 : r.int(2, Math.max(2, Math.floor(L / 2)));
    const dd = 2 * d > L ? 1 : d;
    const kmax = Math.floor(L / dd);
    const k = r.chance(0.1) ? kmax : r.int(2, Math.min(kmax, dims === 1 ? 90 : 13));
    w.spatial.push(L);
    w.kernel.push(k);
    w.dilation.push(dd);
    w.stride.push(r.chance(0.65) ? 1 : r.int(1, k));
    w.causal.push(r.chance(0.25));
  }
  return w;
}

export function work(c: BackwardCase): number {
  const n = c.w.spatial.reduce((a, b) => a * b, 1);
  return c.B * c.H * n * (c.w.kernel.reduce((a, b) => a * b, 1) + c.nExtra) * (c.D + c.Dv);
}

export function scaledError(a: OTensor, e: OTensor): number {
  if (a.data.length !== e.data.length) return Infinity;
  let num = 0,
    den = 1e-3;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - e.data[i]);
    if (!(d <= num)) num = d; // NaN -> NaN -> fails below
    den = Math.max(den, Math.abs(e.data[i]));
  }
  return num / den;
}

export function bitwiseEqual(a: OTensor, b: OTensor): boolean {
  if (a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) return false;
  return true;
}

export interface Grads {
  dq: OTensor;
  dk: OTensor;
  dv: OTensor;
  dek?: OTensor;
  dev?: OTensor;
}

/** Device inputs of a case (O and LSE from the reference forward). */
interface Inputs extends FusedInputs {
  out: Tensor;
  lse: Tensor;
  dOut: Uploaded;
  outExact: OTensor;
  lseExact: OTensor;
}

/** Uploaded inputs of a case and one backward run with a given native config. */
export class Prepared {
  constructor(
    readonly c: BackwardCase,
    readonly s: Scope,
    readonly t: Inputs,
  ) {}

  static async create(c: BackwardCase, s: Scope): Promise<Prepared> {
    const t = c.dtype;
    const seed = c.seed * 101;
    const x = await uploadFusedInputs(s, c, t, seed);
    // O and LSE from the reference forward: this test checks the backward alone.
    const { out, lse } = runNaForward(s, c, t, x, { useReference: true });
    const outExact = await download(out);
    const lseExact = await download(lse);
    const dOut = await s.upload(randnTensor(outExact.shape, seed + 6, 0.05), t);
    return new Prepared(c, s, { ...x, out, lse, dOut, outExact, lseExact });
  }

  /** One backward into freshly poisoned gradients. */
  async run(config: NativeFusedConfig): Promise<Grads> {
    const { c, s, t } = this;
    const d = runNaBackward(s, c, c.dtype, t, t, t.dOut.dev, config);
    const g: Grads = { dq: await download(d.dq), dk: await download(d.dk), dv: await download(d.dv) };
    if (d.dek) g.dek = await download(d.dek);
    if (d.dev) g.dev = await download(d.dev);
    return g;
  }

  oracle(): Grads {
    const { c, t } = this;
    const g = naBackward(
      t.dOut.exact,
      t.q.exact,
      t.k.exact,
      t.v.exact,
      t.outExact,
      t.lseExact,
      fusedOracleOptions(c, t),
    );
    return { dq: g.dq, dk: g.dk, dv: g.dv, dek: g.dAdditionalKeys, dev: g.dAdditionalValues };
  }
}

export const NAMES: Array<keyof Grads> = ['dq', 'dk', 'dv', 'dek', 'dev'];

/** docs/design.md §8 tolerance and the scaled check of every gradient of `got` against `want`. */
export function compare(f: Failures, what: string, got: Grads, want: Grads, dtype: HalfDType): void {
  for (const n of NAMES) {
    const a = got[n],
      e = want[n];
    if (!a && !e) continue;
    if (!a || !e) {
      f.list.push(`${what} ${n}: missing`);
      continue;
    }
    f.check(`${what} ${n}`, a, e, TOL.grad[dtype]);
    const err = scaledError(a, e);
    if (!(err <= SCALED_TOL[dtype]))
      f.list.push(`${what} ${n}: scaled error ${err.toExponential(3)} > ${SCALED_TOL[dtype]}`);
  }
}

/** Expects `run` to reject with a RangeError ERR_NATTEN_UNSUPPORTED whose message matches `pattern` (the
 * addon's errors come from another realm than jest's: compared by name and code). */
export async function expectUnsupported(run: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  let err: unknown;
  try {
    await run();
  } catch (e) {
    err = e;
  }
  expect((err as Error).name).toBe('RangeError');
  expect((err as { code?: string }).code).toBe('ERR_NATTEN_UNSUPPORTED');
  expect((err as Error).message).toMatch(pattern);
}
