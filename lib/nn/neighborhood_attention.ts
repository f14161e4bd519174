/**
 * NeighborhoodAttention1D/2D/3D modules (docs/design.md §6 "Modules"), NATTEN's PyTorch modules on
 * [batch, ...spatial, embedDim]: qkv linear, neighborhood attention per head, output projection, with
 * NATTEN's parameter names and shapes so a PyTorch state_dict loads unchanged.
 */
import { debuglog } from 'util';
import { isFusedNAEnabled } from '../context';
import { deviceIndex, deviceName, type DeviceLike, type DeviceName } from '../device';
import type { DType } from '../dtype';
import { argTypeError, rangeError } from '../errors';
import { checkDtype, randn, Tensor, zeros } from '../tensor';
import { fusedForward, na1dBackward, na2dBackward, na3dBackward, type NAOptions, type NAResult } from '../ops/fused';
import { toFused, toUnfused } from '../ops/layout';
import { linear, linearChunks } from '../ops/linear';
import { linearBackward } from '../ops/linear_backward';
import { mul } from '../ops/elementwise';
import { concat, split, unstack } from '../ops/shape_ops';
import { softmax, softmaxBackward } from '../ops/softmax';
import {
  na1dAV,
  na1dAVBackward,
  na1dQK,
  na1dQKBackward,
  na2dAV,
  na2dAVBackward,
  na2dQK,
  na2dQKBackward,
  na3dAV,
  na3dAVBackward,
  na3dQK,
  na3dQKBackward,
} from '../ops/unfused';
import { checkShape, tensorArg, type PerAxis } from '../ops/validate';
import { Module, type Saved } from './module';

const log = debuglog('natten');

/** Options of the NeighborhoodAttention modules (NATTEN's constructor arguments). */
export interface NeighborhoodAttentionModuleOptions {
  /** Channels C of the input and output. */
  embedDim: number;
  /** Attention heads; divides embedDim. */
  numHeads: number;
  /** Window size per spatial axis (>= 2). */
  kernelSize: PerAxis<number>;
  /** Dilation per axis (default 1). */
  dilation?: PerAxis<number>;
  /** Stride per axis (default 1). */
  stride?: PerAxis<number>;
  /** Causal masking per axis (default false). */
  isCausal?: PerAxis<boolean>;
  /** Bias in the qkv projection (default true). */
  qkvBias?: boolean;
  /** Score scale (default headDim^-0.5). */
  qkScale?: number;
  /** Relative positional bias `rpb` [numHeads, 2k-1 per axis] added to the scaled scores (default false). */
  relPosBias?: boolean;
  /** Device of the parameters (default 'cpu'). */
  device?: DeviceLike;
  /** Dtype of the parameters and of the inputs forward takes (default 'float32'). */
  dtype?: DType;
}

const QK = [na1dQK, na2dQK, na3dQK];
const AV = [na1dAV, na2dAV, na3dAV];
const QK_BACKWARD = [na1dQKBackward, na2dQKBackward, na3dQKBackward];
const AV_BACKWARD = [na1dAVBackward, na2dAVBackward, na3dAVBackward];
const FUSED_BACKWARD = [na1dBackward, na2dBackward, na3dBackward];

/** What a recording forward keeps for the backward (tensors owned by the forward's Saved record). */
interface Tape {
  /** The padded input (the qkv projection's input). */
  xp: Tensor;
  /** q, k, v [B, ...padded spatial, heads, headDim]: the tensor objects the fused forward read. */
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** Fused path: the attention's output and logsumexp. */
  fused?: NAResult;
  /** Unfused path: the scaled queries, keys and values heads-first, and the softmax weights. */
  unfused?: { qs: Tensor; ku: Tensor; vu: Tensor; attn: Tensor };
  /** The cropped attention output [B, ...spatial, C] (the output projection's input). */
  projIn: Tensor;
}

function perAxis<T>(v: PerAxis<T> | undefined, fallback: T, dims: number, arg: string): T[] {
  if (v === undefined) return new Array<T>(dims).fill(fallback);
  if (!Array.isArray(v)) return new Array<T>(dims).fill(v as T);
  if (v.length !== dims) throw argTypeError(arg, `one value or ${dims} values`, v);
  return [...(v as T[])];
}

