/**
 * The one typed declaration of the native addon (docs/design.md §1): lib/, test/ and bench/ reach the addon
 * through `native` here and nothing else knows its shape. Loads the addon built by cmake-js
 * (`build/Release/natten.node`, or the file named by NATTEN_ADDON_PATH).
 *
 * Every binding that takes arguments takes ONE options object with named fields (read by native/options_arg.h;
 * a missing or wrongly typed field is a coded TypeError naming it, e.g. `options.q must be a tensor handle`).
 * Conventions: `device` is -1 for the CPU and n for cuda:n; `dtype` is a dtype code (lib/dtype.ts
 * `dtypeCode`: 0 float32, 1 float16, 2 bfloat16, 3 float64); counts are non-negative integers; an optional
 * storage handle may be absent or null. The op bindings re-check only what keeps native code inside its
 * buffers (sizes, extents, overflow, the window invariants a kernel indexes with); what the options mean
 * is validated once, by lib/ops (validate.ts). Not part of the public API (lib/index.ts does not export it).
 */
import { NattenError } from './errors';

/** Opaque handle to a native storage block. */
export type StorageHandle = { readonly __storage: unique symbol };
/** An instantiated CUDA graph (native/graph_binding.cc), freed by the garbage collector. */
export type GraphHandle = { readonly __graph: unique symbol };

/** Opaque handle to a CUDA-event timer (gpuTimerCreate). */
export type GpuTimerHandle = { readonly __gpuTimer: unique symbol };

/** A device index: -1 the CPU, n cuda:n. */
export type DeviceIndex = number;

/** A dtype code (lib/dtype.ts `dtypeCode`; mirrors kernels/common/dtype.h). */
export type DTypeCode = number;

/** A storage handle an op reads or writes only in some problems (absent or null otherwise). */
type OptionalHandle = StorageHandle | null;

/** Native build description. */
export interface NativeBuildInfo {
  cuda: boolean;
  cudaVersion: string;
  cudaArchs: string;
  cudaRuntimeVersion: number;
  cudaDriverVersion: number;
  /** The CUDA error name of the device query when it failed ('' when it did not). */
  cudaDeviceStatus: string;
  cpuThreads: number;
  /** The cuBLASLt the GPU GEMM loaded (path and version), '' without CUDA or when it is not found. */
  cublasLt: string;
  /** The CPU engine's SIMD level that runs ('avx512' | 'avx2' | 'baseline'). */
  cpuSimd: string;
  /** The SIMD levels compiled in, best first, comma-separated. */
  cpuSimdLevels: string;
  /** Vector extensions of the host CPU, widest first. */
  hostSimd: string[];
}

/** One kernel launch timed in profile mode (profileStop). */
export interface NativeKernelTiming {
  /** Demangled kernel name without its parameter list ('' where the CUDA runtime cannot name it). */
  name: string;
  ms: number;
}

/** Native device description. */
export interface NativeDeviceInfo {
  name: string;
  computeCapability: string;
  major: number;
  minor: number;
  multiProcessorCount: number;
  totalMemory: number;
  freeMemory: number;
  sharedMemoryPerBlockOptin: number;
}

/**
 * A neighborhood-attention problem as the op bindings read it (native/problem_arg.h, kernels/common/problem.h
 * NaProblem). The window is given flat, one entry per spatial axis in `kernel`, `stride`, `dilation` and
 * `causal`, as NaProblem holds it and test/fixtures/fused_config_choices.json records it. Optional fields
 * take the defaults shown; lib/ops always gives every field.
 */
export interface NativeProblem {
  /** Spatial axes, 1 to 3. */
  dims: number;
  batch: number;
  heads: number;
  /** Key/value heads, dividing heads (default heads). The unfused ops ignore it. */
  headsKv?: number;
  headDim: number;
  /** Head dim of V and the output (default headDim). */
  headDimV?: number;
  /** Length of each spatial axis. */
  length: number[];
  /** Kernel (window) size per axis; kernel * dilation <= length. */
  kernel: number[];
  /** Stride per axis, 1 <= stride <= kernel (default 1). */
  stride?: number[];
  /** Dilation per axis (default 1). */
  dilation?: number[];
  /** Causal flag per axis (default false). */
  causal?: boolean[];
  /** Additional keys/values every query attends to (default 0). */
  nExtra?: number;
  /** Score scale of the fused ops (default headDim^-0.5). */
  scale?: number;
  /** The unfused QK adds a relative positional bias (default false). */
  hasRpb?: boolean;
}

/** One compiled fused-kernel tile config (kernels/dispatch/fused_configs.h). */
export interface NativeFusedTileConfig {
  pass: 'forward' | 'backward';
  kernel: 'mma' | 'wgmma' | 'wgmma-ws';
  dims: number;
  headDimTier: number;
  dtype: DTypeCode;
  qTileShape: number[];
  kvTileShape: number[];
  threads: number;
  smemBytes: number;
  /** The family's cost model on `problem` (relative run time, lower is faster), when fusedConfigs was given one. */
  cost?: number;
}

