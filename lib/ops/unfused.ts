/**
 * Unfused neighborhood attention (docs/design.md §6), NATTEN's layout [batch, heads, ...spatial, headDim]:
 * `naXdQK` computes the attention weights of every query over its window (row-major over the kernel,
 * -Infinity where a causal window is shorter; unscaled) and the additional keys, `naXdAV` applies weights
 * to values, and their backward ops. Q, K and V have the same number of heads here.
 */
import { native, type NaAVOptions, type NaQKOptions } from '../native';
import { dtypeCode } from '../dtype';

import type { DType } from '../dtype';
import { Tensor } from '../tensor';
import { allocLike, allocOutput, handleOrNull, nativeProblem, prod, ProblemSizes, writing } from './problem';
import {
  checkOptions,
  checkRank,
  checkRpbWindow,
  checkSameDtypeDevice,
  checkShape,
  optionalTensorArg,
  resolveWindow,
  tensorArg,
  Window,
  WINDOW_KEYS,
  WindowOptions,
} from './validate';

/** Options of the unfused QK ops. */
export interface QKOptions extends WindowOptions {
  /** Relative positional bias [heads, 2k0-1, (2k1-1, (2k2-1))], added to the scores (odd, non-causal kernels). */
  rpb?: Tensor;
  /** Keys every query attends to besides its window: [batch, heads, nExtra, headDim]. */
  additionalKeys?: Tensor;
}

/** Options of the unfused AV ops. */
export interface AVOptions extends WindowOptions {
  /** Values of the additional keys: [batch, heads, nExtra, headDimV]. */
  additionalValues?: Tensor;
}

/** Gradients of an unfused QK. */
export interface QKGradients<D extends DType = DType> {
  dq: Tensor<D>;
  dk: Tensor<D>;
  /** Present when rpb was given. */
  dRpb?: Tensor;
  /** Present when additionalKeys were given. */
  dAdditionalKeys?: Tensor<D>;
}

/** Gradients of an unfused AV. */
export interface AVGradients<D extends DType = DType> {
  /** Same shape as the weights; 0 at masked window positions. */
  dAttn: Tensor<D>;
  dv: Tensor<D>;
  /** Present when additionalValues were given. */
  dAdditionalValues?: Tensor<D>;
}

const QK_KEYS = [...WINDOW_KEYS, 'rpb', 'additionalKeys'];
const AV_KEYS = [...WINDOW_KEYS, 'additionalValues'];
const LAYOUTS = ['', '[batch, heads, X, headDim]', '[batch, heads, X, Y, headDim]', '[batch, heads, X, Y, Z, headDim]'];

interface Sides {
  batch: number;
  heads: number;
  spatial: number[];
  window: Window;
}

/** Checks a [batch, heads, ...spatial, C] tensor and the window against its spatial sizes. */
function sides(fn: string, dims: number, t: Tensor, name: string, opts: WindowOptions, layout: string): Sides {
  checkRank(fn, t, name, dims + 3, layout);
  const spatial = t.shape.slice(2, dims + 2);
  return { batch: t.shape[0], heads: t.shape[1], spatial, window: resolveWindow(fn, opts, spatial, name) };
}

function sizes(s: Sides, headDim: number, headDimV: number, nExtra: number, hasRpb: boolean): ProblemSizes {
  return {
    batch: s.batch,
    heads: s.heads,
    headsKv: s.heads,
    headDim,
    headDimV,
    spatial: s.spatial,
    nExtra,
    scale: 1,
    hasRpb,
  };
}

/** Validates the extra keys/values tensor [batch, heads, nExtra, C]; returns nExtra (0 when absent). */
function extraCount(fn: string, t: Tensor | undefined, name: string, s: Sides, C: number, cName: string): number {
  if (!t) return 0;
  checkRank(fn, t, name, 4, `[batch, heads, nExtra, ${cName}]`);
  checkShape(fn, t, name, [s.batch, s.heads, t.shape[2], C], `[batch, heads, nExtra, ${cName}]`);
  return t.shape[2];
}

