/**
 * The ops of one profiled step: the forward (and with --backprop the backward) of the chosen backend, as
 * a list of named ops. Each op enqueues its work and returns the tensors it made; the step's inputs are
 * made once, outside the timed ops.
 */
import * as natten from '../../lib';
import { scaled } from '../../lib/ops/layout';
import type { ProfileProblem } from './problem';

/** One op of a step: `run` enqueues it and returns what it produced (freed after the step). */
export interface StepOp {
  name: string;
  run(): natten.Tensor[];
}

/** A step's ops, the intermediates they pass on (freed by `endStep`) and the inputs they read (freed by
 * `dispose`). */
export interface Step {
  ops: StepOp[];
  endStep(): void;
  dispose(): void;
}

const byDims = <T>(dims: number, fns: readonly [T, T, T]): T => fns[dims - 1];

function randn(p: ProfileProblem, shape: number[], seed: number): natten.Tensor {
  return natten.randn(shape, { dtype: p.dtype, device: p.device, seed });
}

/** The fused ops (CUDA fused or reference kernels, or the CPU engine) on [B, ...spatial, H, D]. */
function fusedStep(p: ProfileProblem): Step {
  const q = randn(p, [p.batch, ...p.inputSize, p.heads, p.headDim], 1);
  const k = randn(p, [p.batch, ...p.inputSize, p.headsKv, p.headDim], 2);
  const v = randn(p, [p.batch, ...p.inputSize, p.headsKv, p.headDimV], 3);
  const dOut = randn(p, [p.batch, ...p.inputSize, p.heads, p.headDimV], 4);
  const extra = p.nExtra
    ? {
        additionalKeys: randn(p, [p.batch, p.nExtra, p.headsKv, p.headDim], 5),
        additionalValues: randn(p, [p.batch, p.nExtra, p.headsKv, p.headDimV], 6),
      }
    : {};
  const window = { kernelSize: p.kernelSize, stride: p.stride, dilation: p.dilation, isCausal: p.isCausal, ...extra };
  const backend = p.backend === 'reference' ? ('reference' as const) : undefined;
  const forwardOptions = { ...window, backend, qTileShape: p.qTileShape, kvTileShape: p.kvTileShape };
  const backwardOptions = {
    ...window,
    backend,
    backwardQTileShape: p.backwardQTileShape,
    backwardKvTileShape: p.backwardKvTileShape,
  };
  const fwd = byDims(p.dims, [natten.na1d, natten.na2d, natten.na3d] as const);
  const bwd = byDims(p.dims, [natten.na1dBackward, natten.na2dBackward, natten.na3dBackward] as const);
  const fwdName = `na${p.dims}d forward`;
  const ops: StepOp[] = [];
  let saved: natten.NAResult | undefined;
  if (!p.backprop) ops.push({ name: fwdName, run: () => [fwd(q, k, v, forwardOptions)] });
  else {
    ops.push({
      name: fwdName,
      run: () => {
        saved = fwd(q, k, v, { ...forwardOptions, returnLse: true });
        return [];
      },
    });
    ops.push({
      name: `na${p.dims}d backward`,
      run: () => {
        const s = saved!;
        const g = bwd(dOut, q, k, v, s.output, s.lse, backwardOptions);
        return [
          s.output,
          s.lse,
          g.dq,
          g.dk,
          g.dv,
          ...[g.dAdditionalKeys, g.dAdditionalValues].filter((t) => t !== undefined),
        ];
      },
    });
  }
  const inputs = [q, k, v, dOut, ...Object.values(extra)];
  return { ops, endStep: () => undefined, dispose: () => inputs.forEach((t) => t.dispose()) };
}

/** The unfused chain on NATTEN's [B, H, ...spatial, D] layout: QK, scale, softmax, AV and their backward. */
function unfusedStep(p: ProfileProblem): Step {
  const q = randn(p, [p.batch, p.heads, ...p.inputSize, p.headDim], 1);
  const k = randn(p, [p.batch, p.heads, ...p.inputSize, p.headDim], 2);
  const v = randn(p, [p.batch, p.heads, ...p.inputSize, p.headDimV], 3);
  const dOut = randn(p, [p.batch, p.heads, ...p.inputSize, p.headDimV], 4);
  const extraK = p.nExtra ? randn(p, [p.batch, p.heads, p.nExtra, p.headDim], 5) : undefined;
  const extraV = p.nExtra ? randn(p, [p.batch, p.heads, p.nExtra, p.headDimV], 6) : undefined;
  const window = { kernelSize: p.kernelSize, stride: p.stride, dilation: p.dilation, isCausal: p.isCausal };
  const qkOpts = { ...window, additionalKeys: extraK };
  const avOpts = { ...window, additionalValues: extraV };
  const d = p.dims;
  const QK = byDims(d, [natten.na1dQK, natten.na2dQK, natten.na3dQK] as const);
  const AV = byDims(d, [natten.na1dAV, natten.na2dAV, natten.na3dAV] as const);
  const QKB = byDims(d, [natten.na1dQKBackward, natten.na2dQKBackward, natten.na3dQKBackward] as const);
  const AVB = byDims(d, [natten.na1dAVBackward, natten.na2dAVBackward, natten.na3dAVBackward] as const);
  const factor = 1 / Math.sqrt(p.headDim);
  // Each op reads what the one before it made: `t` holds the step's intermediates by name.
  const t: Record<string, natten.Tensor> = {};
  const keep = (name: string, x: natten.Tensor): natten.Tensor[] => ((t[name] = x), []);
  const ops: StepOp[] = [
    { name: `na${d}dQK`, run: () => keep('attn', QK(q, k, qkOpts)) },
    { name: 'scale', run: () => keep('scores', scaled(t.attn, factor)) },
    { name: 'softmax', run: () => keep('probs', natten.softmax(t.scores)) },
    { name: `na${d}dAV`, run: () => keep('out', AV(t.probs, v, avOpts)) },
  ];
  if (p.backprop) {
    ops.push(
      {
        name: `na${d}dAVBackward`,
        run: () => {
          const g = AVB(dOut, t.probs, v, avOpts);
          keep('dAttn', g.dAttn);
          return [g.dv, ...[g.dAdditionalValues].filter((x) => x !== undefined)];
        },
      },
      { name: 'softmaxBackward', run: () => keep('dScores', natten.softmaxBackward(t.dAttn, t.probs)) },
      { name: 'scale', run: () => keep('dAttnScaled', scaled(t.dScores, factor)) },
      {
        name: `na${d}dQKBackward`,
        run: () => {
          const g = QKB(t.dAttnScaled, q, k, qkOpts);
          return [g.dq, g.dk, ...[g.dAdditionalKeys].filter((x) => x !== undefined)];
        },
      },
    );
  }
  const endStep = (): void => {
    for (const [name, x] of Object.entries(t)) {
      x.dispose();
      delete t[name];
    }
  };
  const inputs = [q, k, v, dOut, extraK, extraV].filter((x) => x !== undefined);
  return { ops, endStep, dispose: () => inputs.forEach((x) => x.dispose()) };
}

/** The step of the problem's backend. */
export function makeStep(p: ProfileProblem): Step {
  return p.backend === 'unfused' ? unfusedStep(p) : fusedStep(p);
}
