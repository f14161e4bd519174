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
import { fusedForward } from '../ops/fused';
import { toFused, toUnfused } from '../ops/layout';
import { linear } from '../ops/linear';
import { mul } from '../ops/elementwise';
import { chunk, concat, split } from '../ops/shape_ops';
import { softmax } from '../ops/softmax';
import { na1dAV, na1dQK, na2dAV, na2dQK, na3dAV, na3dQK } from '../ops/unfused';
import type { PerAxis } from '../ops/validate';
import { matchStateDict, type LoadStateDictOptions, type StateDict } from './state_dict';

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

/** Runs `fn` with a list that collects intermediates, disposing them afterwards. */
function scoped<T>(fn: (keep: <U extends Tensor>(t: U) => U) => T): T {
  const made: Tensor[] = [];
  try {
    return fn((t) => {
      made.push(t);
      return t;
    });
  } finally {
    for (const t of made) t.dispose();
  }
}

/** The module shared by the 1-D, 2-D and 3-D classes. */
export class NeighborhoodAttentionModule {
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
  /** Training flag (PyTorch's `module.training`); the modules have no dropout, so it changes nothing yet. */
  training = true;
  #params = new Map<string, Tensor>();
  #device: DeviceName;
  #dtype: DType;

  constructor(dims: number, opts: NeighborhoodAttentionModuleOptions) {
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

  /** Parameter names and shapes, as NATTEN's PyTorch module names them. */
  get parameterShapes(): Map<string, number[]> {
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
      if (std === 0) this.#params.set(name, zeros(shape, opts));
      else
        this.#params.set(
          name,
          scoped((keep) => mul(keep(randn(shape, opts)), std)),
        );
    }
  }

  #param(name: string): Tensor {
    return this.#params.get(name) as Tensor;
  }

  /** The parameters by name (the module's own tensors: do not dispose them; copy to keep them past the module). */
  stateDict(): Map<string, Tensor> {
    return new Map(this.#params);
  }

  /**
   * Loads parameters (copied into the module's device and dtype). One error lists every missing,
   * unexpected (when `strict`, the default) and mis-shaped key; nothing is loaded when it throws.
   */
  loadStateDict(dict: StateDict, opts: LoadStateDictOptions = {}): this {
    const found = matchStateDict(
      `NeighborhoodAttention${this.dims}D.loadStateDict`,
      dict,
      this.parameterShapes,
      opts.strict ?? true,
    );
    for (const [name, t] of found) {
      const copy = t.to({ device: this.#device, dtype: this.#dtype });
      this.#params.get(name)?.dispose();
      this.#params.set(name, copy);
    }
    return this;
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
    for (const [name, t] of this.#params) {
      this.#params.set(name, t.to({ device, dtype }));
      t.dispose();
    }
    [this.#device, this.#dtype] = [device, dtype];
    return this;
  }

  /** Sets the training flag (PyTorch's `train(mode)`); returns the module. */
  train(mode = true): this {
    this.training = mode;
    return this;
  }

  /** Clears the training flag (PyTorch's `eval()`); returns the module. */
  eval(): this {
    return this.train(false);
  }

  /** Frees the parameters; the module cannot run afterwards. */
  dispose(): void {
    for (const t of this.#params.values()) t.dispose();
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

  /** Attention on [B, ...S, heads, headDim]: fused, or the unfused chain with rpb on the scaled scores. */
  #attend(q: Tensor, k: Tensor, v: Tensor, keep: <U extends Tensor>(t: U) => U): Tensor {
    const window = {
      kernelSize: [...this.kernelSize],
      dilation: [...this.dilation],
      stride: [...this.stride],
      isCausal: [...this.isCausal],
    };
    const fused = isFusedNAEnabled() && !this.relPosBias;
    logPath(
      fused
        ? 'fused neighborhood attention'
        : `unfused chain (${this.relPosBias ? 'relPosBias' : 'useFusedNA(false)'})`,
    );
    if (fused)
      return keep(
        fusedForward(`NeighborhoodAttention${this.dims}D.forward`, this.dims, q, k, v, {
          ...window,
          scale: this.scale,
        }) as Tensor,
      );
    const H = this.numHeads;
    const qs = keep(toUnfused(keep(mul(q, this.scale)), H));
    const attn = keep(
      QK[this.dims - 1](qs, keep(toUnfused(k, H)), {
        ...window,
        rpb: this.relPosBias ? this.#param('rpb') : undefined,
      }),
    );
    const out = keep(AV[this.dims - 1](keep(softmax(attn)), keep(toUnfused(v, H)), window));
    return keep(toFused(out, H));
  }

  /** Runs the module on x [batch, ...spatial, embedDim] (the module's device and dtype); returns the same shape. */
  forward(x: Tensor): Tensor {
    const fn = `NeighborhoodAttention${this.dims}D.forward`;
    if (!(x instanceof Tensor)) throw argTypeError(`${fn}: x`, 'a Tensor', x);
    if (x.ndim !== this.dims + 2 || x.shape[this.dims + 1] !== this.embedDim)
      throw rangeError(
        'ERR_NATTEN_INVALID_SHAPE',
        `${fn}: x must be [batch, ${this.dims} spatial axes, ${this.embedDim}], got [${x.shape.join(', ')}]`,
      );
    const spatial = x.shape.slice(1, this.dims + 1);
    return scoped((keep) => {
      const xp = this.#pad(x, keep);
      const qkv = keep(linear(xp, this.#param('qkv.weight'), this.qkvBias ? this.#param('qkv.bias') : null));
      const heads = [...xp.shape.slice(0, this.dims + 1), this.numHeads, this.headDim];
      const [q, k, v] = chunk(qkv, 3, this.dims + 1).map((t) => keep(keep(t).reshape(heads)));
      const y = this.#attend(q, k, v, keep);
      const flat = keep(y.reshape([...xp.shape.slice(0, this.dims + 1), this.embedDim]));
      return linear(this.#crop(flat, spatial, keep), this.#param('proj.weight'), this.#param('proj.bias'));
    });
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
