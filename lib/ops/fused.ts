/**
 * Fused neighborhood attention (docs/design.md §6), layout [batch, ...spatial, heads, headDim]: one op computes
 * softmax(scale * Q K^T over each query's window and the additional keys) V without materialising the
 * attention weights, and its backward. K/V may have fewer heads than Q (GQA: heads_kv divides heads) and
 * V's head dim may differ from Q/K's.
 */
import {
  native,
  type NaBackwardOptions,
  type NaForwardOptions,
  type NaFusedInputs,
  type NativeFusedCallConfig,
} from '../native';
import { runTunable, type TunableCall } from '../autotuner/tuner';
import type { TunePass } from '../autotuner/types';
import { fusedConfig, FusedCallConfig } from '../context';
import { dtypeCode } from '../dtype';
import { rangeError, typeError } from '../errors';
import type { DType } from '../dtype';
import { Tensor } from '../tensor';
import { checkBackward, FusedCallParts, recordForward } from './backward_record';
import { warnIfFusedFallback } from './fallback_warning';
import {
  BACKWARD_KERNELS,
  type BackwardKernel,
  backwardArchOf,
  FORWARD_KERNELS,
  type ForwardKernel,
  forwardArchOf,
  isBackwardKernel,
  isForwardKernel,
} from './fused_configs';
import { allocLike, allocOutput, handleOrNull, nativeProblem, ProblemSizes, writing } from './problem';
import {
  boolArg,
  checkOptions,
  checkRank,
  checkSameDtypeDevice,
  checkShape,
  countArg,
  optionalTensorArg,
  resolveWindow,
  scaleArg,
  tensorArg,
  tileShapeArg,
  Window,
  WINDOW_KEYS,
  WindowOptions,
} from './validate';

/** Fused-kernel choices of one call (GPU only; the CPU engine accepts and ignores them). */
export interface FusedKernelOptions {
  /** Forward query tile shape, one entry per spatial axis (must be a compiled config). */
  qTileShape?: readonly number[];
  /** Forward key/value tile shape. */
  kvTileShape?: readonly number[];
  /** Backward query tile shape. */
  backwardQTileShape?: readonly number[];
  /** Backward key/value tile shape. */
  backwardKvTileShape?: readonly number[];
  /**
   * Forward kernel family on the GPU: `'mma'` (mma.sync, sm_80 and newer), `'wgmma'` (one warpgroup per CTA)
   * or `'wgmma-ws'` (warp-specialised: a TMA producer warpgroup and two ping-ponged consumer warpgroups); the
   * last two are compute capability 9.0 only (H100/H200). Default: the heuristic's choice. A family with no
   * compiled config for the problem on the device is an `ERR_NATTEN_UNSUPPORTED` RangeError; `fusedConfigs`
   * lists what exists.
   */
  forwardKernel?: ForwardKernel;
  /**
   * Backward kernel family on the GPU: `'mma'` (mma.sync, sm_80 and newer; the default) or `'wgmma'` (compute
   * capability 9.0 only: a producer warpgroup and two wgmma consumer warpgroups per 128-key tile, head dims
   * up to 128 in tiers 64 and 128). `'wgmma'` runs only where a call names it. A family with no compiled
   * config for the problem on the device is an `ERR_NATTEN_UNSUPPORTED` RangeError; `fusedConfigs` lists
   * the backward configs per family.
   */
  backwardKernel?: BackwardKernel;
  /** Number of KV splits of the backward (0: default). */
  kvSplits?: number;
  /** `'auto'` (default): fast fused kernels where available; `'reference'`: the simple reference kernels. */
  backend?: 'auto' | 'fused' | 'reference';
}

/** Options of the fused ops `na1d`, `na2d`, `na3d` and their backward. */
export interface NAOptions extends WindowOptions, FusedKernelOptions {
  /** Score scale (default headDim^-0.5). */
  scale?: number;
  /** Keys every query attends to besides its window: [batch, nExtra, headsKv, headDim]. */
  additionalKeys?: Tensor;
  /** Values of the additional keys: [batch, nExtra, headsKv, headDimV]. */
  additionalValues?: Tensor;
  /** Also return the logsumexp of the scores ([batch, ...spatial, heads], float32). */
  returnLse?: boolean;
}

/** Output and logsumexp of a fused forward; D: the dtype of q, k, v and the output. */
export interface NAResult<D extends DType = DType> {
  /** [batch, ...spatial, heads, headDimV] */
  output: Tensor<D>;
  /** Natural-log sum of exp of the scaled scores: [batch, ...spatial, heads], float32. */
  lse: Tensor<'float32'>;
}

