// fp64 oracle for the unfused NA ops (docs/design.md §5 and §6), layout [B, H, ...spatial, D]:
//   naQK:  attn[b, h, x, w] = q[b, h, x] . k[b, h, key_w(x)] (+ rpb), w in [0, prod(kernelSize)),
//          window positions in row-major order over the kernel (window.ts windowSlots), -Infinity where the
//          position is outside a causal window; then attn[b, h, x, K + e] = q[b, h, x] . extraK[b, h, e].
//          No scaling: the caller scales.
//   naAV:  out[b, h, x] = sum_w attn[b, h, x, w] v[b, h, key_w(x)] + sum_e attn[b, h, x, K + e] extraV[b, h, e]
//          (weights at masked positions are ignored, whatever their value).
//   softmax over the last axis (-Infinity -> 0), and the backward of each.
// Query and key/value tensors have the same number of heads here (expand kv heads for GQA first).

import { checkTensor, flatIndex, forEachIndex, prod, type Tensor, zeros } from './util';
import { type NAOptions, resolveWindow, type ResolvedWindow, windowSlotsOf } from './window';

export interface QKOptions extends NAOptions {
  /**
   * Relative positional bias [H, 2k0-1, (2k1-1), (2k2-1)]: adds rpb[h, ...(j' - i') + k - 1] per axis
   * (group-local indices). Non-causal only. docs/design.md §5 asks for odd k; the formula is also well defined
   * for even k and is applied as is.
   */
  rpb?: Tensor;
  /** [B, H, nExtra, D]: columns K .. K+nExtra-1 of attn. */
  additionalKeys?: Tensor;
}

export interface AVOptions extends NAOptions {
  /** [B, H, nExtra, Dv]: weighted by columns K .. K+nExtra-1 of attn. */
  additionalValues?: Tensor;
}

export interface QKBackwardResult {
  dq: Tensor;
  dk: Tensor;
  /** present iff opts.rpb was given (its values are not used, only its shape) */
  drpb?: Tensor;
  /** present iff opts.additionalKeys was given */
  dAdditionalKeys?: Tensor;
}