/** A fused op call's kernel choices (lib/context.ts adds the context's switches); absent: "default". */
export interface NativeFusedCallConfig {
  qTileShape?: number[];
  kvTileShape?: number[];
  backwardQTileShape?: number[];
  backwardKvTileShape?: number[];
  kvSplits?: number;
  /** Forward kernel family: 80 mma.sync, 90 wgmma, 91 wgmma-ws (absent: any; another number has no kernels). */
  forwardArch?: number;
  /** Backward kernel family: 80 mma.sync, 90 wgmma (absent: the default, mma.sync; another number has no kernels). */
  backwardArch?: number;
  /** Run the simple reference kernels. */
  useReference?: boolean;
}

/** Fused-kernel choices (kernels/common/op_args.h FusedConfig): the call's, and the context's switches. */
export interface NativeFusedConfig extends NativeFusedCallConfig {
  /** dQ by fp32 atomics across KV tiles (default true). */
  kvParallel?: boolean;
  /** dQ by a separate Q-parallel pass: bitwise reproducible (default false). */
  deterministic?: boolean;
  /** Cap on the backward's extra scratch in bytes, -1 unlimited (default -1). */
  scratchLimitBytes?: number;
}

/** A device's capabilities as `chooseFusedConfigs` takes them: the `deviceInfo()` fields the fused-config
 * selection reads (kernels/runtime/device_caps.h), given rather than queried. */
/** Settable run-time switches of kernel variants of the wgmma backward and the 'wgmma-ws' forward
 * (natten.internal.kernelSwitches). */
export interface KernelSwitchSettings {
  /** The wgmma backward loads Q and dO with TMA (on unless NATTEN_BWD_WGMMA_TMA=0). */
  backwardTma?: boolean;
  /** The wgmma backward runs persistent CTAs that walk KV tiles one after another (off unless
   * NATTEN_BWD_WGMMA_PERSISTENT=1). */
  backwardPersistent?: boolean;
  /** The 'wgmma-ws' forward runs persistent CTAs that walk Q tiles one after another (on unless
   * NATTEN_FWD_WS_PERSISTENT=0). */
  forwardWsPersistent?: boolean;
  /** At most this many CTAs per persistent launch; 0 (the default): one per SM. */
  persistentCtas?: number;
}

/** The switches and how many launches took each switched path. */
export interface NativeKernelSwitches extends Required<KernelSwitchSettings> {
  /** wgmma backward launches so far that loaded Q and dO with TMA. */
  backwardTmaLaunches: number;
  /** Persistent wgmma backward launches so far. */
  backwardPersistentLaunches: number;
  /** Persistent 'wgmma-ws' forward launches so far. */
  forwardWsPersistentLaunches: number;
}

export type NativeDeviceCaps = Pick<
  NativeDeviceInfo,
  'major' | 'minor' | 'multiProcessorCount' | 'sharedMemoryPerBlockOptin'
>;

/** A pass that runs no tensor-core config: the reference kernel runs it, or (`'none'`) the problem has no
 * queries. `reason` says why. */
export interface NativeNoFusedChoice {
  path: 'reference' | 'none';
  reason: string;
}

/** The forward config the cost model picks (kernels/dispatch/fused_choice.h ForwardChoice). */
export interface NativeForwardChoice {
  path: 'fused';
  kernel: 'mma' | 'wgmma' | 'wgmma-ws';
  headDimTier: number;
  /** K/V pipeline depth of the chosen kernel. */
  stages: number;
  qTileShape: number[];
  kvTileShape: number[];
}

/** The backward plan (kernels/dispatch/fused_choice.h BackwardChoice). */
export interface NativeBackwardChoice {
  path: 'fused';
  /** The KV-parallel main pass's kernel family. */
  kernel: 'mma' | 'wgmma';
  headDimTier: number;
  qTileShape: number[];
  kvTileShape: number[];
  /** `'kv-parallel'`: dQ by fp32 atomics in the KV-parallel kernel; `'q-parallel'`: the separate,
   * bitwise reproducible dQ kernel. */
  dq: 'kv-parallel' | 'q-parallel';
  /** KV buffers of the Q-parallel dQ kernel. */
  dqStages: number;
  /** CTAs per additional-KV tile. */
  extraSplits: number;
  qChunksPerSplit: number;
  /** Scratch the backward allocates (Delta, the dQ accumulator, additional-KV partials). */
  workspaceBytes: number;
}

/** What `chooseFusedConfigs` returns: the choices under the default fused config, and the backward's
 * with `deterministic` set. */
