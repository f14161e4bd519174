/**
 * A natten.nn module built from an oracle configuration (test/oracle/na_module.ts), loaded with seeded
 * float64 parameters, and its parameters read back for the oracle: shared by the CPU and CUDA module tests.
 */
import * as natten from '../../lib';
import * as o from '../oracle';

const MODULES = [
  natten.nn.NeighborhoodAttention1D,
  natten.nn.NeighborhoodAttention2D,
  natten.nn.NeighborhoodAttention3D,
];

/** The module of a configuration on a device and dtype (random weights until loaded). */
export function moduleOf(
  c: o.NAModuleConfig,
  dtype: natten.DType = 'float64',
  device: natten.DeviceLike = 'cpu',
): natten.nn.NeighborhoodAttentionModule {
  return new MODULES[c.dims - 1]({
    embedDim: c.C,
    numHeads: c.heads,
    kernelSize: c.kernel,
    dilation: c.dilation,
    stride: c.stride,
    isCausal: c.causal,
    relPosBias: c.rpb,
    qkScale: c.scale,
    device,
    dtype,
  });
}

/**
 * Loads seeded normal parameters: weights [out, in] with std in^-0.5 (a trained layer's scale: unit-size
 * q, k, v and scores, whatever C is), biases and rpb with std 1 (so that every parameter matters).
 */
export function loadRandomParams(m: natten.nn.NeighborhoodAttentionModule, seed: number): void {
  const p = new Map<string, natten.Tensor>();
  let s = seed;
  for (const [name, shape] of m.parameterShapes) {
    const t = natten.randn(shape, { seed: s++, dtype: 'float64' });
    if (!name.endsWith('.weight')) p.set(name, t);
    else {
      p.set(name, natten.mul(t, shape[1] ** -0.5));
      t.dispose();
    }
  }
  try {
    m.loadStateDict(p);
  } finally {
    for (const t of p.values()) t.dispose();
  }
}

/** The module's parameters as the oracle's tensors (the values it holds, rounded to its dtype). */
export async function oracleParams(m: natten.nn.NeighborhoodAttentionModule): Promise<Map<string, o.Tensor>> {
  const out = new Map<string, o.Tensor>();
  for (const [name, t] of m.stateDict()) out.set(name, o.tensor(Float64Array.from(await t.toArray()), t.shape));
  return out;
}