/** Gradients of a fused forward, in the dtype D of its inputs. */
export interface NAGradients<D extends DType = DType> {
  dq: Tensor<D>;
  dk: Tensor<D>;
  dv: Tensor<D>;
  /** Present when additionalKeys were given. */
  dAdditionalKeys?: Tensor<D>;
  /** Present when additionalValues were given. */
  dAdditionalValues?: Tensor<D>;
}

/** Options of a fused forward that returns the output only (`returnLse` false or absent). */
export type NAOutputOptions = NAOptions & { returnLse?: false };
/** Options of a fused forward that returns the output and the logsumexp. */
export type NALseOptions = NAOptions & { returnLse: true };

const KERNEL_KEYS = [
  'qTileShape',
  'kvTileShape',
  'backwardQTileShape',
  'backwardKvTileShape',
  'forwardKernel',
  'backwardKernel',
  'kvSplits',
  'backend',
];
const FORWARD_KEYS = [...WINDOW_KEYS, ...KERNEL_KEYS, 'scale', 'additionalKeys', 'additionalValues', 'returnLse'];
const BACKWARD_KEYS = [...WINDOW_KEYS, ...KERNEL_KEYS, 'scale', 'additionalKeys', 'additionalValues'];

const LAYOUTS = ['', '[batch, X, heads, headDim]', '[batch, X, Y, heads, headDim]', '[batch, X, Y, Z, heads, headDim]'];
const V_LAYOUTS = LAYOUTS.map((l) => l.replace('headDim', 'headDimV'));

/** Everything a fused op call needs, validated. */
interface FusedCall {
  sizes: ProblemSizes;
  window: Window;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  ek?: Tensor;
  ev?: Tensor;
  config: FusedCallConfig;
}

function kernelConfig(fn: string, opts: NAOptions, dims: number): FusedCallConfig {
  const backend = opts.backend ?? 'auto';
  if (!['auto', 'fused', 'reference'].includes(backend)) {
    throw rangeError(
      'ERR_NATTEN_INVALID_ARG_VALUE',
      `${fn}: backend must be 'auto', 'fused' or 'reference', got ${JSON.stringify(backend)}`,
    );
  }
  const kernel = opts.forwardKernel;
  if (kernel !== undefined && !isForwardKernel(kernel)) {
    throw rangeError(
      'ERR_NATTEN_INVALID_ARG_VALUE',
      `${fn}: forwardKernel must be one of ${FORWARD_KERNELS.map((k) => `'${k}'`).join(', ')}, got ${JSON.stringify(kernel)}`,
    );
  }
  const bwd = opts.backwardKernel;
  if (bwd !== undefined && !isBackwardKernel(bwd)) {
    throw rangeError(
      'ERR_NATTEN_INVALID_ARG_VALUE',
      `${fn}: backwardKernel must be one of ${BACKWARD_KERNELS.map((k) => `'${k}'`).join(', ')}, got ${JSON.stringify(bwd)}`,
    );
  }
  return {
    forwardArch: kernel === undefined ? undefined : forwardArchOf(kernel),
    backwardArch: bwd === undefined ? undefined : backwardArchOf(bwd),
    qTileShape: tileShapeArg(fn, opts.qTileShape, 'qTileShape', dims),
    kvTileShape: tileShapeArg(fn, opts.kvTileShape, 'kvTileShape', dims),
    backwardQTileShape: tileShapeArg(fn, opts.backwardQTileShape, 'backwardQTileShape', dims),
    backwardKvTileShape: tileShapeArg(fn, opts.backwardKvTileShape, 'backwardKvTileShape', dims),
    kvSplits: countArg(fn, opts.kvSplits, 'kvSplits'),
    useReference: backend === 'reference',
  };
}

