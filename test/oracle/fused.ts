// fp64 oracle for the fused NA ops (docs/design.md §5 and §6), layout [B, ...spatial, H, D]:
//   Q [B, ...spatial, H, D], K [B, ...spatial, Hkv, D], V [B, ...spatial, Hkv, Dv],
//   additionalKeys [B, nExtra, Hkv, D], additionalValues [B, nExtra, Hkv, Dv].
// Query head h reads key/value head floor(h * Hkv / H). Every query attends to its window keys
// (window.ts) and to all nExtra additional keys. One query row at a time, textbook formulas.

import { checkTensor, flatIndex, forEachIndex, kvHeadOf, type Tensor, zeros } from './util';
import { type NAOptions, neighborsOf, resolveWindow, type ResolvedWindow } from './window';

export interface FusedOptions extends NAOptions {
  /** Score scale; default D^-0.5. */
  scale?: number;
  /** [B, nExtra, Hkv, D]; must come with additionalValues. */
  additionalKeys?: Tensor;
  /** [B, nExtra, Hkv, Dv]; must come with additionalKeys. */
  additionalValues?: Tensor;
}

export interface FusedForwardResult {
  /** [B, ...spatial, H, Dv] */
  output: Tensor;
  /** [B, ...spatial, H]: natural-log sum of exp of the scaled scores over window and extra keys. */
  lse: Tensor;
}

export interface FusedBackwardResult {
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
  /** present iff additionalKeys was given */
  dAdditionalKeys?: Tensor;
  /** present iff additionalValues was given */
  dAdditionalValues?: Tensor;
}

/** Where one key of a query row lives: offsets (in elements) of its key and value vectors. */
interface KeyRef {
  extra: boolean; // true: additionalKeys/Values, false: K/V
  kOff: number;
  vOff: number;
}

