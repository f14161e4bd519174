// The differentiable ops and modules of the training API as cases run two ways: gradcheck in float64 on the
// CPU (test/training_gradcheck.test.ts) and CUDA gradients against CPU float64 gradients
// (test/cuda_training_grads.test.ts). Each case builds its inputs by shape and runs forward and backward
// with whatever tensors it is given.
import * as natten from '../../lib';
import type { Tensor } from '../../lib';
import { NATBlock } from '../../examples/nat_block';

/** Inputs by name. */
export type Inputs = Record<string, Tensor>;

/** An op: its inputs' shapes, forward and backward (gradients named as gradcheck reads them). */
export interface OpCase {
  name: string;
  shapes: Record<string, number[]>;
  forward(i: Inputs): Tensor;
  backward(dOut: Tensor, i: Inputs): Tensor | object;
}

const split23 = [2, 3];

export const OP_CASES: OpCase[] = [
  {
    name: 'linear with bias, x [2, 3, 4] -> 5',
    shapes: { x: [2, 3, 4], weight: [5, 4], bias: [5] },
    forward: (i) => natten.linear(i.x, i.weight, i.bias),
    backward: (d, i) => natten.linearBackward(d, i.x, i.weight, i.bias),
  },
  {
    name: 'linear without bias, 1-D x',
    shapes: { x: [3], weight: [2, 3] },
    forward: (i) => natten.linear(i.x, i.weight),
    backward: (d, i) => natten.linearBackward(d, i.x, i.weight),
  },
  {
    name: 'matmul batched [2, 3, 4] x [2, 4, 5]',
    shapes: { a: [2, 3, 4], b: [2, 4, 5] },
    forward: (i) => natten.matmul(i.a, i.b),
    backward: (d, i) => natten.matmulBackward(d, i.a, i.b),
  },
  {
    name: 'matmul with one shared b [2, 2, 3, 4] x [4, 2]',
    shapes: { a: [2, 2, 3, 4], b: [4, 2] },
    forward: (i) => natten.matmul(i.a, i.b),
    backward: (d, i) => natten.matmulBackward(d, i.a, i.b),
  },
  {
    name: 'add with b broadcast over leading axes',
    shapes: { a: [3, 2, 4], b: [2, 4] },
    forward: (i) => natten.add(i.a, i.b),
    backward: (d, i) => natten.addBackward(d, i.b.shape),
  },
  {
    name: 'add of equal shapes',
    shapes: { a: [3, 5], b: [3, 5] },
    forward: (i) => natten.add(i.a, i.b),
    backward: (d, i) => natten.addBackward(d, i.b.shape),
  },
  {
    name: 'mul by a scalar',
    shapes: { t: [4, 3] },
    forward: (i) => natten.mul(i.t, -1.7),
    backward: (d) => natten.mulBackward(d, -1.7),
  },
  {
    name: 'gelu (exact)',
    shapes: { x: [5, 7] },
    forward: (i) => natten.gelu(i.x),
    backward: (d, i) => natten.geluBackward(d, i.x),
  },
  {
    name: 'gelu (tanh)',
    shapes: { x: [5, 7] },
    forward: (i) => natten.gelu(i.x, { approximate: 'tanh' }),
    backward: (d, i) => natten.geluBackward(d, i.x, { approximate: 'tanh' }),
  },
  {
    name: 'layerNorm with weight and bias, eps 1e-3',
    shapes: { x: [3, 2, 6], weight: [6], bias: [6] },
    forward: (i) => natten.layerNorm(i.x, i.weight, i.bias, 1e-3),
    backward: (d, i) => natten.layerNormBackward(d, i.x, i.weight, i.bias, 1e-3),
  },
  {
    name: 'layerNorm without affine parameters',
    shapes: { x: [4, 5] },
    forward: (i) => natten.layerNorm(i.x, null, null),
    backward: (d, i) => natten.layerNormBackward(d, i.x, null, null).dx,
  },
  {
    name: 'permute [2, 3, 4] by [2, 0, 1]',
    shapes: { t: [2, 3, 4] },
    forward: (i) => natten.permute(i.t, [2, 0, 1]),
    backward: (d) => natten.permuteBackward(d, [2, 0, 1]),
  },
  {
    name: 'split, scale one part, concat (split/concat backward)',
    shapes: { x: [2, 5, 3] },
    forward: (i) =>
      natten.tidy(() => {
        const [p, q] = natten.split(i.x, split23, 1);
        return natten.concat([q, natten.mul(p, 3)], 1);
      }),
    backward: (d) =>
      natten.tidy(() => {
        const [dq, dp] = natten.concatBackward(d, [3, 2], 1);
        return natten.splitBackward([natten.mulBackward(dp, 3), dq], 1);
      }),
  },
  {
    name: 'chunk into 3 along axis 0, then concat reversed',
    shapes: { x: [6, 2] },
    forward: (i) => natten.tidy(() => natten.concat([...natten.chunk(i.x, 3, 0)].reverse(), 0)),
    backward: (d) => natten.tidy(() => natten.chunkBackward([...natten.concatBackward(d, [2, 2, 2], 0)].reverse(), 0)),
  },
  {
    name: 'toHeadsFirst, contiguous, toHeadsLast of [1, 3, 4, 2, 3] and a scale between',
    shapes: { t: [1, 3, 4, 2, 3] },
    forward: (i) => natten.tidy(() => natten.toHeadsLast(natten.mul(natten.contiguous(natten.toHeadsFirst(i.t)), 2))),
    backward: (d) =>
      natten.tidy(() =>
        natten.toHeadsFirstBackward(natten.contiguousBackward(natten.mulBackward(natten.toHeadsLastBackward(d), 2))),
      ),
  },
  {
    name: 'mseLoss',
    shapes: { pred: [3, 4], target: [3, 4] },
    forward: (i) => natten.mseLoss(i.pred, i.target),
    backward: (d, i) => natten.mseLossBackward(d, i.pred, i.target),
  },
];