export interface NativeFusedChoices {
  forward: NativeForwardChoice | NativeNoFusedChoice;
  backward: NativeBackwardChoice | NativeNoFusedChoice;
  backwardDeterministic: NativeBackwardChoice | NativeNoFusedChoice;
}

// ---- Options of the bindings ----------------------------------------------------------------------------

/** {device}: one device. */
export interface DeviceOptions {
  device: DeviceIndex;
}

/** {tensor}: one storage. */
export interface TensorOptions {
  tensor: StorageHandle;
}

/** Options of `empty` and `zeros`: a new storage of `numel` elements. */
export interface AllocOptions extends DeviceOptions {
  dtype: DTypeCode;
  numel: number;
}

/** Options of `randn`: standard normal samples that depend only on (seed, element index). */
export interface RandnOptions extends AllocOptions {
  seed: number;
}

/** Options of `fromArray`: a new storage holding `data` (of dtype `srcDtype`; Uint16Array: raw half bits)
 * converted to `dtype`. */
export interface FromArrayOptions extends DeviceOptions {
  dtype: DTypeCode;
  data: Float32Array | Float64Array | Uint16Array;
  srcDtype: DTypeCode;
}

/** Options of `copy`: a new storage on `device` holding the first `numel` elements of `src` (of dtype
 * `srcDtype`) converted to `dtype`. */
export interface CopyOptions extends AllocOptions {
  src: StorageHandle;
  srcDtype: DTypeCode;
}

/** Options of `toArray` and `toArraySync`: the first `numel` elements of `tensor`, of dtype `dtype`. */
export interface ReadOptions extends TensorOptions {
  dtype: DTypeCode;
  numel: number;
}

/** What every NA op reads besides its storages: the dtype of its tensors (lse is float32) and the problem. */
export interface NaOpOptions {
  dtype: DTypeCode;
  problem: NativeProblem;
}

/** What the fused ops (forward and backward) read, layout [batch, ...spatial, heads, headDim]. */
export interface NaFusedInputs extends NaOpOptions {
  /** [batch, ...spatial, heads, headDim] */
  q: StorageHandle;
  /** [batch, ...spatial, headsKv, headDim] */
  k: StorageHandle;
  /** [batch, ...spatial, headsKv, headDimV] */
  v: StorageHandle;
  /** [batch, nExtra, headsKv, headDim], used when problem.nExtra > 0. */
  additionalKeys?: OptionalHandle;
  /** [batch, nExtra, headsKv, headDimV], used when problem.nExtra > 0. */
  additionalValues?: OptionalHandle;
  /** Kernel choices on a GPU (the CPU engine ignores them); absent or null: the defaults. */
  config?: NativeFusedConfig | null;
}

/** Options of `naForward`. */
export interface NaForwardOptions extends NaFusedInputs {
  /** Written: [batch, ...spatial, heads, headDimV]. */
  output: StorageHandle;
  /** Written when given: [batch, ...spatial, heads], float32. */
  lse?: OptionalHandle;
}

/** Options of `naForwardNaive`: naForward's, without kernel choices (it is one CPU loop). */
export type NaForwardNaiveOptions = Omit<NaForwardOptions, 'config'>;

/** Options of `naBackward`: the forward's inputs, output and lse, dOut, and the gradients it writes (each
 * shaped like its input). */
export interface NaBackwardOptions extends NaFusedInputs {
  output: StorageHandle;
  /** float32 */
  lse: StorageHandle;
  dOut: StorageHandle;
  dq: StorageHandle;
  dk: StorageHandle;
  dv: StorageHandle;
  /** Written when problem.nExtra > 0. */
  dAdditionalKeys?: OptionalHandle;
  /** Written when problem.nExtra > 0. */
  dAdditionalValues?: OptionalHandle;
}

/** Options of `naQK`: unfused layout [batch, heads, ...spatial, headDim]; writes the weights
 * attn [batch, heads, ...spatial, prod(kernel) + nExtra]. */
export interface NaQKOptions extends NaOpOptions {
  q: StorageHandle;
  k: StorageHandle;
  /** [heads, 2*kernel-1 per axis], used when problem.hasRpb. */
  rpb?: OptionalHandle;
  /** [batch, heads, nExtra, headDim], used when problem.nExtra > 0. */
  additionalKeys?: OptionalHandle;
  attn: StorageHandle;
}

/** Options of `naAV`: weights attn and v [batch, heads, ...spatial, headDimV]; writes output (like v). */
export interface NaAVOptions extends NaOpOptions {
  attn: StorageHandle;
  v: StorageHandle;
  /** [batch, heads, nExtra, headDimV], used when problem.nExtra > 0. */
  additionalValues?: OptionalHandle;
  output: StorageHandle;
}

