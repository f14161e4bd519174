/**
 * The backward contract of the fused ops (docs/design.md §6, "Backward contract"): a fused forward records,
 * on its output (and its lse), the window, the scale, the number of additional keys and the identities of
 * the tensors it read; the backward given that output checks its own options and tensors against the record
 * and throws ERR_NATTEN_BACKWARD_MISMATCH naming what differs. An output without a record (converted with
 * `.to()`, rebuilt, reshaped, or from elsewhere) is not checked.
 *
 * Nothing here keeps a tensor alive: records are WeakMap entries keyed by the output tensors, and they name
 * the inputs by a number drawn once per tensor object (itself a WeakMap entry), never by reference.
 * @internal
 */
import { rangeError } from '../errors';
import { Tensor } from '../tensor';
import type { Window } from './validate';

/** What a fused forward read, as its backward must see it again. */
export interface ForwardRecord {
  window: Window;
  scale: number;
  nExtra: number;
  /** Identities (tensorId) of q, k, v and the additional keys/values (0: absent). */
  q: number;
  k: number;
  v: number;
  additionalKeys: number;
  additionalValues: number;
}

/** The tensors and options of one fused call. */
export interface FusedCallParts {
  window: Window;
  scale: number;
  nExtra: number;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  ek?: Tensor;
  ev?: Tensor;
}

const ids = new WeakMap<Tensor, number>();
let nextId = 1;
const records = new WeakMap<Tensor, ForwardRecord>();

/** A number that names this tensor object for as long as it lives (never reused). */
function tensorId(t: Tensor | undefined): number {
  if (t === undefined) return 0;
  let id = ids.get(t);
  if (id === undefined) {
    id = nextId++;
    ids.set(t, id);
  }
  return id;
}

/** Records the forward `c` on its output and, when returned, its lse. */
export function recordForward(c: FusedCallParts, output: Tensor, lse?: Tensor): void {
  const rec: ForwardRecord = {
    window: c.window,
    scale: c.scale,
    nExtra: c.nExtra,
    q: tensorId(c.q),
    k: tensorId(c.k),
    v: tensorId(c.v),
    additionalKeys: tensorId(c.ek),
    additionalValues: tensorId(c.ev),
  };
  records.set(output, rec);
  if (lse) records.set(lse, rec);
}

const show = (xs: readonly (number | boolean)[]): string => `[${xs.join(', ')}]`;
const same = (a: readonly (number | boolean)[], b: readonly (number | boolean)[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** True when two forwards read the same tensors with the same options (their outputs are interchangeable). */
function sameRecord(a: ForwardRecord, b: ForwardRecord): boolean {
  const keys = Object.keys(a.window) as (keyof Window)[];
  return (
    keys.every((k) => same(a.window[k], b.window[k])) &&
    a.scale === b.scale &&
    a.nExtra === b.nExtra &&
    a.q === b.q &&
    a.k === b.k &&
    a.v === b.v &&
    a.additionalKeys === b.additionalKeys &&
    a.additionalValues === b.additionalValues
  );
}

/** The options of the backward that differ from the record, each as `name is X, the forward used Y`. */
function optionDifferences(rec: ForwardRecord, c: FusedCallParts): string[] {
  const out: string[] = [];
  const axes: [keyof Window, string][] = [
    ['kernel', 'kernelSize'],
    ['dilation', 'dilation'],
    ['stride', 'stride'],
    ['causal', 'isCausal'],
  ];
  for (const [key, name] of axes) {
    if (!same(c.window[key], rec.window[key]))
      out.push(`${name} is ${show(c.window[key])}, the forward used ${show(rec.window[key])}`);
  }
  if (c.scale !== rec.scale) out.push(`scale is ${c.scale}, the forward used ${rec.scale}`);
  if (c.nExtra !== rec.nExtra)
    out.push(`${c.nExtra} additional keys/values are given, the forward attended to ${rec.nExtra}`);
  return out;
}

/** The tensors of the backward that are not the ones the forward read. */
function tensorDifferences(rec: ForwardRecord, c: FusedCallParts): string[] {
  const given: [string, Tensor | undefined, number][] = [
    ['q', c.q, rec.q],
    ['k', c.k, rec.k],
    ['v', c.v, rec.v],
    ['additionalKeys', c.ek, rec.additionalKeys],
    ['additionalValues', c.ev, rec.additionalValues],
  ];
  const differ = given.filter(([, t, id]) => t !== undefined && id !== 0 && tensorId(t) !== id).map(([n]) => n);
  if (differ.length === 0) return [];
  if (['q', 'k', 'v'].every((n) => differ.includes(n)))
    return ['output was produced by a forward of other q, k and v tensors (the output of another call?)'];
  return differ.map((n) => `${n} is not the tensor the forward that produced output read`);
}

/**
 * Throws ERR_NATTEN_BACKWARD_MISMATCH when `output` carries a forward record that the backward call `c`
 * (and its `lse`) contradicts. No record on output: nothing is checked.
 */
export function checkBackward(fn: string, c: FusedCallParts, output: Tensor, lse: Tensor): void {
  const rec = records.get(output);
  if (rec === undefined) return;
  const problems = [...optionDifferences(rec, c), ...tensorDifferences(rec, c)];
  const lseRec = records.get(lse);
  if (lseRec !== undefined && !sameRecord(lseRec, rec))
    problems.push("lse comes from a forward of other options or tensors than output's");
  if (problems.length === 0) return;
  throw rangeError(
    'ERR_NATTEN_BACKWARD_MISMATCH',
    `${fn}: the backward does not match the forward that produced output: ${problems.join('; ')}`,
  );
}
