/**
 * One 2-D neighborhood-attention layer (qkv projection, split into heads, na2d, output projection) on a
 * `[B, H, W, C]` feature map, built two ways for the tensor-ops benchmark (bench/tensor_ops_cpu.ts):
 * `jsNaLayer`, the hand-written JavaScript a user writes without tensor ops (plain-loop linears, a JS split,
 * the data copied in and out around na2d), and `opsNaLayer`, the same layer from natten's tensor ops, on the
 * device of its input.
 */
import * as natten from '../lib';

/** Sizes of the layer. */
export interface LayerSizes {
  batch: number;
  height: number;
  width: number;
  channels: number;
  heads: number;
  kernelSize: number;
}

/** Weights as PyTorch stores them: qkv [3C, C] + [3C], proj [C, C] + [C]. */
export interface LayerWeights {
  qkvWeight: Float32Array;
  qkvBias: Float32Array;
  projWeight: Float32Array;
  projBias: Float32Array;
}

/** y[r, o] = sum_i x[r, i] w[o, i] + b[o], three plain loops. */
function jsLinear(
  x: Float32Array,
  rows: number,
  inF: number,
  w: Float32Array,
  b: Float32Array,
  outF: number,
): Float32Array {
  const y = new Float32Array(rows * outF);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outF; o++) {
      let s = b[o];
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = s;
    }
  return y;
}

/** The layer in hand-written JavaScript around na2d: x [B*H*W, C] -> [B*H*W, C]. */
export async function jsNaLayer(x: Float32Array, w: LayerWeights, s: LayerSizes): Promise<Float32Array> {
  const tokens = s.batch * s.height * s.width,
    C = s.channels;
  const qkv = jsLinear(x, tokens, C, w.qkvWeight, w.qkvBias, 3 * C);
  // Split [tokens, 3, heads, D] into q, k, v, each [tokens, heads, D] (the fused layout).
  const parts = [0, 1, 2].map((p) => {
    const out = new Float32Array(tokens * C);
    for (let t = 0; t < tokens; t++) out.set(qkv.subarray(t * 3 * C + p * C, t * 3 * C + (p + 1) * C), t * C);
    return out;
  });
  const shape = [s.batch, s.height, s.width, s.heads, C / s.heads];
  const [q, k, v] = parts.map((p) => natten.tensor(p, shape, { dtype: 'float32' }));
  const attn = natten.na2d(q, k, v, { kernelSize: s.kernelSize });
  const a = (await attn.toArray()) as Float32Array;
  for (const t of [q, k, v, attn]) t.dispose();
  return jsLinear(a, tokens, C, w.projWeight, w.projBias, C);
}

/** Device tensors of the weights. */
export interface LayerParams {
  qkvWeight: natten.Tensor;
  qkvBias: natten.Tensor;
  projWeight: natten.Tensor;
  projBias: natten.Tensor;
}

/** The weights as tensors on a device. */
export function layerParams(w: LayerWeights, s: LayerSizes, device: natten.DeviceLike = 'cpu'): LayerParams {
  const C = s.channels;
  return {
    qkvWeight: natten.tensor(w.qkvWeight, [3 * C, C], { device }),
    qkvBias: natten.tensor(w.qkvBias, [3 * C], { device }),
    projWeight: natten.tensor(w.projWeight, [C, C], { device }),
    projBias: natten.tensor(w.projBias, [C], { device }),
  };
}

/** The layer from tensor ops: x [B, H, W, C] -> [B, H, W, C] on x's device (intermediates freed by tidy). */
export function opsNaLayer(x: natten.Tensor, p: LayerParams, s: LayerSizes): natten.Tensor {
  return natten.tidy(() => {
    const [B, H, W, C] = x.shape;
    const qkv = natten.linear(x, p.qkvWeight, p.qkvBias).reshape([B, H, W, 3, s.heads, C / s.heads]);
    const [q, k, v] = natten
      .chunk(natten.permute(qkv, [3, 0, 1, 2, 4, 5]), 3, 0)
      .map((t) => t.reshape([B, H, W, s.heads, C / s.heads]));
    const attn = natten.na2d(q, k, v, { kernelSize: s.kernelSize }).reshape([B, H, W, C]);
    return natten.linear(attn, p.projWeight, p.projBias);
  });
}