function checkRpb(fn: string, rpb: Tensor | undefined, s: Sides): void {
  if (!rpb) return;
  checkRpbWindow(fn, s.window);
  checkShape(fn, rpb, 'rpb', [s.heads, ...s.window.kernel.map((k) => 2 * k - 1)], '[heads, 2*kernelSize-1 per axis]');
}

/** What the unfused QK ops read (forward and backward). */
type QKInputs = Pick<NaQKOptions, 'dtype' | 'problem' | 'q' | 'k' | 'additionalKeys'>;

/** What the unfused AV ops read (forward and backward). */
type AVInputs = Pick<NaAVOptions, 'dtype' | 'problem' | 'attn' | 'v' | 'additionalValues'>;

interface QKCall {
  s: Sides;
  q: Tensor;
  k: Tensor;
  rpb?: Tensor;
  ek?: Tensor;
  nExtra: number;
  headDim: number;
}

function qkCall(fn: string, dims: number, qa: unknown, ka: unknown, opts: QKOptions): QKCall {
  checkOptions(fn, opts, QK_KEYS);
  const q = tensorArg(fn, qa, 'q'),
    k = tensorArg(fn, ka, 'k');
  const s = sides(fn, dims, q, 'q', opts, LAYOUTS[dims]);
  checkShape(fn, k, 'k', q.shape, 'the shape of q');
  const headDim = q.shape[dims + 2];
  const rpb = optionalTensorArg(fn, opts.rpb, 'rpb');
  const ek = optionalTensorArg(fn, opts.additionalKeys, 'additionalKeys');
  checkRpb(fn, rpb, s);
  const nExtra = extraCount(fn, ek, 'additionalKeys', s, headDim, 'headDim');
  const all: [Tensor, string][] = [
    [q, 'q'],
    [k, 'k'],
  ];
  if (rpb) all.push([rpb, 'rpb']);
  if (ek) all.push([ek, 'additionalKeys']);
  checkSameDtypeDevice(fn, all);
  return { s, q, k, rpb, ek, nExtra, headDim };
}

/** The addon's options for a validated QK call (forward or backward): what it reads, and `rest`. Added to
 * one literal, not spread into a copy (see fused.ts nativeOptions). */
function qkOptions<T extends object>(c: QKCall, rest: T): QKInputs & T {
  const inputs: QKInputs = {
    dtype: dtypeCode(c.q.dtype),
    problem: nativeProblem(sizes(c.s, c.headDim, c.headDim, c.nExtra, c.rpb !== undefined), c.s.window),
    q: c.q.handle('q'),
    k: c.k.handle('k'),
    additionalKeys: handleOrNull(c.ek, 'additionalKeys'),
  };
  return Object.assign(inputs, rest);
}

function qk(fn: string, dims: number, q: unknown, k: unknown, opts: QKOptions): Tensor {
  const c = qkCall(fn, dims, q, k, opts);
  const attn = allocOutput([c.s.batch, c.s.heads, ...c.s.spatial, prod(c.s.window.kernel) + c.nExtra], c.q.dtype, c.q);
  writing([attn], () => native.naQK(qkOptions(c, { rpb: handleOrNull(c.rpb, 'rpb'), attn: attn.handle() })));
  return attn;
}