function positiveInt(v: unknown, arg: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw argTypeError(arg, 'a positive integer', v);
  return v;
}

let loggedPath: string | undefined;
/** Logs (NODE_DEBUG=natten) which attention path the modules take, once per change. */
function logPath(path: string): void {
  if (loggedPath === path) return;
  loggedPath = path;
  log('NeighborhoodAttention modules: %s', path);
}

/** Runs `fn` with a list that collects intermediates, disposing them afterwards except those `saved` keeps. */
function scoped<T>(fn: (keep: <U extends Tensor>(t: U) => U) => T, saved: Saved | null = null): T {
  const made: Tensor[] = [];
  try {
    return fn((t) => {
      made.push(t);
      return t;
    });
  } finally {
    for (const t of made) if (!saved?.has(t)) t.dispose();
  }
}

/** The module shared by the 1-D, 2-D and 3-D classes. */
export class NeighborhoodAttentionModule extends Module {
  /** Spatial axes (1, 2 or 3). */
  readonly dims: number;
  /** Channels. */
  readonly embedDim: number;
  /** Heads. */
  readonly numHeads: number;
  /** Channels per head. */
  readonly headDim: number;
  /** Window per axis. */
  readonly kernelSize: readonly number[];
  /** Dilation per axis. */
  readonly dilation: readonly number[];
  /** Stride per axis. */
  readonly stride: readonly number[];
  /** Causal masking per axis. */
  readonly isCausal: readonly boolean[];
  /** Score scale. */
  readonly scale: number;
  /** Whether the module has `rpb`. */
  readonly relPosBias: boolean;
  /** Whether the qkv projection has a bias. */
  readonly qkvBias: boolean;
  #tape: Tape | null = null;
  #device: DeviceName;
  #dtype: DType;

  constructor(dims: number, opts: NeighborhoodAttentionModuleOptions) {
    super();
    const fn = `NeighborhoodAttention${dims}D`;
    if (typeof opts !== 'object' || opts === null) throw argTypeError(`${fn}: options`, 'an options object', opts);
    this.dims = dims;
    this.embedDim = positiveInt(opts.embedDim, `${fn}: options.embedDim`);
    this.numHeads = positiveInt(opts.numHeads, `${fn}: options.numHeads`);
    if (this.embedDim % this.numHeads !== 0)
      throw rangeError(
        'ERR_NATTEN_INVALID_ARG_VALUE',
        `${fn}: embedDim ${this.embedDim} is not divisible by numHeads ${this.numHeads}`,
      );
    this.headDim = this.embedDim / this.numHeads;
    this.kernelSize = perAxis(opts.kernelSize, 0, dims, `${fn}: options.kernelSize`).map((k, i) =>
      positiveInt(k, `${fn}: options.kernelSize[${i}]`),
    );
    this.dilation = perAxis(opts.dilation, 1, dims, `${fn}: options.dilation`).map((d, i) =>
      positiveInt(d, `${fn}: options.dilation[${i}]`),
    );
    this.stride = perAxis(opts.stride, 1, dims, `${fn}: options.stride`).map((s, i) =>
      positiveInt(s, `${fn}: options.stride[${i}]`),
    );
    this.isCausal = perAxis(opts.isCausal, false, dims, `${fn}: options.isCausal`);
    this.qkvBias = opts.qkvBias ?? true;
    this.relPosBias = opts.relPosBias ?? false;
    this.scale = opts.qkScale ?? this.headDim ** -0.5;
    if (typeof this.scale !== 'number' || !Number.isFinite(this.scale))
      throw argTypeError(`${fn}: options.qkScale`, 'a finite number', opts.qkScale);
    if (this.relPosBias && this.isCausal.some((c) => c))
      throw rangeError(
        'ERR_NATTEN_INVALID_ARG_VALUE',
        `${fn}: relPosBias is not defined with causal masking (as in NATTEN)`,
      );
    const dtype = opts.dtype ?? 'float32';
    checkDtype(dtype, `${fn}: options.dtype`);
    this.#dtype = dtype;
    this.#device = deviceName(deviceIndex(opts.device ?? 'cpu', `${fn}: options.device`));
    this.#init();
  }

  protected get label(): string {
    return `NeighborhoodAttention${this.dims}D`;
  }

