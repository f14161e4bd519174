/**
 * The model of examples/train_nat.ts: an input Linear (channels -> C), `depth` NAT blocks
 * (examples/nat_block.ts: layerNorm, NeighborhoodAttention2D, residual, layerNorm, MLP with gelu, residual)
 * and an output Linear (C -> channels), on [B, H, W, channels]. Parameter names (`embed.*`,
 * `blocks.<i>.norm1.*`, `blocks.<i>.attn.qkv.*`, ..., `head.*`) are those of the PyTorch twin in
 * examples/train_nat_torch.py, so its safetensors state dict loads unchanged.
 */
import * as natten from '../lib';
import { NATBlock } from './nat_block';

/** Options of {@link NATDenoiser}. */
export interface NATDenoiserOptions {
  /** Channels of the field (input and output). */
  inChannels: number;
  /** Channels C inside the blocks. */
  embedDim: number;
  numHeads: number;
  kernelSize: number;
  /** NAT blocks (default 2). */
  depth?: number;
  device?: natten.DeviceLike;
  dtype?: natten.DType;
}

/** embed -> NAT blocks -> head; a natten.nn.Module with backward. */
export class NATDenoiser extends natten.nn.Module {
  readonly embed: natten.nn.Linear;
  readonly blocks: NATBlock[];
  readonly head: natten.nn.Linear;

  constructor(opts: NATDenoiserOptions) {
    super();
    const { inChannels, embedDim, numHeads, kernelSize, device, dtype } = opts;
    const at = { device, dtype };
    this.embed = this.child('embed', new natten.nn.Linear({ inFeatures: inChannels, outFeatures: embedDim, ...at }));
    this.blocks = Array.from({ length: opts.depth ?? 2 }, (_, i) =>
      this.child(`blocks.${i}`, new NATBlock({ embedDim, numHeads, kernelSize, ...at })),
    );
    this.head = this.child('head', new natten.nn.Linear({ inFeatures: embedDim, outFeatures: inChannels, ...at }));
  }

  protected get label(): string {
    return 'NATDenoiser';
  }

  /** The denoised field [B, H, W, channels] of x [B, H, W, channels]. Queued, never blocks. */
  forward(x: natten.Tensor): natten.Tensor {
    // The children keep what their backwards need; this module keeps nothing of its own.
    return natten.tidy(() => this.head.forward(this.blocks.reduce((h, b) => b.forward(h), this.embed.forward(x))));
  }

  /** dX for dY [B, H, W, channels]; adds the gradient of every parameter into its `grad`. */
  backward(dY: natten.Tensor): natten.Tensor {
    return natten.tidy(() =>
      this.embed.backward(this.blocks.reduceRight((d, b) => b.backward(d), this.head.backward(dY))),
    );
  }
}

/**
 * Seeded initial weights for the model's parameter names and shapes: matrices normal with std
 * fan_in^-0.5 (natten.nn.Linear's initialisation, each from its own seed), layer-norm weights one, biases
 * zero. Tensors on the CPU in float32; the caller disposes them.
 */
export function seededWeights(model: natten.nn.Module, seed: number): Map<string, natten.Tensor> {
  const out = new Map<string, natten.Tensor>();
  let next = seed;
  for (const [name, shape] of model.parameterShapes) {
    const fill = (v: number): natten.Tensor => natten.tensor(new Float32Array(shape[0]).fill(v), shape);
    if (shape.length === 2) {
      const r = natten.randn(shape, { seed: next++ });
      out.set(name, natten.mul(r, shape[1] ** -0.5));
      r.dispose();
    } else out.set(name, fill(/(^|\.)norm\d\.weight$/.test(name) ? 1 : 0));
  }
  return out;
}
