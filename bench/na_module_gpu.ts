/**
 * `node dist/bench/na_module_gpu.js [--device N] [--reps 15] [--calls 100] [--torch FILE] [--out FILE]`:
 * one NeighborhoodAttention2D layer (B4, 56x56, C256, 8 heads, k7, bf16) on a GPU, through the module:
 *
 * - queued: `--calls` forwards enqueued back to back, then one synchronize; wall time / calls, median of
 *   `--reps` repetitions (also the host's enqueue time per forward);
 * - kernels: the sum of the layer's own kernel times for one forward, CUDA events per kernel in the
 *   addon's profile mode (the `natten-node profile` machinery), median of 5 forwards, with the kernel list;
 * - `--torch FILE`: the JSON of `python bench/na_layer_torch.py --json FILE` (the same layer in PyTorch:
 *   eager linears, torch.compile'd FlexAttention, same card), giving PyTorch's time / ours.
 *
 * The figures the acceptance asks for: `speedupVsTorch` >= 1.5 and `queuedOverKernels` <= 1.15.
 */
import * as fs from 'fs';
import * as natten from '../lib';
import { native } from '../lib/native';
import { shortKernelName } from './gpu_timing';
import { standaloneMain } from './standalone';
import { median, timeQueuedCalls } from './timing';

/** The layer of the comparison. */
export const LAYER = { batch: 4, height: 56, width: 56, channels: 256, heads: 8, kernelSize: 7, dtype: 'bfloat16' };

/** What the PyTorch side writes (bench/na_layer_torch.py). */
interface TorchResult {
  torch: string;
  best: { order: string; ms_per_forward: number };
}

/** The figures of one run. */
interface LayerResult {
  layer: typeof LAYER;
  calls: number;
  /** Wall ms per forward, `calls` forwards queued then one synchronize: median and every repetition. */
  queuedMsPerForward: number;
  queuedRepsMs: number[];
  /** Host time per forward to enqueue (the loop before the synchronize), median. */
  enqueueMsPerForward: number;
  /** Sum of the kernels' CUDA-event times for one forward (median of 5), and the kernels of one forward. */
  kernelSumMs: number;
  kernels: { name: string; ms: number }[];
  queuedOverKernels: number;
  torch?: TorchResult;
  speedupVsTorch?: number;
  meets?: { speedupAtLeast1_5: boolean; overheadAtMost1_15: boolean };
  /** The same forwards replayed from a CUDA graph (natten.captureGraph): each call copies its input into the
   * graph's input, replays, and copies the output into a fresh tensor. Kernels: the forward's plus both copies. */
  graph?: {
    queuedMsPerForward: number;
    queuedRepsMs: number[];
    enqueueMsPerForward: number;
    kernelSumMs: number;
    copyMs: number[];
    queuedOverKernels: number;
    /** Largest |graph output - eager output| (bitwise equal expected: 0). */
    maxAbsDiffVsEager: number;
    speedupVsTorch?: number;
    meets?: { speedupAtLeast1_5: boolean; overheadAtMost1_15: boolean };
  };
}

/** The kernels `fn` enqueues, timed in profile mode (which ends whether or not fn throws); fn returns what
 * to dispose once profile mode is off. */
function profileOps(device: number, fn: () => natten.Tensor[]): { name: string; ms: number }[] {
  native.profileStart({ device });
  let made: natten.Tensor[];
  try {
    made = fn();
  } catch (e) {
    native.profileStop({ device });
    throw e;
  }
  const timings = native.profileStop({ device });
  for (const t of made) t.dispose();
  return timings.map((t) => ({ name: shortKernelName(t.name), ms: t.ms }));
}

/** One module forward replayed from a CUDA graph: input copied in, replay, output copied to a fresh tensor. */
function graphedForward(
  graph: natten.CudaGraph,
  xs: natten.Tensor,
  output: natten.Tensor,
  x: natten.Tensor,
): natten.Tensor {
  natten.copyInto(xs, x);
  graph.replay();
  return natten.copyInto(natten.empty(output.shape, { device: output.device, dtype: output.dtype }), output);
}