  /** Parameter names and shapes, as NATTEN's PyTorch module names them. */
  override get parameterShapes(): Map<string, number[]> {
    const C = this.embedDim;
    const m = new Map<string, number[]>([['qkv.weight', [3 * C, C]]]);
    if (this.qkvBias) m.set('qkv.bias', [3 * C]);
    if (this.relPosBias) m.set('rpb', [this.numHeads, ...this.kernelSize.map((k) => 2 * k - 1)]);
    m.set('proj.weight', [C, C]);
    m.set('proj.bias', [C]);
    return m;
  }

  /** Device of the parameters. */
  get device(): DeviceName {
    return this.#device;
  }

  /** Dtype of the parameters. */
  get dtype(): DType {
    return this.#dtype;
  }

  /** Random weights (normal, std C^-0.5), zero biases, rpb normal std 0.02: load a state dict for real ones. */
  #init(): void {
    const opts = { device: this.#device, dtype: this.#dtype };
    for (const [name, shape] of this.parameterShapes) {
      const std = name.endsWith('.weight') ? this.embedDim ** -0.5 : name === 'rpb' ? 0.02 : 0;
      if (std === 0) this.params.set(name, zeros(shape, opts));
      else
        this.params.set(
          name,
          scoped((keep) => mul(keep(randn(shape, opts)), std)),
        );
    }
  }