/** A module that differentiates: natten.nn modules and the example block. */
export interface TrainableModule extends natten.nn.Module {
  forward(x: Tensor): Tensor;
  backward(dY: Tensor): Tensor;
}

/** A module case: how to build it on a device in a dtype, and its input's shape. */
export interface ModuleCase {
  name: string;
  input: number[];
  make(at: { device: natten.DeviceLike; dtype: natten.DType }): TrainableModule;
  /** Runs with the fused NA ops switched off (the unfused chain). */
  unfused?: boolean;
}

export const MODULE_CASES: ModuleCase[] = [
  {
    name: 'NeighborhoodAttention1D k3 dilation 2, causal, 2 heads (fused)',
    input: [2, 9, 4],
    make: (at) =>
      new natten.nn.NeighborhoodAttention1D({
        embedDim: 4,
        numHeads: 2,
        kernelSize: 3,
        dilation: 2,
        isCausal: true,
        ...at,
      }),
  },
  {
    name: 'NeighborhoodAttention2D k3 on 2x5 (padded axis), no qkv bias (fused)',
    input: [1, 2, 5, 4],
    make: (at) =>
      new natten.nn.NeighborhoodAttention2D({ embedDim: 4, numHeads: 2, kernelSize: 3, qkvBias: false, ...at }),
  },
  {
    name: 'NeighborhoodAttention2D k3 with rpb (unfused chain)',
    input: [1, 4, 5, 4],
    make: (at) =>
      new natten.nn.NeighborhoodAttention2D({ embedDim: 4, numHeads: 2, kernelSize: 3, relPosBias: true, ...at }),
  },
  {
    name: 'NeighborhoodAttention2D k[3, 2] stride, useFusedNA(false)',
    input: [1, 4, 4, 4],
    unfused: true,
    make: (at) =>
      new natten.nn.NeighborhoodAttention2D({ embedDim: 4, numHeads: 1, kernelSize: [3, 2], stride: [2, 1], ...at }),
  },
  {
    name: 'NeighborhoodAttention3D k2, 1 head (fused)',
    input: [1, 3, 2, 3, 2],
    make: (at) => new natten.nn.NeighborhoodAttention3D({ embedDim: 2, numHeads: 1, kernelSize: 2, ...at }),
  },
  {
    name: 'Linear 3 -> 4',
    input: [2, 2, 3],
    make: (at) => new natten.nn.Linear({ inFeatures: 3, outFeatures: 4, ...at }),
  },
  {
    name: 'LayerNorm 5',
    input: [3, 5],
    make: (at) => new natten.nn.LayerNorm({ normalizedShape: 5, ...at }),
  },
  {
    name: 'NATBlock C4, 2 heads, k3, mlpRatio 2 (layerNorm, NA, MLP with gelu, residuals)',
    input: [1, 4, 3, 4],
    make: (at) => new NATBlock({ embedDim: 4, numHeads: 2, kernelSize: 3, mlpRatio: 2, ...at }),
  },
];

/** Random float64 CPU values for every parameter of m (biases and norms non-trivial, so each matters). */
export function randomParams(m: natten.nn.Module, seed: number): Inputs {
  const out: Inputs = {};
  for (const [name, shape] of m.parameterShapes) {
    const r = natten.randn(shape, { dtype: 'float64', seed: seed++ });
    out[name] = natten.mul(r, name.endsWith('weight') && shape.length === 2 ? shape[1] ** -0.5 : 0.5);
    r.dispose();
  }
  return out;
}

/** The module as gradcheck sees it: inputs `x` and every parameter by name; backward returns dX as `x` and
 * each parameter's accumulated gradient under its name. */
export function moduleOp(m: TrainableModule): {
  forward(i: Inputs): Tensor;
  backward(d: Tensor, i: Inputs): Record<string, Tensor>;
} {
  const load = (i: Inputs): void => {
    const { x: _x, ...params } = i;
    m.loadStateDict(params);
  };
  return {
    forward: (i) => {
      load(i);
      return natten.noGrad(() => m.forward(i.x));
    },
    backward: (d, i) => {
      load(i);
      m.zeroGrad();
      m.forward(i.x).dispose();
      const grads: Record<string, Tensor> = { x: m.backward(d) };
      for (const p of m.parameters()) if (p.grad) grads[p.name] = p.grad.reshape(p.grad.shape);
      return grads;
    },
  };
}