/** Validates q, k, v and the options of a fused op with `dims` spatial axes. */
function fusedCall(
  fn: string,
  dims: number,
  qa: unknown,
  ka: unknown,
  va: unknown,
  opts: NAOptions,
  keys: readonly string[],
): FusedCall {
  checkOptions(fn, opts, keys);
  const q = tensorArg(fn, qa, 'q'),
    k = tensorArg(fn, ka, 'k'),
    v = tensorArg(fn, va, 'v');
  const rank = dims + 3;
  checkRank(fn, q, 'q', rank, LAYOUTS[dims]);
  checkRank(fn, k, 'k', rank, LAYOUTS[dims]);
  checkRank(fn, v, 'v', rank, V_LAYOUTS[dims]);
  checkSameDtypeDevice(fn, [
    [q, 'q'],
    [k, 'k'],
    [v, 'v'],
  ]);
  const batch = q.shape[0],
    spatial = q.shape.slice(1, dims + 1),
    heads = q.shape[dims + 1],
    headDim = q.shape[dims + 2];
  const headsKv = k.shape[dims + 1],
    headDimV = v.shape[dims + 2];
  checkShape(
    fn,
    k,
    'k',
    [batch, ...spatial, headsKv, headDim],
    `q's batch, spatial and head-dim sizes with k's ${headsKv} heads`,
  );
  checkShape(fn, v, 'v', [batch, ...spatial, headsKv, headDimV], `k's batch, spatial and head sizes with v's head dim`);
  if (heads % headsKv !== 0) {
    throw rangeError(
      'ERR_NATTEN_INVALID_SHAPE',
      `${fn}: k/v have ${headsKv} heads, which must divide q's ${heads} heads (GQA/MQA)`,
    );
  }
  const window = resolveWindow(fn, opts, spatial, 'q');
  const scale = scaleArg(fn, opts.scale, headDim);
  const ek = optionalTensorArg(fn, opts.additionalKeys, 'additionalKeys');
  const ev = optionalTensorArg(fn, opts.additionalValues, 'additionalValues');
  if ((ek === undefined) !== (ev === undefined)) {
    throw rangeError(
      'ERR_NATTEN_INVALID_ARG_VALUE',
      `${fn}: additionalKeys and additionalValues must be given together (got only ${ek ? 'additionalKeys' : 'additionalValues'})`,
    );
  }
  let nExtra = 0;
  if (ek && ev) {
    checkRank(fn, ek, 'additionalKeys', 4, '[batch, nExtra, headsKv, headDim]');
    nExtra = ek.shape[1];
    checkShape(fn, ek, 'additionalKeys', [batch, nExtra, headsKv, headDim], '[batch, nExtra, headsKv, headDim]');
    checkShape(fn, ev, 'additionalValues', [batch, nExtra, headsKv, headDimV], '[batch, nExtra, headsKv, headDimV]');
    checkSameDtypeDevice(fn, [
      [q, 'q'],
      [ek, 'additionalKeys'],
      [ev, 'additionalValues'],
    ]);
  }
  return {
    sizes: { batch, heads, headsKv, headDim, headDimV, spatial, nExtra, scale, hasRpb: false },
    window,
    q,
    k,
    v,
    ek,
    ev,
    config: kernelConfig(fn, opts, dims),
  };
}

/** True when a call chose the kernel of `pass` itself: the autotuner leaves such calls alone. */
function chosenByCall(pass: TunePass, c: NativeFusedCallConfig): boolean {
  if (c.useReference) return true;
  if (pass === 'forward') return !!(c.qTileShape || c.kvTileShape || c.forwardArch !== undefined);
  return !!(c.backwardQTileShape || c.backwardKvTileShape || c.kvSplits || c.backwardArch !== undefined);
}

/** What the backward contract compares of a validated call (lib/ops/backward_record.ts). */
function contractParts(c: FusedCall): FusedCallParts {
  return { window: c.window, scale: c.sizes.scale, nExtra: c.sizes.nExtra, q: c.q, k: c.k, v: c.v, ek: c.ek, ev: c.ev };
}

/** Before a validated call runs: the one-time warning if its GPU lacks the fused kernels (not asked of backend 'reference'). */
function warnFallback(c: FusedCall): void {
  if (!c.config.useReference) warnIfFusedFallback(c.q.device);
}

/** The addon's options for a validated fused call: what it reads, and `rest` (what it writes). */
function nativeOptions<T extends object>(c: FusedCall, rest: T): NaFusedInputs & T {
  // Added to one literal (Object.assign), not spread into a copy: the addon reads a spread copy's fields
  // several times slower, on the JS thread of every op.
  const inputs: NaFusedInputs = {
    dtype: dtypeCode(c.q.dtype),
    problem: nativeProblem(c.sizes, c.window),
    q: c.q.handle('q'),
    k: c.k.handle('k'),
    v: c.v.handle('v'),
    additionalKeys: handleOrNull(c.ek, 'additionalKeys'),
    additionalValues: handleOrNull(c.ev, 'additionalValues'),
    config: fusedConfig(c.config),
  };
  return Object.assign(inputs, rest);
}