export interface AVBackwardResult {
  /** same shape as attn; 0 at masked window positions */
  dAttn: Tensor;
  dv: Tensor;
  /** present iff opts.additionalValues was given */
  dAdditionalValues?: Tensor;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function dot(a: Float64Array, aOff: number, b: Float64Array, bOff: number, n: number): number {
  let s = 0;
  for (let c = 0; c < n; c++) s += a[aOff + c] * b[bOff + c];
  return s;
}

/** Splits a [B, H, ...spatial, C] shape. */
function splitShape(name: string, t: Tensor): { B: number; H: number; spatial: number[]; C: number } {
  checkTensor(name, t);
  const r = t.shape.length;
  if (r < 4)
    throw new RangeError(`${name} must be [B, H, ...spatial, C] with 1+ spatial axes, got [${t.shape.join(', ')}]`);
  return { B: t.shape[0], H: t.shape[1], spatial: t.shape.slice(2, r - 1), C: t.shape[r - 1] };
}

/** slots[xFlat][w] = key coordinate or null, for every query of the spatial grid. */
function slotTable(win: ResolvedWindow): (number[] | null)[][] {
  const table: (number[] | null)[][] = [];
  forEachIndex(win.spatial, (x) => table.push(windowSlotsOf(win, x)));
  return table;
}

function checkExtra(name: string, t: Tensor | undefined, B: number, H: number, C: number): number {
  if (t === undefined) return 0;
  checkTensor(name, t, 4);
  const n = t.shape[2];
  if (!sameShape(t.shape, [B, H, n, C]))
    throw new RangeError(`${name} must be [B, H, nExtra, ${C}] = [${B}, ${H}, n, ${C}], got [${t.shape.join(', ')}]`);
  return n;
}

/** rpb element offset for query x and key kc (group-local relative positions per axis). */
function rpbOffset(
  rpbShape: readonly number[],
  win: ResolvedWindow,
  h: number,
  x: readonly number[],
  kc: readonly number[],
): number {
  const idx = [h];
  for (let a = 0; a < x.length; a++) {
    const d = win.dilation[a];
    const iLocal = Math.floor(x[a] / d);
    const jLocal = Math.floor(kc[a] / d);
    idx.push(jLocal - iLocal + win.kernelSize[a] - 1);
  }
  return flatIndex(rpbShape, idx); // bounds-checked
}

function checkRpb(rpb: Tensor | undefined, H: number, win: ResolvedWindow): void {
  if (rpb === undefined) return;
  checkTensor('rpb', rpb);
  const want = [H, ...win.kernelSize.map((k) => 2 * k - 1)];
  if (!sameShape(rpb.shape, want))
    throw new RangeError(`rpb must be [${want.join(', ')}], got [${rpb.shape.join(', ')}]`);
  if (win.isCausal.some((c) => c)) throw new RangeError('rpb is not supported with causal masking');
}

interface QKProblem {
  B: number;
  H: number;
  spatial: number[];
  D: number;
  K: number; // prod(kernelSize)
  nExtra: number;
  win: ResolvedWindow;
}

function describeQK(q: Tensor, k: Tensor, opts: QKOptions): QKProblem {
  const qs = splitShape('q', q);
  if (!sameShape(k.shape, q.shape))
    throw new RangeError(`k shape [${k.shape.join(', ')}] must equal q shape [${q.shape.join(', ')}]`);
  checkTensor('k', k);
  const win = resolveWindow(qs.spatial, opts);
  checkRpb(opts.rpb, qs.H, win);
  const nExtra = checkExtra('additionalKeys', opts.additionalKeys, qs.B, qs.H, qs.C);
  return { B: qs.B, H: qs.H, spatial: qs.spatial, D: qs.C, K: prod(win.kernelSize), nExtra, win };
}

/** attn [B, H, ...spatial, prod(kernelSize) + nExtra]. */
export function naQK(q: Tensor, k: Tensor, opts: QKOptions): Tensor {
  const pr = describeQK(q, k, opts);
  const cols = pr.K + pr.nExtra;
  const attn = zeros([pr.B, pr.H, ...pr.spatial, cols]);
  const table = slotTable(pr.win);
  const qkShape = [pr.B, pr.H, ...pr.spatial];
  forEachIndex([pr.B, pr.H], ([b, h]) => {
    forEachIndex(pr.spatial, (x, xFlat) => {
      const row = flatIndex(qkShape, [b, h, ...x]);
      const qOff = row * pr.D;
      table[xFlat].forEach((kc, w) => {
        if (kc === null) {
          attn.data[row * cols + w] = -Infinity;
          return;
        }
        let s = dot(q.data, qOff, k.data, flatIndex(qkShape, [b, h, ...kc]) * pr.D, pr.D);
        if (opts.rpb !== undefined) s += opts.rpb.data[rpbOffset(opts.rpb.shape, pr.win, h, x, kc)];
        attn.data[row * cols + w] = s;
      });
      for (let e = 0; e < pr.nExtra; e++) {
        const ek = opts.additionalKeys!;
        attn.data[row * cols + pr.K + e] = dot(
          q.data,
          qOff,
          ek.data,
          flatIndex([pr.B, pr.H, pr.nExtra], [b, h, e]) * pr.D,
          pr.D,
        );
      }
    });
  });
  return attn;
}

/**
 * Backward of naQK for loss = sum(dAttn * attn) over unmasked entries (dAttn at masked positions is
 * ignored): dq, dk, and drpb / dAdditionalKeys when rpb / additionalKeys are in opts.
 */
export function naQKBackward(dAttn: Tensor, q: Tensor, k: Tensor, opts: QKOptions): QKBackwardResult {
  const pr = describeQK(q, k, opts);
  const cols = pr.K + pr.nExtra;
  checkTensor('dAttn', dAttn);
  const attnShape = [pr.B, pr.H, ...pr.spatial, cols];
  if (!sameShape(dAttn.shape, attnShape))
    throw new RangeError(`dAttn must be [${attnShape.join(', ')}], got [${dAttn.shape.join(', ')}]`);

  const dq = zeros(q.shape);
  const dk = zeros(k.shape);
  const drpb = opts.rpb !== undefined ? zeros(opts.rpb.shape) : undefined;
  const dek = opts.additionalKeys !== undefined ? zeros(opts.additionalKeys.shape) : undefined;
  const table = slotTable(pr.win);
  const qkShape = [pr.B, pr.H, ...pr.spatial];
  forEachIndex([pr.B, pr.H], ([b, h]) => {
    forEachIndex(pr.spatial, (x, xFlat) => {
      const row = flatIndex(qkShape, [b, h, ...x]);
      const qOff = row * pr.D;
      table[xFlat].forEach((kc, w) => {
        if (kc === null) return;
        const g = dAttn.data[row * cols + w];
        const kOff = flatIndex(qkShape, [b, h, ...kc]) * pr.D;
        for (let c = 0; c < pr.D; c++) {
          dq.data[qOff + c] += g * k.data[kOff + c];
          dk.data[kOff + c] += g * q.data[qOff + c];
        }
        if (drpb !== undefined) drpb.data[rpbOffset(drpb.shape, pr.win, h, x, kc)] += g;
      });
      for (let e = 0; e < pr.nExtra; e++) {
        const ek = opts.additionalKeys!;
        const g = dAttn.data[row * cols + pr.K + e];
        const eOff = flatIndex([pr.B, pr.H, pr.nExtra], [b, h, e]) * pr.D;
        for (let c = 0; c < pr.D; c++) {
          dq.data[qOff + c] += g * ek.data[eOff + c];
          dek!.data[eOff + c] += g * q.data[qOff + c];
        }
      }
    });
  });
  const result: QKBackwardResult = { dq, dk };
  if (drpb !== undefined) result.drpb = drpb;
  if (dek !== undefined) result.dAdditionalKeys = dek;
  return result;
}

interface AVProblem {
  B: number;
  H: number;
  spatial: number[];
  Dv: number;
  K: number;
  nExtra: number;
  win: ResolvedWindow;
}

function describeAV(attn: Tensor, v: Tensor, opts: AVOptions): AVProblem {
  const vs = splitShape('v', v);
  checkTensor('attn', attn);
  const win = resolveWindow(vs.spatial, opts);
  const K = prod(win.kernelSize);
  const nExtra = checkExtra('additionalValues', opts.additionalValues, vs.B, vs.H, vs.C);
  const want = [vs.B, vs.H, ...vs.spatial, K + nExtra];
  if (!sameShape(attn.shape, want))
    throw new RangeError(`attn must be [${want.join(', ')}], got [${attn.shape.join(', ')}]`);
  return { B: vs.B, H: vs.H, spatial: vs.spatial, Dv: vs.C, K, nExtra, win };
}

/** out [B, H, ...spatial, Dv] = attn-weighted sum of window values (+ extra values). */
export function naAV(attn: Tensor, v: Tensor, opts: AVOptions): Tensor {
  const pr = describeAV(attn, v, opts);
  const cols = pr.K + pr.nExtra;
  const out = zeros([pr.B, pr.H, ...pr.spatial, pr.Dv]);
  const table = slotTable(pr.win);
  const vShape = [pr.B, pr.H, ...pr.spatial];
  forEachIndex([pr.B, pr.H], ([b, h]) => {
    forEachIndex(pr.spatial, (x, xFlat) => {
      const row = flatIndex(vShape, [b, h, ...x]);
      const oOff = row * pr.Dv;
      table[xFlat].forEach((kc, w) => {
        if (kc === null) return; // masked position: ignored
        const a = attn.data[row * cols + w];
        const vOff = flatIndex(vShape, [b, h, ...kc]) * pr.Dv;
        for (let c = 0; c < pr.Dv; c++) out.data[oOff + c] += a * v.data[vOff + c];
      });
      for (let e = 0; e < pr.nExtra; e++) {
        const ev = opts.additionalValues!;
        const a = attn.data[row * cols + pr.K + e];
        const eOff = flatIndex([pr.B, pr.H, pr.nExtra], [b, h, e]) * pr.Dv;
        for (let c = 0; c < pr.Dv; c++) out.data[oOff + c] += a * ev.data[eOff + c];
      }
    });
  });
  return out;
}

/** Backward of naAV: dAttn (0 at masked positions), dv, dAdditionalValues when additionalValues is given. */
export function naAVBackward(dOut: Tensor, attn: Tensor, v: Tensor, opts: AVOptions): AVBackwardResult {
  const pr = describeAV(attn, v, opts);
  const cols = pr.K + pr.nExtra;
  checkTensor('dOut', dOut);
  const outShape = [pr.B, pr.H, ...pr.spatial, pr.Dv];
  if (!sameShape(dOut.shape, outShape))
    throw new RangeError(`dOut must be [${outShape.join(', ')}], got [${dOut.shape.join(', ')}]`);
  const dAttn = zeros(attn.shape);
  const dv = zeros(v.shape);
  const dev = opts.additionalValues !== undefined ? zeros(opts.additionalValues.shape) : undefined;
  const table = slotTable(pr.win);
  const vShape = [pr.B, pr.H, ...pr.spatial];
  forEachIndex([pr.B, pr.H], ([b, h]) => {
    forEachIndex(pr.spatial, (x, xFlat) => {
      const row = flatIndex(vShape, [b, h, ...x]);
      const oOff = row * pr.Dv;
      table[xFlat].forEach((kc, w) => {
        if (kc === null) return; // dAttn stays 0
        const a = attn.data[row * cols + w];
        const vOff = flatIndex(vShape, [b, h, ...kc]) * pr.Dv;
        dAttn.data[row * cols + w] = dot(dOut.data, oOff, v.data, vOff, pr.Dv);
        for (let c = 0; c < pr.Dv; c++) dv.data[vOff + c] += a * dOut.data[oOff + c];
      });
      for (let e = 0; e < pr.nExtra; e++) {
        const ev = opts.additionalValues!;
        const a = attn.data[row * cols + pr.K + e];
        const eOff = flatIndex([pr.B, pr.H, pr.nExtra], [b, h, e]) * pr.Dv;
        dAttn.data[row * cols + pr.K + e] = dot(dOut.data, oOff, ev.data, eOff, pr.Dv);
        for (let c = 0; c < pr.Dv; c++) dev!.data[eOff + c] += a * dOut.data[oOff + c];
      }
    });
  });
  const result: AVBackwardResult = { dAttn, dv };
  if (dev !== undefined) result.dAdditionalValues = dev;
  return result;
}

/** Softmax over the last axis. -Infinity entries get 0; a row of only -Infinity gives all zeros. */
export function softmax(x: Tensor): Tensor;
export function softmax(x: Float64Array, shape: readonly number[]): Tensor;
export function softmax(x: Tensor | Float64Array, shape?: readonly number[]): Tensor {
  const t: Tensor = x instanceof Float64Array ? { data: x, shape: shape ?? [x.length] } : x;
  checkTensor('x', t);
  const n = t.shape[t.shape.length - 1];
  const out = zeros(t.shape);
  if (n === 0) return out;
  for (let r = 0; r * n < t.data.length; r++) {
    const o = r * n;
    let m = -Infinity;
    for (let c = 0; c < n; c++) m = Math.max(m, t.data[o + c]);
    if (m === -Infinity) continue; // no finite entry: zeros
    let s = 0;
    for (let c = 0; c < n; c++) s += Math.exp(t.data[o + c] - m);
    for (let c = 0; c < n; c++) out.data[o + c] = Math.exp(t.data[o + c] - m) / s;
  }
  return out;
}

/** Backward of softmax over the last axis: dx = y * (dy - sum(dy * y)), with y the softmax output. */
export function softmaxBackward(dy: Tensor, y: Tensor): Tensor {
  checkTensor('dy', dy);
  checkTensor('y', y);
  if (!sameShape(dy.shape, y.shape)) throw new RangeError('softmaxBackward: dy and y shapes differ');
  const n = y.shape[y.shape.length - 1];
  const dx = zeros(y.shape);
  if (n === 0) return dx;
  for (let r = 0; r * n < y.data.length; r++) {
    const o = r * n;
    let s = 0;
    for (let c = 0; c < n; c++) if (y.data[o + c] !== 0) s += dy.data[o + c] * y.data[o + c];
    for (let c = 0; c < n; c++) dx.data[o + c] = y.data[o + c] === 0 ? 0 : y.data[o + c] * (dy.data[o + c] - s);
  }
  return dx;
}
