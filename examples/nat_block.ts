/**
 * A NAT-style transformer block (Hassani et al., "Neighborhood Attention Transformer") built from
 * natten-node's public API: x + attn(norm1(x)), then h + mlp(norm2(h)) with mlp = fc2(gelu(fc1(.))),
 * hidden width 4C. Inputs and outputs are [B, H, W, C]. Parameter names follow the PyTorch module
 * written by examples/make_nat_weights.py, so its safetensors file loads unchanged. The block is a
 * natten.nn.Module: `backward(dY)` returns dX and fills every parameter's gradient.
 */
import * as natten from '../lib';

/** Options of {@link NATBlock}. */
export interface NATBlockOptions {
  /** Channels C. */
  embedDim: number;
  /** Attention heads; divides embedDim. */
  numHeads: number;
  /** Neighborhood size per spatial axis. */
  kernelSize: number;
  /** Dilation of the neighborhood (default 1). */
  dilation?: number;
  /** Hidden width of the MLP as a multiple of C (default 4). */
  mlpRatio?: number;
  /** Layer-norm epsilon (default 1e-5, PyTorch's). */
  eps?: number;
  /** Device of the parameters (default 'cpu'). */
  device?: natten.DeviceLike;
  /** Dtype of the parameters and of the inputs forward takes (default 'float32'). */
  dtype?: natten.DType;
}

/** A NAT block: layerNorm, NeighborhoodAttention2D, residual, layerNorm, MLP with gelu, residual. */
export class NATBlock extends natten.nn.Module {
  /** The attention module (parameters `attn.qkv.*`, `attn.proj.*` in the block's state dict). */
  readonly attn: natten.nn.NeighborhoodAttention2D;
  readonly norm1: natten.nn.LayerNorm;
  readonly norm2: natten.nn.LayerNorm;
  readonly fc1: natten.nn.Linear;
  readonly fc2: natten.nn.Linear;
  /** Layer-norm epsilon. */
  readonly eps: number;
  /** fc1's output (gelu's input), kept by a recording forward for the backward. */
  #hidden: natten.Tensor | null = null;

  constructor(opts: NATBlockOptions) {
    super();
    const { embedDim, numHeads, kernelSize, dilation, device, dtype } = opts;
    this.eps = opts.eps ?? 1e-5;
    const hidden = Math.round(embedDim * (opts.mlpRatio ?? 4));
    const at = { device, dtype };
    this.norm1 = this.child('norm1', new natten.nn.LayerNorm({ normalizedShape: embedDim, eps: this.eps, ...at }));
    this.attn = this.child(
      'attn',
      new natten.nn.NeighborhoodAttention2D({ embedDim, numHeads, kernelSize, dilation, ...at }),
    );
    this.norm2 = this.child('norm2', new natten.nn.LayerNorm({ normalizedShape: embedDim, eps: this.eps, ...at }));
    this.fc1 = this.child('mlp.fc1', new natten.nn.Linear({ inFeatures: embedDim, outFeatures: hidden, ...at }));
    this.fc2 = this.child('mlp.fc2', new natten.nn.Linear({ inFeatures: hidden, outFeatures: embedDim, ...at }));
  }

  protected get label(): string {
    return 'NATBlock';
  }

  /** y = h + mlp(norm2(h)) with h = x + attn(norm1(x)); x, y: [B, H, W, C]. Queued, never blocks. */
  forward(x: natten.Tensor): natten.Tensor {
    const saved = this.beginForward();
    this.#hidden = null;
    return natten.tidy(() => {
      const h = natten.add(x, this.attn.forward(this.norm1.forward(x)));
      const f1 = this.fc1.forward(this.norm2.forward(h));
      if (saved) this.#hidden = saved.share(f1);
      return natten.add(h, this.fc2.forward(natten.gelu(f1)));
    });
  }

  /** dX for dY [B, H, W, C]; adds the gradient of every parameter into its `grad`. */
  backward(dY: natten.Tensor): natten.Tensor {
    return this.withSaved(() =>
      natten.tidy(() => {
        const dHidden = natten.geluBackward(this.fc2.backward(dY), this.#hidden as natten.Tensor);
        const dH = natten.add(dY, this.norm2.backward(this.fc1.backward(dHidden)));
        return natten.add(dH, this.norm1.backward(this.attn.backward(dH)));
      }),
    );
  }
}