function qkBackward(fn: string, dims: number, dAttnA: unknown, q: unknown, k: unknown, opts: QKOptions): QKGradients {
  const c = qkCall(fn, dims, q, k, opts);
  const dAttn = tensorArg(fn, dAttnA, 'dAttn');
  checkShape(
    fn,
    dAttn,
    'dAttn',
    [c.s.batch, c.s.heads, ...c.s.spatial, prod(c.s.window.kernel) + c.nExtra],
    '[batch, heads, ...spatial, prod(kernelSize) + nExtra]',
  );
  checkSameDtypeDevice(fn, [
    [c.q, 'q'],
    [dAttn, 'dAttn'],
  ]);
  const dq = allocLike(c.q, c.q);
  const dk = allocLike(c.k, c.q);
  const dRpb = allocLike(c.rpb, c.q);
  const dek = allocLike(c.ek, c.q);
  writing([dq, dk, dRpb, dek], () =>
    native.naQKBackward(
      qkOptions(c, {
        dAttn: dAttn.handle('dAttn'),
        dq: dq.handle(),
        dk: dk.handle(),
        dRpb: handleOrNull(dRpb, 'dRpb'),
        dAdditionalKeys: handleOrNull(dek, 'dAdditionalKeys'),
      }),
    ),
  );
  const g: QKGradients = { dq, dk };
  if (dRpb) g.dRpb = dRpb;
  if (dek) g.dAdditionalKeys = dek;
  return g;
}

interface AVCall {
  s: Sides;
  attn: Tensor;
  v: Tensor;
  ev?: Tensor;
  nExtra: number;
  headDimV: number;
}

function avCall(fn: string, dims: number, attnA: unknown, va: unknown, opts: AVOptions): AVCall {
  checkOptions(fn, opts, AV_KEYS);
  const attn = tensorArg(fn, attnA, 'attn'),
    v = tensorArg(fn, va, 'v');
  const s = sides(fn, dims, v, 'v', opts, LAYOUTS[dims].replace('headDim', 'headDimV'));
  const headDimV = v.shape[dims + 2];
  const ev = optionalTensorArg(fn, opts.additionalValues, 'additionalValues');
  const nExtra = extraCount(fn, ev, 'additionalValues', s, headDimV, 'headDimV');
  checkShape(
    fn,
    attn,
    'attn',
    [s.batch, s.heads, ...s.spatial, prod(s.window.kernel) + nExtra],
    `[batch, heads, ...spatial, prod(kernelSize) + nExtra] with nExtra = ${nExtra}`,
  );
  const all: [Tensor, string][] = [
    [attn, 'attn'],
    [v, 'v'],
  ];
  if (ev) all.push([ev, 'additionalValues']);
  checkSameDtypeDevice(fn, all);
  return { s, attn, v, ev, nExtra, headDimV };
}

/** The addon's options for a validated AV call (forward or backward): what it reads, and `rest`. */
function avOptions<T extends object>(c: AVCall, rest: T): AVInputs & T {
  const inputs: AVInputs = {
    dtype: dtypeCode(c.v.dtype),
    problem: nativeProblem(sizes(c.s, c.headDimV, c.headDimV, c.nExtra, false), c.s.window),
    attn: c.attn.handle('attn'),
    v: c.v.handle('v'),
    additionalValues: handleOrNull(c.ev, 'additionalValues'),
  };
  return Object.assign(inputs, rest);
}

function av(fn: string, dims: number, attn: unknown, v: unknown, opts: AVOptions): Tensor {
  const c = avCall(fn, dims, attn, v, opts);
  const out = allocLike(c.v, c.v);
  writing([out], () => native.naAV(avOptions(c, { output: out.handle() })));
  return out;
}

function avBackward(fn: string, dims: number, dOutA: unknown, attn: unknown, v: unknown, opts: AVOptions): AVGradients {
  const c = avCall(fn, dims, attn, v, opts);
  const dOut = tensorArg(fn, dOutA, 'dOut');
  checkShape(fn, dOut, 'dOut', c.v.shape, 'the shape of v');
  checkSameDtypeDevice(fn, [
    [c.v, 'v'],
    [dOut, 'dOut'],
  ]);
  const dAttn = allocLike(c.attn, c.v);
  const dv = allocLike(c.v, c.v);
  const dev = allocLike(c.ev, c.v);
  writing([dAttn, dv, dev], () =>
    native.naAVBackward(
      avOptions(c, {
        dOut: dOut.handle('dOut'),
        dAttn: dAttn.handle(),
        dv: dv.handle(),
        dAdditionalValues: handleOrNull(dev, 'dAdditionalValues'),
      }),
    ),
  );
  const g: AVGradients = { dAttn, dv };
  if (dev) g.dAdditionalValues = dev;
  return g;
}