/** Runs the fused op's argument checks only (the unfused chain of neighborhoodAttention uses them). @internal */
export function validateFused(fn: string, dims: number, q: unknown, k: unknown, v: unknown, opts: NAOptions): void {
  fusedCall(fn, dims, q, k, v, opts, BACKWARD_KEYS);
}

/** A validated fused forward, its outputs allocated, as the autotuner takes it. @internal */
export interface ForwardPass {
  call: TunableCall<NaForwardOptions>;
  output: Tensor;
  /** The LSE the forward writes (absent when forwardPass was asked for none). */
  lse?: Tensor<'float32'>;
  /** What the backward contract records of this call. */
  parts: FusedCallParts;
}

/** A validated fused backward, its gradients allocated, as the autotuner takes it. @internal */
export interface BackwardPass {
  call: TunableCall<NaBackwardOptions>;
  grads: NAGradients;
}

/** The tunable call of a validated fused call. */
function tunableCall<O extends NaForwardOptions | NaBackwardOptions>(
  pass: TunePass,
  c: FusedCall,
  options: O,
  launch: (o: O) => void,
): TunableCall<O> {
  return {
    device: c.q.device,
    pass,
    dtype: c.q.dtype,
    problem: options.problem,
    options,
    explicit: chosenByCall(pass, c.config),
    launch,
  };
}

/** Validates a fused forward under the name `fn` and allocates its outputs; nothing runs yet. @internal */
export function forwardPass(
  fn: string,
  dims: number,
  q: unknown,
  k: unknown,
  v: unknown,
  opts: NAOptions,
  withLse = true,
): ForwardPass {
  const c = fusedCall(fn, dims, q, k, v, opts, FORWARD_KEYS);
  const s = c.sizes;
  warnFallback(c);
  const output = allocOutput([s.batch, ...s.spatial, s.heads, s.headDimV], c.q.dtype, c.q);
  const lse = withLse ? allocOutput([s.batch, ...s.spatial, s.heads], 'float32', c.q) : undefined;
  let call: TunableCall<NaForwardOptions> | undefined;
  writing(lse ? [output, lse] : [output], () => {
    const options = nativeOptions(
      c,
      lse ? { output: output.handle(), lse: lse.handle() } : { output: output.handle() },
    );
    call = tunableCall('forward', c, options, (o) => native.naForward(o));
  });
  return { call: call!, output, lse, parts: contractParts(c) };
}

/** The fused forward under the name `fn` (for error messages). @internal */
export function fusedForward(
  fn: string,
  dims: number,
  q: unknown,
  k: unknown,
  v: unknown,
  opts: NAOptions,
): Tensor | NAResult {
  const returnLse = boolArg(fn, opts.returnLse, 'returnLse', false);
  // Without returnLse no LSE is allocated or written (the kernels skip it).
  const { call, output, lse, parts } = forwardPass(fn, dims, q, k, v, opts, returnLse);
  writing(lse ? [output, lse] : [output], () => runTunable(call));
  recordForward(parts, output, lse);
  return lse ? { output, lse } : output;
}

/** Validates a fused backward under the name `fn` and allocates its gradients; nothing runs yet. @internal */
export function backwardPass(
  fn: string,
  dims: number,
  dOutA: unknown,
  q: unknown,
  k: unknown,
  v: unknown,
  outA: unknown,
  lseA: unknown,
  opts: NAOptions,
): BackwardPass {
  const c = fusedCall(fn, dims, q, k, v, opts, BACKWARD_KEYS);
  const s = c.sizes;
  const dOut = tensorArg(fn, dOutA, 'dOut'),
    output = tensorArg(fn, outA, 'output'),
    lse = tensorArg(fn, lseA, 'lse');
  const outShape = [s.batch, ...s.spatial, s.heads, s.headDimV];
  checkShape(fn, dOut, 'dOut', outShape, "the forward output's shape [batch, ...spatial, heads, headDimV]");
  checkShape(fn, output, 'output', outShape, '[batch, ...spatial, heads, headDimV]');
  checkShape(fn, lse, 'lse', [s.batch, ...s.spatial, s.heads], '[batch, ...spatial, heads]');
  checkSameDtypeDevice(fn, [
    [c.q, 'q'],
    [dOut, 'dOut'],
    [output, 'output'],
  ]);
  if (lse.dtype !== 'float32') {
    throw typeError(
      'ERR_NATTEN_DTYPE_MISMATCH',
      `${fn}: lse must be float32 (as the forward returns it), got ${lse.dtype}`,
    );
  }
  if (lse.device !== c.q.device) {
    throw typeError('ERR_NATTEN_DEVICE_MISMATCH', `${fn}: lse is on ${lse.device} but q is on ${c.q.device}`);
  }
  checkBackward(fn, contractParts(c), output, lse);
  warnFallback(c);
  const dq = allocLike(c.q, c.q);
  const dk = allocLike(c.k, c.q);
  const dv = allocLike(c.v, c.q);
  const dek = allocLike(c.ek, c.q);
  const dev = allocLike(c.ev, c.q);
  let call: TunableCall<NaBackwardOptions> | undefined;
  writing([dq, dk, dv, dek, dev], () => {
    const options = nativeOptions(c, {
      output: output.handle('output'),
      lse: lse.handle('lse'),
      dOut: dOut.handle('dOut'),
      dq: dq.handle(),
      dk: dk.handle(),
      dv: dv.handle(),
      dAdditionalKeys: handleOrNull(dek, 'dek'),
      dAdditionalValues: handleOrNull(dev, 'dev'),
    });
    call = tunableCall('backward', c, options, (o) => native.naBackward(o));
  });
  const grads: NAGradients = { dq, dk, dv };
  if (dek) grads.dAdditionalKeys = dek;
  if (dev) grads.dAdditionalValues = dev;
  return { call: call!, grads };
}