/** Options of `naQKBackward`: dAttn, q, k (and the additional keys); writes dq, dk, dRpb (when
 * problem.hasRpb), dAdditionalKeys (when problem.nExtra > 0). */
export interface NaQKBackwardOptions extends NaOpOptions {
  dAttn: StorageHandle;
  q: StorageHandle;
  k: StorageHandle;
  additionalKeys?: OptionalHandle;
  dq: StorageHandle;
  dk: StorageHandle;
  dRpb?: OptionalHandle;
  dAdditionalKeys?: OptionalHandle;
}

/** Options of `naAVBackward`: dOut, attn, v (and the additional values); writes dAttn, dv,
 * dAdditionalValues (when problem.nExtra > 0). */
export interface NaAVBackwardOptions extends NaOpOptions {
  dOut: StorageHandle;
  attn: StorageHandle;
  v: StorageHandle;
  additionalValues?: OptionalHandle;
  dAttn: StorageHandle;
  dv: StorageHandle;
  dAdditionalValues?: OptionalHandle;
}

/** The shape of the row-wise ops: `rows` rows of `cols` elements. */
export interface RowsOptions {
  dtype: DTypeCode;
  rows: number;
  cols: number;
}

/** Options of `softmax`: y = softmax(x) over each row. */
export interface SoftmaxOptions extends RowsOptions {
  x: StorageHandle;
  y: StorageHandle;
}

/** Options of `softmaxBackward`: dx from dy and the softmax output y. */
export interface SoftmaxBackwardOptions extends RowsOptions {
  dy: StorageHandle;
  y: StorageHandle;
  dx: StorageHandle;
}

/** Options of `mergeAttentions`: output [rows, headDimV] and lse [rows] (float32) from the (output, lse)
 * pairs `outputs[i]`, `lses[i]` (non-empty, of equal length). */
export interface MergeAttentionsOptions {
  dtype: DTypeCode;
  rows: number;
  headDimV: number;
  outputs: StorageHandle[];
  lses: StorageHandle[];
  output: StorageHandle;
  lse: StorageHandle;
}

/** Options of the layout permutes: `src` holds `sourceHeads` heads and `dst` holds `heads`, each of
 * batch x tokens x channels elements per head (head counts >= 1). */
export interface LayoutOptions {
  dtype: DTypeCode;
  batch: number;
  tokens: number;
  heads: number;
  sourceHeads: number;
  channels: number;
  src: StorageHandle;
  dst: StorageHandle;
}

/** Options of `scale`: dst = src * factor over numel elements. */
export interface ScaleOptions {
  dtype: DTypeCode;
  numel: number;
  src: StorageHandle;
  dst: StorageHandle;
  factor: number;
}

/** Options of `fill`: every one of numel elements of dst set to value. */
export interface FillOptions {
  dtype: DTypeCode;
  numel: number;
  dst: StorageHandle;
  value: number;
}

/** Options of `gemm`: c[i] = op(a[i]) · op(b[i]) (+ bias) for i < batch, row-major; a [m, k] (or [k, m] when
 * `aTrans`) matrices `aStride` elements apart, b [k, n] (or [n, k] when `bTrans`) `bStride` apart (0: one b for
 * the whole batch), bias [n] (one per batch entry, `biasStride` apart, when that is given), c [batch, m, n].
 * `allowTf32`: a GPU fp32 GEMM may use TF32 tensor cores. */
export interface GemmOptions {
  dtype: DTypeCode;
  batch: number;
  m: number;
  n: number;
  k: number;
  a: StorageHandle;
  aStride: number;
  aTrans?: boolean;
  b: StorageHandle;
  bStride: number;
  bTrans: boolean;
  bias?: OptionalHandle;
  /** Elements between the bias vectors of consecutive batch entries (default 0: one bias for all). */
  biasStride?: number;
  c: StorageHandle;
  allowTf32: boolean;
}

/** Options of `add`: out = a + b over numel elements, b (bNumel elements, dividing numel) repeated. */
export interface AddOptions {
  dtype: DTypeCode;
  numel: number;
  bNumel: number;
  a: StorageHandle;
  b: StorageHandle;
  out: StorageHandle;
}

/** Options of `gelu`: out = gelu(x) over numel elements, exact (erf) or the tanh approximation. */
export interface GeluOptions {
  dtype: DTypeCode;
  numel: number;
  x: StorageHandle;
  out: StorageHandle;
  tanh: boolean;
}

/** Options of `layerNorm`: each row of `cols` elements normalised (biased variance, eps inside the root),
 * times weight [cols] plus bias [cols] when given. */
export interface LayerNormOptions extends RowsOptions {
  x: StorageHandle;
  weight?: OptionalHandle;
  bias?: OptionalHandle;
  out: StorageHandle;
  eps: number;
}

