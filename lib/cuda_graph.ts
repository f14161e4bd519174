/**
 * CUDA graphs (docs/design.md §4 "CUDA graphs"): the GPU ops a function enqueues, captured once and replayed by
 * one launch, as PyTorch's `torch.cuda.CUDAGraph`. A replay costs the host one call however many kernels the
 * ops launch: for servers whose forward is so small that launching it costs more host time than it runs.
 *
 * The captured ops read the tensors they were given (refill them with {@link copyInto} between replays) and
 * write the tensors they returned (the graph's outputs, overwritten by every replay). What the function
 * allocated and disposed is the graph's scratch. The function must not read back (`toArray`, `synchronize`):
 * a capture cannot wait for the GPU.
 */
import { native, type GraphHandle } from './native';
import { deviceIndex, deviceName, type DeviceLike, type DeviceName } from './device';
import { argTypeError, NattenError, rangeError } from './errors';
import { collect, Tensor, tidy, untrack, type TidyResult } from './tensor';

/** Devices ('cuda:N') with a capture on (the autotuner does not tune inside one: lib/autotuner/tuner.ts). */
const capturing = new Set<DeviceName>();

/** True while a graph is being captured on `device`. @internal */
export function isCapturingGraph(device: DeviceName): boolean {
  return capturing.size > 0 && capturing.has(device);
}

/** The tensors of a result (each once). */
function tensorsOf(r: TidyResult): Tensor[] {
  const found = new Set<Tensor>();
  collect(r, found);
  return [...found];
}

/** A captured graph of one GPU: {@link replay} reruns its ops. */
export class CudaGraph {
  #handle: GraphHandle | null;
  /** Second handles to the outputs: their memory is the graph's and must outlive it. */
  #outputs: Tensor[];
  /** The graph's device index. */
  readonly device: number;

  /** @internal Use {@link captureGraph}. */
  constructor(handle: GraphHandle, device: number, outputs: Tensor[]) {
    this.#handle = handle;
    this.device = device;
    this.#outputs = outputs;
  }

  /** Enqueues one replay: the captured ops run again on the inputs' current values, into the same outputs. */
  replay(): void {
    if (this.#handle === null) throw new NattenError('replay: the graph has been disposed', 'ERR_NATTEN_DISPOSED');
    native.graphLaunch({ graph: this.#handle });
  }

  /** Releases the graph and its hold on the outputs (a queued replay still runs). */
  dispose(): void {
    if (this.#handle === null) return;
    this.#handle = null;
    for (const t of this.#outputs) t.dispose();
    this.#outputs = [];
  }

  /** True once {@link dispose} has run. */
  get isDisposed(): boolean {
    return this.#handle === null;
  }
}

/**
 * Runs `fn` once while capturing the ops it enqueues on `device` (a CUDA device) and returns the graph and
 * fn's result (tensors, arrays or objects of them: the graph's outputs). Tensors fn created and did not
 * return are disposed at the end, as in {@link tidy}. Run fn once uncaptured first (a warm-up: GEMM plans,
 * an autotuner's tuning, lazily loaded kernels), since a capture records work but does not do it; inside a
 * capture the autotuner runs no tuning (calls use the default config). Throws ERR_NATTEN_GRAPH when
 * the ops cannot be captured (fn synchronised or read back) or a capture is already on, and what fn threw
 * (the capture is discarded).
 */
export function captureGraph<T extends TidyResult>(device: DeviceLike, fn: () => T): { graph: CudaGraph; output: T } {
  const dev = deviceIndex(device, 'captureGraph: device');
  if (dev < 0) throw rangeError('ERR_NATTEN_INVALID_DEVICE', 'captureGraph: device must be a CUDA device, got cpu');
  if (typeof fn !== 'function') throw argTypeError('captureGraph: fn', 'a function', fn);
  native.graphBegin({ device: dev });
  const name = deviceName(dev);
  capturing.add(name);
  let output: T;
  try {
    output = tidy(fn);
  } catch (e) {
    capturing.delete(name);
    native.graphAbort({ device: dev });
    throw e;
  }
  capturing.delete(name);
  let handle: GraphHandle;
  try {
    handle = native.graphEnd({ device: dev });
  } catch (e) {
    for (const t of tensorsOf(output)) t.dispose();
    throw e;
  }
  const outputs = tensorsOf(output).map((t) => {
    const keep = t.reshape(t.shape);
    untrack(keep);
    return keep;
  });
  return { graph: new CudaGraph(handle, dev, outputs), output };
}