  #param(name: string): Tensor {
    return this.params.get(name);
  }

  /** Moves the parameters to a device and/or dtype in place (as PyTorch's `module.to`); returns the module. */
  to(target: DeviceLike | DType | { device?: DeviceLike; dtype?: DType }): this {
    const o =
      typeof target === 'string'
        ? (['float32', 'float16', 'bfloat16', 'float64'] as string[]).includes(target)
          ? { dtype: target as DType }
          : { device: target as DeviceLike }
        : target;
    const dtype = o.dtype ?? this.#dtype;
    const device = o.device === undefined ? this.#device : deviceName(deviceIndex(o.device, 'to: device'));
    for (const [name, t] of this.params.values()) this.params.set(name, t.to({ device, dtype }));
    this.params.convertGrads(dtype, device);
    this.releaseSaved();
    [this.#device, this.#dtype] = [device, dtype];
    return this;
  }

  /** Zero-pads spatial axes shorter than kernel x dilation at their end, as NATTEN's modules do. */
  #pad(x: Tensor, keep: <U extends Tensor>(t: U) => U): Tensor {
    let cur = x;
    for (let i = 0; i < this.dims; i++) {
      const need = this.kernelSize[i] * this.dilation[i] - cur.shape[i + 1];
      if (need <= 0) continue;
      const shape = [...cur.shape];
      shape[i + 1] = need;
      cur = keep(concat([cur, keep(zeros(shape, { device: this.#device, dtype: this.#dtype }))], i + 1));
    }
    return cur;
  }

  /** Crops the padded axes back to the input's spatial sizes. */
  #crop(y: Tensor, spatial: readonly number[], keep: <U extends Tensor>(t: U) => U): Tensor {
    let cur = y;
    for (let i = 0; i < this.dims; i++) {
      const extra = cur.shape[i + 1] - spatial[i];
      if (extra <= 0) continue;
      const [head, tail] = split(cur, [spatial[i], extra], i + 1);
      keep(tail);
      cur = keep(head);
    }
    return cur;
  }

  /** The window options of the attention ops. */
  #window(): { kernelSize: number[]; dilation: number[]; stride: number[]; isCausal: boolean[] } {
    return {
      kernelSize: [...this.kernelSize],
      dilation: [...this.dilation],
      stride: [...this.stride],
      isCausal: [...this.isCausal],
    };
  }

  /** The fused ops' options: the window and the scale (and the forward's returnLse), written out: an object
   * spread costs about a microsecond of host time per call, on every forward. */
  #fusedOptions(returnLse?: boolean): NAOptions {
    const w = this.#window();
    const [kernelSize, dilation, stride, isCausal, scale] = [
      w.kernelSize,
      w.dilation,
      w.stride,
      w.isCausal,
      this.scale,
    ];
    return returnLse === undefined
      ? { kernelSize, dilation, stride, isCausal, scale }
      : { kernelSize, dilation, stride, isCausal, scale, returnLse };
  }

  /** Attention on [B, ...S, heads, headDim]: fused, or the unfused chain with rpb on the scaled scores.
   * With a tape, keeps what the backward reads (`save` marks tensors that outlive the forward). */
  #attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    keep: <U extends Tensor>(t: U) => U,
    tape: Tape | null,
    save: Saved | null,
  ): Tensor {
    const fused = isFusedNAEnabled() && !this.relPosBias;
    logPath(
      fused
        ? 'fused neighborhood attention'
        : `unfused chain (${this.relPosBias ? 'relPosBias' : 'useFusedNA(false)'})`,
    );
    if (fused) {
      const fn = `NeighborhoodAttention${this.dims}D.forward`;
      // The LSE only where a backward will need it (inference: one allocation and its writes fewer).
      if (!(tape && save)) return keep(fusedForward(fn, this.dims, q, k, v, this.#fusedOptions(false)) as Tensor);
      const r = fusedForward(fn, this.dims, q, k, v, this.#fusedOptions(true)) as NAResult;
      keep(r.output);
      keep(r.lse);
      tape.fused = { output: save.keep(r.output), lse: save.keep(r.lse) };
      return r.output;
    }
    const window = this.#window();
    const H = this.numHeads;
    const qs = keep(toUnfused(keep(mul(q, this.scale)), H));
    const ku = keep(toUnfused(k, H)),
      vu = keep(toUnfused(v, H));
    const scores = keep(
      QK[this.dims - 1](qs, ku, { ...window, rpb: this.relPosBias ? this.#param('rpb') : undefined }),
    );
    const attn = keep(softmax(scores));
    if (tape && save) tape.unfused = { qs: save.keep(qs), ku: save.keep(ku), vu: save.keep(vu), attn: save.keep(attn) };
    const out = keep(AV[this.dims - 1](attn, vu, window));
    return keep(toFused(out, H));
  }

  /** Checks x: [batch, dims spatial axes, embedDim]. */
  #checkInput(fn: string, x: unknown, name: string): asserts x is Tensor {
    if (!(x instanceof Tensor)) throw argTypeError(`${fn}: ${name}`, 'a Tensor', x);
    if (x.ndim !== this.dims + 2 || x.shape[this.dims + 1] !== this.embedDim)
      throw rangeError(
        'ERR_NATTEN_INVALID_SHAPE',
        `${fn}: ${name} must be [batch, ${this.dims} spatial axes, ${this.embedDim}], got [${x.shape.join(', ')}]`,
      );
  }

  /**
   * Runs the module on x [batch, ...spatial, embedDim] (the module's device and dtype); returns the same
   * shape. In training mode outside `noGrad` it keeps what {@link backward} needs (a second handle to x's
   * padded copy, q, k, v, the attention's output and logsumexp, or the unfused chain's weights).
   */
  forward(x: Tensor): Tensor {
    const fn = `NeighborhoodAttention${this.dims}D.forward`;
    this.#checkInput(fn, x, 'x');
    const spatial = x.shape.slice(1, this.dims + 1);
    const save = this.beginForward();
    this.#tape = null;
    return scoped((keep) => {
      const xp = this.#pad(x, keep);
      // q, k, v stacked [3, B, ...S, C] by one batched GEMM: each a view of its block, no split copies.
      const qkv = keep(linearChunks(xp, this.#param('qkv.weight'), this.qkvBias ? this.#param('qkv.bias') : null, 3));
      const heads = [...xp.shape.slice(0, this.dims + 1), this.numHeads, this.headDim];
      const [q, k, v] = unstack(qkv, heads).map(keep);
      const tape: Tape | null = save
        ? { xp: save.share(xp), q: save.keep(q), k: save.keep(k), v: save.keep(v), projIn: xp }
        : null;
      const y = this.#attend(q, k, v, keep, tape, save);
      const flat = keep(y.reshape([...xp.shape.slice(0, this.dims + 1), this.embedDim]));
      const projIn = this.#crop(flat, spatial, keep);
      if (tape && save) {
        tape.projIn = save.share(projIn);
        this.#tape = tape;
      }
      return linear(projIn, this.#param('proj.weight'), this.#param('proj.bias'));
    }, save);
  }

  /**
   * Backward of the last {@link forward} for dY (its output's shape): returns dX and adds the gradient of
   * every parameter into its `grad`. Frees what the forward kept. Throws ERR_NATTEN_NO_SAVED_FORWARD when
   * the forward ran in eval() mode or inside noGrad(), or was already differentiated.
   */
  backward(dY: Tensor): Tensor {
    const fn = `NeighborhoodAttention${this.dims}D.backward`;
    return this.withSaved(() => {
      const t = this.#tape as Tape;
      this.#tape = null;
      checkShape(fn, tensorArg(fn, dY, 'dY'), 'dY', [...t.projIn.shape], "the forward output's shape");
      return scoped((keep) => {
        const proj = linearBackward(dY, t.projIn, this.#param('proj.weight'), this.#param('proj.bias'));
        this.params.accumulate('proj.weight', proj.dWeight);
        this.params.accumulate('proj.bias', proj.dBias as Tensor);
        const dFlat = this.#pad(keep(proj.dx), keep);
        const heads = [...t.q.shape];
        const dOut = keep(dFlat.reshape(heads));
        const [dq, dk, dv] = this.#attendBackward(dOut, t, keep);
        const dqkv = keep(
          concat(
            [dq, dk, dv].map((g) => keep(g.reshape([...heads.slice(0, -2), this.embedDim]))),
            this.dims + 1,
          ),
        );
        const qkv = linearBackward(
          dqkv,
          t.xp,
          this.#param('qkv.weight'),
          this.qkvBias ? this.#param('qkv.bias') : null,
        );
        this.params.accumulate('qkv.weight', qkv.dWeight);
        if (qkv.dBias) this.params.accumulate('qkv.bias', qkv.dBias);
        const dxp = keep(qkv.dx);
        const dx = this.#crop(dxp, t.projIn.shape.slice(1, this.dims + 1), keep);
        return dx === dxp ? dxp.reshape(dxp.shape) : dx.reshape(dx.shape);
      });
    });
  }

  /** dq, dk, dv [B, ...S, heads, headDim] of the attention from dOut (same layout), the rpb gradient added. */
  #attendBackward(dOut: Tensor, t: Tape, keep: <U extends Tensor>(t: U) => U): Tensor[] {
    if (t.fused) {
      const g = FUSED_BACKWARD[this.dims - 1](dOut, t.q, t.k, t.v, t.fused.output, t.fused.lse, this.#fusedOptions());
      return [keep(g.dq), keep(g.dk), keep(g.dv)];
    }
    const window = this.#window();
    const u = t.unfused as NonNullable<Tape['unfused']>;
    const H = this.numHeads;
    const av = AV_BACKWARD[this.dims - 1](keep(toUnfused(dOut, H)), u.attn, u.vu, window);
    keep(av.dAttn);
    keep(av.dv);
    const dScores = keep(softmaxBackward(av.dAttn, u.attn));
    const rpb = this.relPosBias ? this.#param('rpb') : undefined;
    const qk = QK_BACKWARD[this.dims - 1](dScores, u.qs, u.ku, { ...window, rpb });
    keep(qk.dq);
    keep(qk.dk);
    if (qk.dRpb) this.params.accumulate('rpb', qk.dRpb);
    // q was scaled before QK: its gradient is scaled back.
    const dq = keep(mul(keep(toFused(qk.dq, H)), this.scale));
    return [dq, keep(toFused(qk.dk, H)), keep(toFused(av.dv, H))];
  }
}

/** NATTEN's NeighborhoodAttention1D: input and output [batch, length, embedDim]. */
export class NeighborhoodAttention1D extends NeighborhoodAttentionModule {
  constructor(opts: NeighborhoodAttentionModuleOptions) {
    super(1, opts);
  }
}

/** NATTEN's NeighborhoodAttention2D: input and output [batch, height, width, embedDim]. */
export class NeighborhoodAttention2D extends NeighborhoodAttentionModule {
  constructor(opts: NeighborhoodAttentionModuleOptions) {
    super(2, opts);
  }
}

/** NATTEN's NeighborhoodAttention3D: input and output [batch, depth, height, width, embedDim]. */
export class NeighborhoodAttention3D extends NeighborhoodAttentionModule {
  constructor(opts: NeighborhoodAttentionModuleOptions) {
    super(3, opts);
  }
}