/** Options of `sumRows`: out[c] = sum over rows of x[r, c] (fp32 accumulation; float64 in float64). */
export interface SumRowsOptions extends RowsOptions {
  x: StorageHandle;
  out: StorageHandle;
}

/** Options of `geluBackward`: dx = dy · gelu'(x) over numel elements (of the exact or the tanh form). */
export interface GeluBackwardOptions {
  dtype: DTypeCode;
  numel: number;
  x: StorageHandle;
  dy: StorageHandle;
  dx: StorageHandle;
  tanh: boolean;
}

/** Options of `layerNormBackward`: dx [rows, cols] from the forward's input x, weight and dy; dWeight and
 * dBias [cols] (each optional) the sums over rows of dy·x̂ and dy. */
export interface LayerNormBackwardOptions extends RowsOptions {
  x: StorageHandle;
  weight?: OptionalHandle;
  dy: StorageHandle;
  dx: StorageHandle;
  dWeight?: OptionalHandle;
  dBias?: OptionalHandle;
  eps: number;
}

/** Options of `mseLoss`: out (one element) = mean over numel elements of (pred - target)². */
export interface MseLossOptions {
  dtype: DTypeCode;
  numel: number;
  pred: StorageHandle;
  target: StorageHandle;
  out: StorageHandle;
}

/** Options of `mseLossBackward`: dPred = 2 (pred - target) dy / numel, dTarget = -dPred (optional); dy holds
 * one element. */
export interface MseLossBackwardOptions {
  dtype: DTypeCode;
  numel: number;
  pred: StorageHandle;
  target: StorageHandle;
  dy: StorageHandle;
  dPred: StorageHandle;
  dTarget?: OptionalHandle;
}

/** One parameter of an `optimStep`: `param` holds numel elements of the step's dtype; grad and every state
 * buffer numel elements of the state dtype (float64 for float64 parameters, else fp32). */
export interface OptimTensorOptions {
  numel: number;
  param: StorageHandle;
  grad: StorageHandle;
  /** fp32 master weights (half-precision parameters only: required there, ignored otherwise). */
  master?: OptionalHandle;
  /** SGD: the momentum buffer (required when momentum != 0). AdamW: exp_avg. */
  state0?: OptionalHandle;
  /** AdamW: exp_avg_sq. */
  state1?: OptionalHandle;
  /** AdamW with amsgrad: max_exp_avg_sq. */
  state2?: OptionalHandle;
  /** SGD: the momentum buffer is new and takes the gradient. */
  first: boolean;
  /** AdamW: lr / (1 - beta1^step). */
  stepSize: number;
  /** AdamW: sqrt(1 - beta2^step). */
  biasCorrection2Sqrt: number;
}

/** Options of `optimStep`: one SGD (kind 0) or AdamW (kind 1) step over parameters of `dtype` on one device
 * (kernels/common/optim_update.h); the SGD fields are read for SGD, the AdamW ones for AdamW. */
export interface OptimStepOptions {
  dtype: DTypeCode;
  kind: 0 | 1;
  lr: number;
  weightDecay: number;
  maximize: boolean;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  beta1: number;
  beta2: number;
  eps: number;
  amsgrad: boolean;
  tensors: OptimTensorOptions[];
}

/** Options of `unscaleGrads`: gradients of `dtype` (float32 or float64) multiplied by invScale in place;
 * foundInf (one fp32 element) set to 1 when any element was inf or NaN before. */
export interface UnscaleGradsOptions {
  dtype: DTypeCode;
  grads: StorageHandle[];
  numels: number[];
  invScale: number;
  foundInf: StorageHandle;
}

/** Options of `stridedCopy`: for every index i of `shape` (at most 8 axes),
 * dst[dstOffset + Σ i·dstStrides] = src[srcOffset + Σ i·srcStrides] (elements, non-negative). */
export interface StridedCopyOptions {
  dtype: DTypeCode;
  shape: number[];
  srcStrides: number[];
  dstStrides: number[];
  srcOffset: number;
  dstOffset: number;
  src: StorageHandle;
  dst: StorageHandle;
}

/** Options of `view`: bytes [offset, offset + bytes) of a storage, shared. */
export interface ViewOptions extends TensorOptions {
  offset: number;
  bytes: number;
}

/** Options of `axisWindow`: kernels/common/window.h on one axis, for query/key `index`. */
export interface AxisWindowOptions {
  length: number;
  kernel: number;
  stride: number;
  dilation: number;
  causal: boolean;
  index: number;
}

/** Options of `fusedConfigs`: the compiled tile configs for a problem family on a device, or (with `caps`)
 * on the device those capabilities describe (then `device` is not read). */
