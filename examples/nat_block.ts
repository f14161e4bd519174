/**
 * A NAT-style transformer block (Hassani et al., "Neighborhood Attention Transformer") built from
 * natten-node's public API: x + attn(norm1(x)), then h + mlp(norm2(h)) with mlp = fc2(gelu(fc1(.))),
 * hidden width 4C. Inputs and outputs are [B, H, W, C]. Parameter names follow the PyTorch module
 * written by examples/make_nat_weights.py, so its safetensors file loads unchanged.
 */
import * as natten from '../lib';
import { matchStateDict } from '../lib/nn/state_dict';

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

/** The block's own parameters (besides `attn.*`): name -> shape. */
function ownShapes(C: number, hidden: number): Map<string, number[]> {
  return new Map([
    ['norm1.weight', [C]],
    ['norm1.bias', [C]],
    ['norm2.weight', [C]],
    ['norm2.bias', [C]],
    ['mlp.fc1.weight', [hidden, C]],
    ['mlp.fc1.bias', [hidden]],
    ['mlp.fc2.weight', [C, hidden]],
    ['mlp.fc2.bias', [C]],
  ]);
}

/** Initial value of a parameter: norms weight 1 and bias 0, linears normal (std fan_in^-0.5) and bias 0. */
function initial(name: string, shape: number[], opts: natten.TensorOptions): natten.Tensor {
  if (name.startsWith('norm') && name.endsWith('.weight'))
    return natten.tensor(new Float64Array(shape[0]).fill(1), shape, opts);
  if (name.endsWith('.bias')) return natten.zeros(shape, opts);
  return natten.tidy(() => natten.mul(natten.randn(shape, opts), shape[1] ** -0.5));
}

/** A NAT block: layerNorm, NeighborhoodAttention2D, residual, layerNorm, MLP with gelu, residual. */
export class NATBlock {
  /** The attention module (parameters `attn.qkv.*`, `attn.proj.*` in the block's state dict). */
  readonly attn: natten.nn.NeighborhoodAttention2D;
  /** Layer-norm epsilon. */
  readonly eps: number;
  #params = new Map<string, natten.Tensor>();
  #shapes: Map<string, number[]>;

  constructor(opts: NATBlockOptions) {
    const { embedDim, numHeads, kernelSize, dilation, device, dtype } = opts;
    this.attn = new natten.nn.NeighborhoodAttention2D({ embedDim, numHeads, kernelSize, dilation, device, dtype });
    this.eps = opts.eps ?? 1e-5;
    const hidden = Math.round(embedDim * (opts.mlpRatio ?? 4));
    this.#shapes = ownShapes(embedDim, hidden);
    for (const [name, shape] of this.#shapes) this.#params.set(name, initial(name, shape, { device, dtype }));
  }

  /** Every parameter name and shape, as the PyTorch block names them. */
  get parameterShapes(): Map<string, number[]> {
    const all = new Map(this.#shapes);
    for (const [name, shape] of this.attn.parameterShapes) all.set(`attn.${name}`, shape);
    return all;
  }

  /** The block's tensors by name (owned by the block: do not dispose them). */
  stateDict(): Map<string, natten.Tensor> {
    const all = new Map(this.#params);
    for (const [name, t] of this.attn.stateDict()) all.set(`attn.${name}`, t);
    return all;
  }

  /** Loads every parameter (copied into the block's device and dtype); one error lists every bad key. */
  loadStateDict(dict: natten.nn.StateDict): this {
    const found = matchStateDict('NATBlock.loadStateDict', dict, this.parameterShapes, true);
    const attn = new Map<string, natten.Tensor>();
    for (const [name, t] of found) {
      if (name.startsWith('attn.')) {
        attn.set(name.slice('attn.'.length), t);
        continue;
      }
      const copy = t.to({ device: this.attn.device, dtype: this.attn.dtype });
      this.#params.get(name)?.dispose();
      this.#params.set(name, copy);
    }
    this.attn.loadStateDict(attn);
    return this;
  }

  #p(name: string): natten.Tensor {
    return this.#params.get(name) as natten.Tensor;
  }

  /** y = h + mlp(norm2(h)) with h = x + attn(norm1(x)); x, y: [B, H, W, C]. Queued, never blocks. */
  forward(x: natten.Tensor): natten.Tensor {
    return natten.tidy(() => {
      const n1 = natten.layerNorm(x, this.#p('norm1.weight'), this.#p('norm1.bias'), this.eps);
      const h = natten.add(x, this.attn.forward(n1));
      const n2 = natten.layerNorm(h, this.#p('norm2.weight'), this.#p('norm2.bias'), this.eps);
      const hidden = natten.gelu(natten.linear(n2, this.#p('mlp.fc1.weight'), this.#p('mlp.fc1.bias')));
      return natten.add(h, natten.linear(hidden, this.#p('mlp.fc2.weight'), this.#p('mlp.fc2.bias')));
    });
  }

  /** Frees every parameter. */
  dispose(): void {
    for (const t of this.#params.values()) t.dispose();
    this.attn.dispose();
  }
}
