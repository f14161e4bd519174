// fp64 references of the natten.nn modules (docs/design.md §6 "Modules"): NATTEN's NeighborhoodAttention
// module (pad short axes, qkv, heads, attention with rpb on the scaled scores, crop, proj) and the NAT
// block of examples/nat_block.ts built from it.
import { naForward } from './fused';
import { add, concat, gelu, layerNorm, linear, slice } from './tensor_ops';
import { naAV, naQK, softmax } from './unfused';
import { fusedToUnfused, tensor, unfusedToFused, zeros, type Tensor } from './util';

/** The module's configuration: window values are one for every axis or one per axis. */
export interface NAModuleConfig {
  dims: 1 | 2 | 3;
  C: number;
  heads: number;
  kernel: number | readonly number[];
  dilation: number | readonly number[];
  stride?: number | readonly number[];
  causal?: boolean | readonly boolean[];
  rpb?: boolean;
  /** Score scale (default headDim^-0.5, the module's qkScale). */
  scale?: number;
}

/** Axis i's value of a one-or-per-axis option. */
function onAxis<T>(v: T | readonly T[], i: number): T {
  return Array.isArray(v) ? (v as readonly T[])[i] : (v as T);
}

/** Looks up a parameter, naming it when it is absent (a test bug, not a module bug). */
function param(p: Map<string, Tensor>, name: string): Tensor {
  const t = p.get(name);
  if (!t) throw new Error(`oracle: no parameter "${name}"`);
  return t;
}

/** NATTEN's module in fp64 on x [B, ...spatial, C] with parameters named as NATTEN's (`qkv.weight`, ...). */
export function naModule(c: NAModuleConfig, p: Map<string, Tensor>, x: Tensor): Tensor {
  const window = { kernelSize: c.kernel, dilation: c.dilation, stride: c.stride ?? 1, isCausal: c.causal ?? false };
  let xp = x;
  for (let i = 0; i < c.dims; i++) {
    const need = onAxis(c.kernel, i) * onAxis(c.dilation, i) - xp.shape[i + 1];
    if (need > 0) xp = concat([xp, zeros(xp.shape.map((s, j) => (j === i + 1 ? need : s)))], i + 1);
  }
  const qkv = linear(xp, param(p, 'qkv.weight'), p.get('qkv.bias'));
  const heads = [...xp.shape.slice(0, c.dims + 1), c.heads, c.C / c.heads];
  const [q, k, v] = [0, 1, 2].map((j) => tensor(slice(qkv, c.dims + 1, j * c.C, c.C).data, heads));
  const scale = c.scale ?? (c.C / c.heads) ** -0.5;
  let y: Tensor;
  if (c.rpb) {
    const qs = tensor(
      q.data.map((e) => e * scale),
      q.shape,
    );
    const attn = naQK(fusedToUnfused(qs), fusedToUnfused(k), { ...window, rpb: p.get('rpb') });
    y = unfusedToFused(naAV(softmax(attn), fusedToUnfused(v), window));
  } else y = naForward(q, k, v, { ...window, scale }).output;
  let flat = tensor(y.data, [...xp.shape.slice(0, c.dims + 1), c.C]);
  for (let i = 0; i < c.dims; i++) flat = slice(flat, i + 1, 0, x.shape[i + 1]);
  return linear(flat, param(p, 'proj.weight'), p.get('proj.bias'));
}

/** The parameters under `prefix.` with the prefix removed. */
function under(p: Map<string, Tensor>, prefix: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, t] of p) if (name.startsWith(`${prefix}.`)) out.set(name.slice(prefix.length + 1), t);
  return out;
}

/**
 * A NAT block in fp64: x + attn(norm1(x)), then + fc2(gelu(fc1(norm2(.)))); parameters as
 * examples/make_nat_weights.py names them (`norm1.weight`, `attn.qkv.weight`, `mlp.fc1.weight`, ...).
 */
export function natBlock(c: NAModuleConfig, p: Map<string, Tensor>, x: Tensor, eps = 1e-5): Tensor {
  const h = add(x, naModule(c, under(p, 'attn'), layerNorm(x, param(p, 'norm1.weight'), param(p, 'norm1.bias'), eps)));
  const n2 = layerNorm(h, param(p, 'norm2.weight'), param(p, 'norm2.bias'), eps);
  const hidden = gelu(linear(n2, param(p, 'mlp.fc1.weight'), param(p, 'mlp.fc1.bias')), 'none');
  return add(h, linear(hidden, param(p, 'mlp.fc2.weight'), param(p, 'mlp.fc2.bias')));
}