export interface FusedConfigsOptions {
  device?: DeviceIndex;
  dims: number;
  headDim: number;
  headDimV: number;
  dtype: DTypeCode;
  /** A problem of those dims and head dims: each config then carries its cost on it. */
  problem?: NativeProblem;
  /** Describes the device instead (`natten.internal.fusedConfigsFor`); `device` is then not read. */
  caps?: NativeDeviceCaps;
}

/** What `naTune` times and runs: the options of naForward or naBackward (with `config` the default config,
 * run when every candidate fails), the configs to time, and how. */
export type NaTuneOptions = (({ pass: 'forward' } & NaForwardOptions) | ({ pass: 'backward' } & NaBackwardOptions)) & {
  /** The configs to time (at least one). */
  candidates: NativeFusedConfig[];
  /** Untimed runs of each candidate before the timed ones (0-1000). */
  warmupSteps: number;
  /** Timed runs of each candidate (1-10000). */
  steps: number;
};

/** What `naTune` measured. */
export interface NaTuneOutcome {
  /** Milliseconds per run of each candidate; NaN where it was skipped. */
  ms: number[];
  /** Why each skipped candidate was skipped ('' for those timed). */
  errors: string[];
  /** The candidate the op ran with; -1: the default config. */
  chosen: number;
}

/** Options of `chooseFusedConfigs`. */
export interface ChooseFusedConfigsOptions {
  problem: NativeProblem;
  dtype: DTypeCode;
  caps: NativeDeviceCaps;
}

/** {timer}: a CUDA-event timer. */
export interface TimerOptions {
  timer: GpuTimerHandle;
}

/** Options of `gpuSpin`: a kernel that keeps the device's stream busy for `microseconds`. */
export interface SpinOptions extends DeviceOptions {
  microseconds: number;
}

// ---- The bindings ---------------------------------------------------------------------------------------

/** Every function the addon exports (registered with NATTEN_BINDING in native/). */
export interface NativeBinding {
  // Process and devices (native/addon.cc).
  /** Load time: the class of the addon's library errors. */
  setErrorClass(o: { errorClass: typeof NattenError }): void;
  buildInfo(): NativeBuildInfo;
  deviceCount(): number;
  deviceInfo(o: DeviceOptions): NativeDeviceInfo;
  /** Test hook: [start, end) of the window of `index` and [start, end) of the queries that see key `index`,
   * group-local. */
  axisWindow(o: AxisWindowOptions): [number, number, number, number];
  /** Tells the addon the process's exit code as the process starts to exit (GPU work still queued then
   * is dropped and the process ends with this code). */
  noteExitCode(o: { code: number }): void;
  /** Debug: enqueues a kernel that writes to an illegal address on cuda:device (natten.internal). */
  faultDevice(o: DeviceOptions): void;
  /** Debug: sets the given kernel switches and returns them all (native/kernel_switches_binding.cc). */
  kernelSwitches(o?: KernelSwitchSettings): NativeKernelSwitches;

  // Storages (native/tensor_ops.cc).
  empty(o: AllocOptions): StorageHandle;
  zeros(o: AllocOptions): StorageHandle;
  fromArray(o: FromArrayOptions): StorageHandle;
  randn(o: RandnOptions): StorageHandle;
  copy(o: CopyOptions): StorageHandle;
  toArray(o: ReadOptions): Promise<Float32Array | Float64Array>;
  toArraySync(o: ReadOptions): Float32Array | Float64Array;
  /** A second handle to the same storage. */
  share(o: TensorOptions): StorageHandle;
  /** A handle to a byte range of a storage (shares it; split and chunk views). */
  view(o: ViewOptions): StorageHandle;
  /** Drops the handle's reference (idempotent). */
  release(o: TensorOptions): void;
  synchronize(o: DeviceOptions): Promise<void>;
  /** Bytes held by live storages, keyed 'cpu', 'cuda:0', ... */
  memory(): Record<string, number>;
  /** Test hook: storages alive on a device (natten.internal.liveStorages). */
  liveStorages(o: DeviceOptions): number;