/** An unfused QK op (`na1dQK`, ...): attention weights in the inputs' dtype. */
export type NAQK = <D extends DType>(q: Tensor<D>, k: Tensor<D>, opts: QKOptions) => Tensor<D>;
/** An unfused AV op (`na1dAV`, ...): the output in the inputs' dtype. */
export type NAAV = <D extends DType>(attn: Tensor<D>, v: Tensor<D>, opts: AVOptions) => Tensor<D>;
/** The backward of an unfused QK op. */
export type NAQKBackward = <D extends DType>(
  dAttn: Tensor<D>,
  q: Tensor<D>,
  k: Tensor<D>,
  opts: QKOptions,
) => QKGradients<D>;
/** The backward of an unfused AV op. */
export type NAAVBackward = <D extends DType>(
  dOut: Tensor<D>,
  attn: Tensor<D>,
  v: Tensor<D>,
  opts: AVOptions,
) => AVGradients<D>;

// The public ops, typed by the signatures above (the implementations take untyped tensors).
const qkOp = (fn: string, dims: number) => ((q: Tensor, k: Tensor, o: QKOptions) => qk(fn, dims, q, k, o)) as NAQK;
const avOp = (fn: string, dims: number) => ((a: Tensor, v: Tensor, o: AVOptions) => av(fn, dims, a, v, o)) as NAAV;
const qkBackwardOp = (fn: string, dims: number) =>
  ((g: Tensor, q: Tensor, k: Tensor, o: QKOptions) => qkBackward(fn, dims, g, q, k, o)) as NAQKBackward;
const avBackwardOp = (fn: string, dims: number) =>
  ((g: Tensor, a: Tensor, v: Tensor, o: AVOptions) => avBackward(fn, dims, g, a, v, o)) as NAAVBackward;

/** 1-D unfused QK: q, k [batch, heads, X, headDim] -> weights [batch, heads, X, kernelSize + nExtra] (unscaled). */
export const na1dQK: NAQK = qkOp('na1dQK', 1);
/** 2-D unfused QK: q, k [batch, heads, X, Y, headDim] -> weights [batch, heads, X, Y, k0*k1 + nExtra]. */
export const na2dQK: NAQK = qkOp('na2dQK', 2);
/** 3-D unfused QK: q, k [batch, heads, X, Y, Z, headDim] -> weights [batch, heads, X, Y, Z, k0*k1*k2 + nExtra]. */
export const na3dQK: NAQK = qkOp('na3dQK', 3);
/** 1-D unfused AV: weights [batch, heads, X, kernelSize + nExtra], v [batch, heads, X, headDimV] -> output like v. */
export const na1dAV: NAAV = avOp('na1dAV', 1);
/** 2-D unfused AV. */
export const na2dAV: NAAV = avOp('na2dAV', 2);
/** 3-D unfused AV. */
export const na3dAV: NAAV = avOp('na3dAV', 3);
/** Backward of {@link na1dQK} for upstream gradient dAttn (entries at masked positions are ignored). */
export const na1dQKBackward: NAQKBackward = qkBackwardOp('na1dQKBackward', 1);
/** Backward of {@link na2dQK}. */
export const na2dQKBackward: NAQKBackward = qkBackwardOp('na2dQKBackward', 2);
/** Backward of {@link na3dQK}. */
export const na3dQKBackward: NAQKBackward = qkBackwardOp('na3dQKBackward', 3);
/** Backward of {@link na1dAV} for upstream gradient dOut. */
export const na1dAVBackward: NAAVBackward = avBackwardOp('na1dAVBackward', 1);
/** Backward of {@link na2dAV}. */
export const na2dAVBackward: NAAVBackward = avBackwardOp('na2dAVBackward', 2);
/** Backward of {@link na3dAV}. */
export const na3dAVBackward: NAAVBackward = avBackwardOp('na3dAVBackward', 3);