interface FusedProblem {
  B: number;
  spatial: number[];
  H: number;
  Hkv: number;
  D: number;
  Dv: number;
  nExtra: number;
  scale: number;
  window: ResolvedWindow;
  extraK?: Tensor;
  extraV?: Tensor;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function describeProblem(q: Tensor, k: Tensor, v: Tensor, p: FusedOptions): FusedProblem {
  checkTensor('q', q);
  checkTensor('k', k);
  checkTensor('v', v);
  const r = q.shape.length;
  if (r < 4) throw new RangeError(`q must be [B, ...spatial, H, D] with 1+ spatial axes, got [${q.shape.join(', ')}]`);
  if (k.shape.length !== r || v.shape.length !== r) throw new RangeError('q, k, v must have the same rank');
  const B = q.shape[0];
  const spatial = q.shape.slice(1, r - 2);
  const H = q.shape[r - 2];
  const D = q.shape[r - 1];
  const Hkv = k.shape[r - 2];
  const Dv = v.shape[r - 1];
  if (!sameShape(k.shape, [B, ...spatial, Hkv, D]))
    throw new RangeError(`k shape [${k.shape.join(', ')}] does not match q`);
  if (!sameShape(v.shape, [B, ...spatial, Hkv, Dv]))
    throw new RangeError(`v shape [${v.shape.join(', ')}] does not match k`);
  if (Hkv < 1 || H % Hkv !== 0) throw new RangeError(`kv heads ${Hkv} must divide query heads ${H}`);

  const window = resolveWindow(spatial, p);
  const scale = p.scale ?? 1 / Math.sqrt(D);

  let nExtra = 0;
  if ((p.additionalKeys === undefined) !== (p.additionalValues === undefined)) {
    throw new RangeError('additionalKeys and additionalValues must be given together');
  }
  if (p.additionalKeys !== undefined && p.additionalValues !== undefined) {
    checkTensor('additionalKeys', p.additionalKeys, 4);
    checkTensor('additionalValues', p.additionalValues, 4);
    nExtra = p.additionalKeys.shape[1];
    if (!sameShape(p.additionalKeys.shape, [B, nExtra, Hkv, D])) {
      throw new RangeError(`additionalKeys must be [B, nExtra, Hkv, D] = [${B}, ${nExtra}, ${Hkv}, ${D}]`);
    }
    if (!sameShape(p.additionalValues.shape, [B, nExtra, Hkv, Dv])) {
      throw new RangeError(`additionalValues must be [B, nExtra, Hkv, Dv] = [${B}, ${nExtra}, ${Hkv}, ${Dv}]`);
    }
  }
  return { B, spatial, H, Hkv, D, Dv, nExtra, scale, window, extraK: p.additionalKeys, extraV: p.additionalValues };
}

/** The keys of query (b, x, h): window keys in row-major kernel order, then the extra keys. */
function keyRefs(pr: FusedProblem, b: number, x: readonly number[], h: number): KeyRef[] {
  const hk = kvHeadOf(h, pr.H, pr.Hkv);
  const kvShape = [pr.B, ...pr.spatial, pr.Hkv];
  const refs: KeyRef[] = [];
  for (const kc of neighborsOf(pr.window, x)) {
    const row = flatIndex(kvShape, [b, ...kc, hk]);
    refs.push({ extra: false, kOff: row * pr.D, vOff: row * pr.Dv });
  }
  for (let e = 0; e < pr.nExtra; e++) {
    const row = flatIndex([pr.B, pr.nExtra, pr.Hkv], [b, e, hk]);
    refs.push({ extra: true, kOff: row * pr.D, vOff: row * pr.Dv });
  }
  return refs;
}

function dot(a: Float64Array, aOff: number, b: Float64Array, bOff: number, n: number): number {
  let s = 0;
  for (let c = 0; c < n; c++) s += a[aOff + c] * b[bOff + c];
  return s;
}

/** log(sum(exp(x))) computed stably; -Infinity for an empty list. */
function logSumExp(xs: readonly number[]): number {
  if (xs.length === 0) return -Infinity;
  const m = Math.max(...xs);
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (const x of xs) s += Math.exp(x - m);
  return m + Math.log(s);
}

/** Scaled scores scale * q.k for every key of the row, and their softmax. */
function rowScoresAndProbs(
  pr: FusedProblem,
  q: Tensor,
  qOff: number,
  k: Tensor,
  refs: readonly KeyRef[],
): { scores: number[]; probs: number[]; lse: number } {
  const scores = refs.map((r) => pr.scale * dot(q.data, qOff, r.extra ? pr.extraK!.data : k.data, r.kOff, pr.D));
  const lse = logSumExp(scores);
  const probs = scores.map((s) => (lse === -Infinity ? 0 : Math.exp(s - lse)));
  return { scores, probs, lse };
}

/** Fused NA forward. Returns output [B, ...spatial, H, Dv] and lse [B, ...spatial, H]. */
export function naForward(q: Tensor, k: Tensor, v: Tensor, p: FusedOptions): FusedForwardResult {
  const pr = describeProblem(q, k, v, p);
  const output = zeros([pr.B, ...pr.spatial, pr.H, pr.Dv]);
  const lse = zeros([pr.B, ...pr.spatial, pr.H]);
  const rowShape = [pr.B, ...pr.spatial, pr.H];

  forEachIndex([pr.B, ...pr.spatial], (bx) => {
    const b = bx[0];
    const x = bx.slice(1);
    for (let h = 0; h < pr.H; h++) {
      const row = flatIndex(rowShape, [b, ...x, h]);
      const refs = keyRefs(pr, b, x, h);
      const { probs, lse: rowLse } = rowScoresAndProbs(pr, q, row * pr.D, k, refs);
      lse.data[row] = rowLse; // -Infinity (and output 0) for a row without keys, which cannot happen
      for (let t = 0; t < refs.length; t++) {
        const vData = refs[t].extra ? pr.extraV!.data : v.data;
        for (let c = 0; c < pr.Dv; c++) output.data[row * pr.Dv + c] += probs[t] * vData[refs[t].vOff + c];
      }
    }
  });
  return { output, lse };
}

/**
 * Fused NA backward, textbook formulas per query row:
 *   P = softmax(scale * q.K^T) (recomputed here in fp64), dV += P^T dO, dP = dO V^T,
 *   delta = rowsum(dO * O) (O = the given `output`), dS = P * (dP - delta),
 *   dQ = scale * dS K, dK += scale * dS^T Q.
 * Gradients of kv heads shared by several query heads (GQA) accumulate.
 * `lse` is accepted for signature parity with the public naXdBackward ops and only shape-checked;
 * P is recomputed from q and k, so the result is the exact fp64 gradient when `output` is exact.
 */
export function naBackward(
  dOut: Tensor,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  output: Tensor,
  lse: Tensor,
  p: FusedOptions,
): FusedBackwardResult {
  const pr = describeProblem(q, k, v, p);
  const outShape = [pr.B, ...pr.spatial, pr.H, pr.Dv];
  const rowShape = [pr.B, ...pr.spatial, pr.H];
  checkTensor('dOut', dOut);
  checkTensor('output', output);
  checkTensor('lse', lse);
  if (!sameShape(dOut.shape, outShape)) throw new RangeError(`dOut must be [${outShape.join(', ')}]`);
  if (!sameShape(output.shape, outShape)) throw new RangeError(`output must be [${outShape.join(', ')}]`);
  if (!sameShape(lse.shape, rowShape)) throw new RangeError(`lse must be [${rowShape.join(', ')}]`);

  const dq = zeros(q.shape);
  const dk = zeros(k.shape);
  const dv = zeros(v.shape);
  const dek = pr.extraK !== undefined ? zeros(pr.extraK.shape) : undefined;
  const dev = pr.extraV !== undefined ? zeros(pr.extraV.shape) : undefined;

  forEachIndex([pr.B, ...pr.spatial], (bx) => {
    const b = bx[0];
    const x = bx.slice(1);
    for (let h = 0; h < pr.H; h++) {
      const row = flatIndex(rowShape, [b, ...x, h]);
      const qOff = row * pr.D;
      const oOff = row * pr.Dv;
      const refs = keyRefs(pr, b, x, h);
      const { probs } = rowScoresAndProbs(pr, q, qOff, k, refs);
      const delta = dot(dOut.data, oOff, output.data, oOff, pr.Dv);
      for (let t = 0; t < refs.length; t++) {
        const r = refs[t];
        const kData = r.extra ? pr.extraK!.data : k.data;
        const vData = r.extra ? pr.extraV!.data : v.data;
        const dkData = r.extra ? dek!.data : dk.data;
        const dvData = r.extra ? dev!.data : dv.data;
        // dV_t += P_t * dO
        for (let c = 0; c < pr.Dv; c++) dvData[r.vOff + c] += probs[t] * dOut.data[oOff + c];
        // dP_t = dO . V_t ; dS_t = P_t (dP_t - delta)
        const dP = dot(dOut.data, oOff, vData, r.vOff, pr.Dv);
        const dS = probs[t] * (dP - delta);
        // dQ += scale dS_t K_t ; dK_t += scale dS_t Q
        for (let c = 0; c < pr.D; c++) {
          dq.data[qOff + c] += pr.scale * dS * kData[r.kOff + c];
          dkData[r.kOff + c] += pr.scale * dS * q.data[qOff + c];
        }
      }
    }
  });

  const result: FusedBackwardResult = { dq, dk, dv };
  if (dek !== undefined) result.dAdditionalKeys = dek;
  if (dev !== undefined) result.dAdditionalValues = dev;
  return result;
}