  // NA ops (native/na_ops_binding.cc): outputs are allocated by the caller; all enqueue and return.
  naForward(o: NaForwardOptions): void;
  /** Benchmark baseline: the textbook single-thread loop (CPU only). */
  naForwardNaive(o: NaForwardNaiveOptions): void;
  naBackward(o: NaBackwardOptions): void;
  naQK(o: NaQKOptions): void;
  naAV(o: NaAVOptions): void;
  naQKBackward(o: NaQKBackwardOptions): void;
  naAVBackward(o: NaAVBackwardOptions): void;
  softmax(o: SoftmaxOptions): void;
  softmaxBackward(o: SoftmaxBackwardOptions): void;
  mergeAttentions(o: MergeAttentionsOptions): void;
  /** [batch, tokens, sourceHeads, C] -> [batch, heads, tokens, C], head h reading source head
   * h * sourceHeads / heads. */
  fusedToUnfused(o: LayoutOptions): void;
  /** [batch, sourceHeads, tokens, C] -> [batch, tokens, heads, C], summing the source heads that map to
   * each head. */
  unfusedToFused(o: LayoutOptions): void;
  scale(o: ScaleOptions): void;
  fill(o: FillOptions): void;
  /** Autotuning (native/autotune_binding.cc), CUDA devices only: holds the device's stream at call time, then
   * on the device's tuner thread times each candidate on scratch outputs with CUDA events, runs the op with
   * the fastest on the given buffers, and lets the stream go on. Returns at once. */
  naTune(o: NaTuneOptions): Promise<NaTuneOutcome>;
  /** Whether the fast fused CUDA kernels run on the device (false for the CPU). */
  hasFused(o: DeviceOptions): boolean;
  /** Benchmark: measured fp32 FMA GFLOP/s of the CPU engine's threads over `ms` milliseconds. */
  cpuFmaPeak(o: { ms: number }): Promise<number>;

  // Tensor ops (native/tensor_ops_binding.cc): outputs are allocated by the caller; all enqueue and return.
  gemm(o: GemmOptions): void;
  add(o: AddOptions): void;
  gelu(o: GeluOptions): void;
  layerNorm(o: LayerNormOptions): void;
  stridedCopy(o: StridedCopyOptions): void;
  sumRows(o: SumRowsOptions): void;
  geluBackward(o: GeluBackwardOptions): void;
  layerNormBackward(o: LayerNormBackwardOptions): void;
  mseLoss(o: MseLossOptions): void;
  mseLossBackward(o: MseLossBackwardOptions): void;

  // Training (native/optim_binding.cc): in-place updates, enqueued.
  /** One multi-tensor optimizer step (parameters, master weights and state updated in place). */
  optimStep(o: OptimStepOptions): void;
  /** GradScaler's unscale of gradients with the inf/NaN flag. */
  unscaleGrads(o: UnscaleGradsOptions): void;

  // Fused kernel information (native/fused_configs_binding.cc, native/fused_choice_binding.cc).
  /** The compiled fused tile configs that run on the device (or on one described by `caps`): none for the
   * CPU and CPU-only builds; with `caps`, CPU-only builds throw ERR_NATTEN_NO_CUDA. */
  fusedConfigs(o: FusedConfigsOptions): NativeFusedTileConfig[];
  /** Debug: the fused configs chosen for a problem on a device described by `caps`, computed without a
   * device. Throws ERR_NATTEN_NO_CUDA in CPU-only builds. */
  chooseFusedConfigs(o: ChooseFusedConfigsOptions): NativeFusedChoices;

  // Benchmark timers (native/cuda_timing.cc): CUDA events on the device's stream.
  gpuTimerCreate(o: DeviceOptions): GpuTimerHandle;
  gpuTimerStart(o: TimerOptions): void;
  gpuTimerStop(o: TimerOptions): void;
  /** Milliseconds between start and stop; blocks until the stop event has passed (benchmarks only). */
  gpuTimerElapsed(o: TimerOptions): number;
  gpuSpin(o: SpinOptions): void;

  // Profile mode (native/profile_binding.cc, kernels/runtime/kernel_profile.h).
  /** From now on every op enqueued on cuda:device has its kernels timed one by one (CUDA graph capture
   * with events around each kernel). ERR_NATTEN_NO_CUDA in CPU-only builds. */
  profileStart(o: DeviceOptions): void;
  /** Ends profile mode on cuda:device and returns its kernels in launch order; blocks until the device
   * has run them (profiling only). */
  profileStop(o: DeviceOptions): NativeKernelTiming[];

  // CUDA graphs (native/graph_binding.cc, kernels/runtime/cuda_graph.h).
  /** Starts capturing this thread's ops on cuda:device (ERR_NATTEN_GRAPH if a capture or profile mode is on). */
  graphBegin(o: DeviceOptions): void;
  /** Ends the capture and instantiates it (ERR_NATTEN_GRAPH when the captured ops cannot form a graph). */
  graphEnd(o: DeviceOptions): GraphHandle;
  /** Ends a failed capture, discarding it. */
  graphAbort(o: DeviceOptions): void;
  /** Enqueues one replay of a graph on its device's stream. */
  graphLaunch(o: { graph: GraphHandle }): void;
}