function backward(
  fn: string,
  dims: number,
  dOut: unknown,
  q: unknown,
  k: unknown,
  v: unknown,
  output: unknown,
  lse: unknown,
  opts: NAOptions,
): NAGradients {
  const { call, grads } = backwardPass(fn, dims, dOut, q, k, v, output, lse, opts);
  const g = grads;
  writing([g.dq, g.dk, g.dv, g.dAdditionalKeys, g.dAdditionalValues], () => runTunable(call));
  return grads;
}

/** A fused forward op (`na1d`, `na2d`, `na3d`): what it returns follows `returnLse`. */
export interface NAForward {
  /** `returnLse: true`: the output and its logsumexp. */
  <D extends DType>(q: Tensor<D>, k: Tensor<D>, v: Tensor<D>, opts: NALseOptions): NAResult<D>;
  /** `returnLse` false or absent: the output. */
  <D extends DType>(q: Tensor<D>, k: Tensor<D>, v: Tensor<D>, opts: NAOutputOptions): Tensor<D>;
  /** `returnLse` known only at run time (a boolean): either. */
  <D extends DType>(q: Tensor<D>, k: Tensor<D>, v: Tensor<D>, opts: NAOptions): Tensor<D> | NAResult<D>;
}

/** A fused backward op (`na1dBackward`, ...): gradients in the inputs' dtype. */
export type NABackward = <D extends DType>(
  dOut: Tensor<D>,
  q: Tensor<D>,
  k: Tensor<D>,
  v: Tensor<D>,
  output: Tensor<D>,
  lse: Tensor<'float32'>,
  opts: NAOptions,
) => NAGradients<D>;

function forwardOp(fn: string, dims: number): NAForward {
  return ((q: Tensor, k: Tensor, v: Tensor, opts: NAOptions) => fusedForward(fn, dims, q, k, v, opts)) as NAForward;
}
function backwardOp(fn: string, dims: number): NABackward {
  return ((dOut: Tensor, q: Tensor, k: Tensor, v: Tensor, output: Tensor, lse: Tensor, opts: NAOptions) =>
    backward(fn, dims, dOut, q, k, v, output, lse, opts)) as NABackward;
}

/** 1-D fused neighborhood attention: q [batch, X, heads, headDim], k/v [batch, X, headsKv, headDim(V)]. */
export const na1d: NAForward = forwardOp('na1d', 1);
/** 2-D fused neighborhood attention: q [batch, X, Y, heads, headDim], k/v [batch, X, Y, headsKv, headDim(V)]. */
export const na2d: NAForward = forwardOp('na2d', 2);
/** 3-D fused neighborhood attention: q [batch, X, Y, Z, heads, headDim], k/v [batch, X, Y, Z, headsKv, headDim(V)]. */
export const na3d: NAForward = forwardOp('na3d', 3);

/** Backward of {@link na1d}: gradients of q, k, v (and the additional keys/values) from dOut, the forward's output and lse. */
export const na1dBackward: NABackward = backwardOp('na1dBackward', 1);
/** Backward of {@link na2d}. */
export const na2dBackward: NABackward = backwardOp('na2dBackward', 2);
/** Backward of {@link na3d}. */
export const na3dBackward: NABackward = backwardOp('na3dBackward', 3);