standaloneMain<LayerResult>(
  module,
  'na_module_layer',
  'NeighborhoodAttention2D B4 56x56 C256 8 heads k7: queued forwards vs kernel sum vs PyTorch',
  'bfloat16',
  async (o) => {
    const calls = Number(o.arg('--calls') ?? 100);
    const reps = Number(o.arg('--reps') ?? 15);
    const torchFile = o.arg('--torch');
    const device = `cuda:${o.device}` as natten.DeviceLike;
    const L = LAYER;
    const m = new natten.nn.NeighborhoodAttention2D({
      embedDim: L.channels,
      numHeads: L.heads,
      kernelSize: L.kernelSize,
      device,
      dtype: 'bfloat16',
    }).eval();
    const x = natten.randn([L.batch, L.height, L.width, L.channels], { device, dtype: 'bfloat16', seed: 1 });
    const y = m.forward(x);
    const bad = (await y.toArray()).filter((v) => !Number.isFinite(v)).length;
    y.dispose();
    if (bad > 0) throw new Error(`the layer's output has ${bad} non-finite values`);
    // Queued work keeps each output alive until it has run.
    const queued = await timeQueuedCalls(() => m.forward(x).dispose(), device, calls, reps);
    const profiles = Array.from({ length: 5 }, () => profileOps(o.device, () => [m.forward(x)]));
    const sums = profiles.map((p) => p.reduce((s, k) => s + k.ms, 0));
    const kernelSumMs = median(sums);
    const r: LayerResult = {
      layer: L,
      calls,
      queuedMsPerForward: median(queued.reps),
      queuedRepsMs: queued.reps,
      enqueueMsPerForward: queued.enqueue,
      kernelSumMs,
      kernels: profiles[sums.indexOf(kernelSumMs)] ?? profiles[0],
      queuedOverKernels: median(queued.reps) / kernelSumMs,
    };
    // CUDA graph mode: the forward captured once (after the eager warm-up above) and replayed.
    const xs = natten.copyInto(natten.empty(x.shape, { device, dtype: 'bfloat16' }), x);
    const { graph, output } = natten.captureGraph(device, () => m.forward(xs));
    const [ye, yg] = [m.forward(x), graphedForward(graph, xs, output, x)];
    const [eager, replayed] = [await ye.toArray(), await yg.toArray()];
    ye.dispose();
    yg.dispose();
    const maxAbsDiffVsEager = Array.from(replayed).reduce((mx, v, i) => Math.max(mx, Math.abs(v - eager[i])), 0);
    const gq = await timeQueuedCalls(() => graphedForward(graph, xs, output, x).dispose(), device, calls, reps);
    const copyMs = profileOps(o.device, () => {
      natten.copyInto(xs, x);
      return [natten.copyInto(natten.empty(output.shape, { device, dtype: 'bfloat16' }), output)];
    }).map((k) => k.ms);
    const graphKernels = kernelSumMs + copyMs.reduce((s, v) => s + v, 0);
    r.graph = {
      queuedMsPerForward: median(gq.reps),
      queuedRepsMs: gq.reps,
      enqueueMsPerForward: gq.enqueue,
      kernelSumMs: graphKernels,
      copyMs,
      queuedOverKernels: median(gq.reps) / graphKernels,
      maxAbsDiffVsEager,
    };
    graph.dispose();
    output.dispose();
    xs.dispose();
    if (torchFile) {
      r.torch = JSON.parse(fs.readFileSync(torchFile, 'utf8')) as TorchResult;
      r.speedupVsTorch = r.torch.best.ms_per_forward / r.queuedMsPerForward;
      r.meets = { speedupAtLeast1_5: r.speedupVsTorch >= 1.5, overheadAtMost1_15: r.queuedOverKernels <= 1.15 };
      r.graph.speedupVsTorch = r.torch.best.ms_per_forward / r.graph.queuedMsPerForward;
      r.graph.meets = {
        speedupAtLeast1_5: r.graph.speedupVsTorch >= 1.5,
        overheadAtMost1_15: r.graph.queuedOverKernels <= 1.15,
      };
    }
    process.stdout.write(
      `queued: ${r.queuedMsPerForward.toFixed(4)} ms/forward (${calls} queued, median of ${reps}; enqueue ` +
        `${r.enqueueMsPerForward.toFixed(4)} ms/forward on the host)\n` +
        `kernels: ${kernelSumMs.toFixed(4)} ms/forward (${r.kernels.length} kernels: ` +
        `${r.kernels.map((k) => `${k.name.slice(0, 60)} ${k.ms.toFixed(4)}`).join('; ')})\n` +
        `queued / kernels: ${r.queuedOverKernels.toFixed(3)} (target <= 1.15)\n` +
        (r.torch
          ? `PyTorch ${r.torch.torch} (${r.torch.best.order} order): ${r.torch.best.ms_per_forward.toFixed(4)} ms/forward; ` +
            `speedup ${r.speedupVsTorch!.toFixed(2)}x (target >= 1.5)\n`
          : '') +
        `CUDA graph (copy in, replay, copy out): ${r.graph.queuedMsPerForward.toFixed(4)} ms/forward (enqueue ` +
        `${r.graph.enqueueMsPerForward.toFixed(4)} ms on the host); kernels ${r.graph.kernelSumMs.toFixed(4)} ms ` +
        `(the forward's + copies ${copyMs.map((v) => v.toFixed(4)).join(' + ')}); queued / kernels ` +
        `${r.graph.queuedOverKernels.toFixed(3)} (target <= 1.15); max |graph - eager| ${maxAbsDiffVsEager}` +
        (r.graph.speedupVsTorch ? `; speedup vs PyTorch ${r.graph.speedupVsTorch.toFixed(2)}x` : '') +
        '\n',
    );
    o.save([r]);
    x.dispose();
    m.dispose();
  },
);