/** @internal The package root: the nearest folder above this file holding package.json (lib/ or dist/lib/). */
export function packageRoot(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require('fs') as typeof import('fs');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const path = require('path') as typeof import('path');
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** A full garbage collection, where the runtime allows one (undefined otherwise). Finalizers of the
 * addon run inside the collection, so the memory of unreachable tensors is free when it returns. */
let collectGarbage: (() => void) | null | undefined;
function fullGc(): boolean {
  if (collectGarbage === undefined) {
    collectGarbage = null;
    const g = (globalThis as { gc?: () => void }).gc;
    if (typeof g === 'function') collectGarbage = g;
    else {
      try {
        // The documented way to reach V8's gc() without --expose-gc (as test runners do): expose it to
        // a fresh context only.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        (require('v8') as typeof import('v8')).setFlagsFromString('--expose-gc');
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const fn = (require('vm') as typeof import('vm')).runInNewContext('gc') as unknown;
        if (typeof fn === 'function') collectGarbage = fn as () => void;
      } catch {
        collectGarbage = null;
      }
    }
  }
  if (!collectGarbage) return false;
  collectGarbage();
  return true;
}

/** Wraps every addon function: an out-of-memory error runs one full GC (freeing forgotten tensors) and
 * retries the call once before it reaches the caller. */
function withOomRetry(b: NativeBinding): NativeBinding {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(b)) {
    if (typeof fn !== 'function') {
      wrapped[name] = fn;
      continue;
    }
    wrapped[name] = (...args: unknown[]): unknown => {
      try {
        return fn(...args);
      } catch (e) {
        if ((e as { code?: string } | null)?.code !== 'ERR_NATTEN_OOM' || !fullGc()) throw e;
        return fn(...args);
      }
    };
  }
  return wrapped as unknown as NativeBinding;
}

/** scripts/addon_choice.js (plain JS: the install script runs it before the TypeScript is compiled). */
interface AddonChoiceModule {
  chooseLoad(o: { host: unknown; installed: readonly string[]; sourceBuild: boolean }): {
    use: { kind: 'prebuilt'; name: string } | { kind: 'source' };
    message: string;
  };
  currentHost(): unknown;
  installedPrebuilts(root: string, host: unknown): string[];
  prebuiltAddonPath(root: string, name: string): string | null;
}

/** The file the addon is loaded from: NATTEN_ADDON_PATH, else the source build (where `bindings` finds
 * it) or the prebuilt package that scripts/addon_choice.js picks for this host. */
export function addonFile(): string {
  if (process.env.NATTEN_ADDON_PATH) return require.resolve(process.env.NATTEN_ADDON_PATH);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const path = require('path') as typeof import('path');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require('fs') as typeof import('fs');
  const root = packageRoot();
  const choice = require(path.join(root, 'scripts', 'addon_choice.js')) as AddonChoiceModule;
  const host = choice.currentHost();
  const sourceBuild = ['Release', 'Debug'].some((c) => fs.existsSync(path.join(root, 'build', c, 'natten.node')));
  const { use, message } = choice.chooseLoad({ host, installed: choice.installedPrebuilts(root, host), sourceBuild });
  if (use.kind === 'prebuilt') return choice.prebuiltAddonPath(root, use.name) as string;
  if (message) throw new Error(message);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const find = require('bindings') as (o: { bindings: string; module_root: string; path: true }) => string;
  return find({ bindings: 'natten', module_root: root, path: true });
}

/** NATTEN_CPU_LEVEL caps the CPU engine's SIMD level (engine/cpu/dispatch.cc): an unknown value is an
 * error here rather than silently ignored there. */
function checkCpuLevelEnv(): void {
  const cap = process.env.NATTEN_CPU_LEVEL;
  if (cap !== undefined && cap !== '' && !['avx512', 'avx2', 'baseline'].includes(cap)) {
    throw new NattenError(
      `natten-node: NATTEN_CPU_LEVEL must be 'avx512', 'avx2' or 'baseline', got ${JSON.stringify(cap)}`,
      'ERR_NATTEN_INVALID_ARG_VALUE',
    );
  }
}

function load(): NativeBinding {
  checkCpuLevelEnv();
  // Eager CUDA kernel loading unless the user chose (kernels/runtime/gpu_runtime.cu says why; the addon sets
  // it too, but its static initialisers have no order against the CUDA runtime's): set before the addon
  // is opened, so before CUDA can start.
  process.env.CUDA_MODULE_LOADING ??= 'EAGER';
  try {
    const b = require(addonFile()) as NativeBinding;
    b.setErrorClass({ errorClass: NattenError });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    if ((require('worker_threads') as typeof import('worker_threads')).isMainThread) {
      process.on('exit', (code) => b.noteExitCode({ code }));
    }
    return withOomRetry(b);
  } catch (e) {
    throw new NattenError(
      `natten-node: cannot load the native addon (${(e as Error).message}). Install the prebuilt package ` +
        'of this platform (README, "Prebuilt packages") or build from source: `npm run build:native` ' +
        '(or `npx node-gyp rebuild` for a CPU-only build where CMake is missing).',
      'ERR_NATTEN_ADDON',
    );
  }
}

/** The loaded addon. */
export const native: NativeBinding = load();
