"""docs/design.md §5 (the neighbourhood of a query) in PyTorch, the one Python definition of it, and the
token orders FlexAttention is timed in: used by bench/flex_attention.py and bench/na_layer_torch.py
(FlexAttention mask_mods) and by the pure-PyTorch module twin of test/torch/ (explicit boolean masks).
Transcribed from the same rules as test/oracle/window.ts.
"""
import math

import torch


def axis_window(i, L, k, s, d, causal):
    """docs/design.md §5 on tensors: (group, group-local start, end) of query indices i on one axis."""
    g = i % d
    il = i // d
    lg = L // d + (g < (L % d)).to(i.dtype)
    if causal:
        leader = torch.minimum((il // s) * s + s - 1, lg - 1)
        start = torch.clamp(leader - k + 1, min=0)
        end = torch.minimum(il + 1, lg)
    else:
        left = k // 2
        right = k // 2 + (k % 2) - 1
        leader = torch.minimum((il // s) * s + s // 2, lg - 1)
        start = torch.clamp(leader - left, min=0)
        start = start + torch.where(leader + right >= lg, lg - right - leader - 1, torch.zeros_like(leader))
        end = start + k
    return g, start, end


def axis_neighbours(qi, kj, L, k, s, d, causal):
    """True where key index kj is in the window of query index qi on one axis (broadcasting tensors)."""
    if s == 1 and d == 1:
        # The same rule without stride groups or dilation groups (the leader is the query itself), in
        # fewer operations: a mask_mod runs per score on FlexAttention's partial blocks.
        if causal:
            return (kj <= qi) & (kj > qi - k)
        start = torch.clamp(qi - k // 2, min=0, max=L - k)
        return (kj >= start) & (kj < start + k)
    return axis_neighbours_general(qi, kj, L, k, s, d, causal)


def axis_neighbours_general(qi, kj, L, k, s, d, causal):
    """axis_neighbours through axis_window for every stride and dilation (the fast path's reference)."""
    g, start, end = axis_window(qi, L, k, s, d, causal)
    kl = kj // d
    return ((kj % d) == g) & (kl >= start) & (kl < end)


def coords(idx, spatial):
    """Row-major token index -> per-axis coordinates."""
    out = []
    rest = idx
    for L in reversed(spatial):
        out.append(rest % L)
        rest = rest // L
    return list(reversed(out))


def coords_neighbours(spatial, kernel, stride=None, dilation=None, causal=None):
    """f(qc, kc): True where the key at per-axis coordinates kc is a neighbour of the query at qc."""
    dims = len(spatial)
    stride = stride or (1,) * dims
    dilation = dilation or (1,) * dims
    causal = causal or (False,) * dims

    def f(qc, kc):
        ok = None
        for a in range(dims):
            inside = axis_neighbours(qc[a], kc[a], spatial[a], kernel[a], stride[a], dilation[a], causal[a])
            ok = inside if ok is None else ok & inside
        return ok

    return f


def neighbourhood_mask(spatial, kernel, stride=None, dilation=None, causal=None):
    """A FlexAttention mask_mod on row-major tokens: key kv_idx is a neighbour of query q_idx on every axis."""
    near = coords_neighbours(spatial, kernel, stride, dilation, causal)

    def mask_mod(b, h, q_idx, kv_idx):
        return near(coords(q_idx, spatial), coords(kv_idx, spatial))

    return mask_mod


def tiled_order(spatial, tile):
    """perm[new] = raster index of the token at position `new` of the tile-permuted order: tiles in
    row-major order, tokens inside a tile row-major; edge tiles hold only the tokens inside the grid."""
    grids = [torch.arange(L) for L in spatial]
    coord = torch.stack(torch.meshgrid(*grids, indexing="ij"), -1).reshape(-1, len(spatial))
    tile_of = coord // torch.tensor(tile)
    inner = coord % torch.tensor(tile)
    tiles_per_axis = [-(-L // t) for L, t in zip(spatial, tile)]
    key = torch.zeros(coord.shape[0], dtype=torch.long)
    for a in range(len(spatial)):
        key = key * tiles_per_axis[a] + tile_of[:, a]
    for a in range(len(spatial)):
        key = key * tile[a] + inner[:, a]
    return torch.argsort(key)


def tiled_neighbourhood_mask(spatial, kernel, tile, stride=None, dilation=None, causal=None):
    """The mask of neighbourhood_mask(spatial, kernel, stride, dilation, causal) on tokens stored in tiled_order(spatial, tile), with
    each token's coordinates computed from its tiled index (tile index and index inside the tile, both
    row-major) instead of looked up in a permutation tensor: a mask_mod FlexAttention evaluates inside its
    kernel on partial blocks, where a lookup is a global load per score. Needs every extent a multiple of
    the tile's (then the tiled order has no partial tiles); ValueError otherwise."""
    if any(L % t for L, t in zip(spatial, tile)):
        raise ValueError(f"tile {tuple(tile)} does not divide {tuple(spatial)}")
    tiles_per_axis = [L // t for L, t in zip(spatial, tile)]
    size = math.prod(tile)
    near = coords_neighbours(spatial, kernel, stride, dilation, causal)

    def tiled_coords(idx):
        tc = coords(idx // size, tiles_per_axis)
        ic = coords(idx % size, tile)
        return [tc[a] * tile[a] + ic[a] for a in range(len(spatial))]

    def mm(b, h, q_idx, kv_idx):
        return near(tiled_coords(q_idx), tiled_coords(kv_idx))

    return mm


def permuted_mask(mask_mod, perm):
    """The mask of `mask_mod` on tokens stored in the order `perm` (perm[new] = raster index)."""
    def mm(b, h, q_idx, kv_idx):
        return mask_mod(b, h, perm[q_idx], perm[kv_idx])
    return mm
