/**
 * The problem signature: what a tuned config is remembered under on a device (the device itself is the
 * cache's other half, DeviceIdentity). Two calls with one signature run the same candidates at (nearly) the
 * same relative speeds, so one tuning serves both.
 *
 * Exact: dims, spatial shape, head dims, dtype, window (kernel, dilation, stride, causal per axis), extra-KV
 * count, GQA ratio, and for the backward the settings that change its candidates (deterministic, KV
 * parallelism, the scratch cap of the memory preference).
 * Bucketed: batch and heads. The kernels' grid is (spatial tiles) x batch x heads for every candidate, so
 * they enter only through their product, and only through how that grid fills the GPU's waves (the work of
 * one CTA does not depend on them). The product is kept exactly up to 32 and rounded up to a power of two
 * above it: members of one bucket differ by less than 2x, and each candidate's grid then holds more than
 * 32 CTAs per spatial tile, so it spans several waves and the wave-quantisation loss (the only part of the
 * ranking that moves with batch x heads) changes by a fraction of a wave. Small products, where one wave more
 * or less decides, stay exact.
 */
import type { DType } from '../dtype';
import type { NativeFusedConfig, NativeProblem } from '../native';
import type { TunePass } from './types';

/** The batch x heads bucket of a problem (see the file comment). @internal */
export function batchHeadsBucket(batch: number, heads: number): number {
  const bh = batch * heads;
  if (bh <= 32) return bh;
  return 2 ** Math.ceil(Math.log2(bh));
}

const axes = (xs: readonly (number | boolean)[] | undefined, dims: number, dflt: number | boolean): string =>
  Array.from({ length: dims }, (_, a) => String(Number(xs?.[a] ?? dflt))).join('x');

/** The signature of a pass of a problem under a native config's switches. */
export function signatureOf(pass: TunePass, problem: NativeProblem, dtype: DType, config: NativeFusedConfig): string {
  const p = problem;
  const headsKv = p.headsKv ?? p.heads;
  const parts = [
    pass,
    `${p.dims}d`,
    `L${axes(p.length, p.dims, 1)}`,
    `k${axes(p.kernel, p.dims, 1)}`,
    `d${axes(p.dilation, p.dims, 1)}`,
    `s${axes(p.stride, p.dims, 1)}`,
    `c${axes(p.causal, p.dims, false)}`,
    `bh${batchHeadsBucket(p.batch, p.heads)}`,
    `gqa${p.heads / headsKv}`,
    `D${p.headDim}`,
    `Dv${p.headDimV ?? p.headDim}`,
    `x${p.nExtra ?? 0}`,
    dtype,
  ];
  if (pass === 'backward') {
    parts.push(
      config.deterministic ? 'det' : 'nondet',
      config.kvParallel === false ? 'kvp0' : 'kvp1',
      `mem${config.scratchLimitBytes ?? -1}`,
    );
  }
  return parts.join(' ');
}
