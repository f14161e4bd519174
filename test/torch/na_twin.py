"""A pure-PyTorch twin of NATTEN's NeighborhoodAttention1D/2D/3D modules (no `natten` package needed).

Parameters are named and shaped as NATTEN's modules (`qkv.weight [3C, C]`, `qkv.bias [3C]`, `rpb [heads,
2k-1 per axis]` with rel_pos_bias, `proj.weight [C, C]`, `proj.bias [C]`), so its state_dict is what
lib/nn/state_dict.ts expects. forward(x) on [B, ...spatial, C]:

1. every axis shorter than kernel x dilation is zero-padded at its end (before qkv, as NATTEN does);
2. qkv linear, the last axis read as [3, heads, headDim];
3. dense attention per head on q * scale, restricted to each query's neighbourhood by an explicit boolean
   mask built from docs/design.md §5 (bench/na_window.py: dilation, causal, even kernel, stride), plus
   rpb[h, (j'-i') + k - 1 per axis] on the scaled scores where rel_pos_bias is set;
4. the padded axes are cropped, then proj.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from na_window import axis_neighbours  # noqa: E402  (bench/ is not a package)


def per_axis(value, dims):
    """One value for every axis, or a list of `dims` values, as a tuple."""
    if isinstance(value, (list, tuple)):
        if len(value) != dims:
            raise ValueError(f"expected {dims} values, got {value}")
        return tuple(value)
    return (value,) * dims


def _axis_view(t, axis, dims):
    """An [L, L] per-axis table viewed as [..., L (query axis), ..., L (key axis), ...] over 2*dims axes."""
    shape = [1] * (2 * dims)
    shape[axis] = t.shape[0]
    shape[dims + axis] = t.shape[1]
    return t.reshape(shape)


class NeighborhoodAttentionTwin(nn.Module):
    """NATTEN's NeighborhoodAttention{dims}D in plain PyTorch: dense scores, masked to the window."""

    def __init__(self, dims, dim, num_heads, kernel_size, dilation=1, stride=1, is_causal=False,
                 qkv_bias=True, qk_scale=None, rel_pos_bias=False):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.dims, self.num_heads, self.head_dim = dims, num_heads, dim // num_heads
        self.kernel_size = per_axis(kernel_size, dims)
        self.dilation = per_axis(dilation, dims)
        self.stride = per_axis(stride, dims)
        self.is_causal = per_axis(is_causal, dims)
        self.scale = qk_scale if qk_scale is not None else self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        if rel_pos_bias:
            if any(self.is_causal):
                raise ValueError("rel_pos_bias is not defined with causal masking (as in NATTEN)")
            self.rpb = nn.Parameter(torch.zeros(num_heads, *(2 * k - 1 for k in self.kernel_size)))
        else:
            self.register_parameter("rpb", None)
        self.proj = nn.Linear(dim, dim)

    def _axis_tables(self, spatial, device):
        """Per axis: [L, L] neighbour booleans and rpb indices (j' - i' + k - 1, clamped off the window)."""
        masks, rel = [], []
        for a, L in enumerate(spatial):
            k, d = self.kernel_size[a], self.dilation[a]
            i = torch.arange(L, device=device)[:, None]
            j = torch.arange(L, device=device)[None, :]
            masks.append(axis_neighbours(i, j, L, k, self.stride[a], d, self.is_causal[a]))
            rel.append((j // d - i // d + k - 1).clamp(0, 2 * k - 2))
        return masks, rel

    def window_mask(self, spatial, device="cpu"):
        """[N, N] booleans (N = prod(spatial), row-major tokens): key j is in query i's window."""
        masks, _ = self._axis_tables(spatial, device)
        full = _axis_view(masks[0], 0, self.dims)
        for a in range(1, self.dims):
            full = full & _axis_view(masks[a], a, self.dims)
        n = math.prod(spatial)
        return full.expand(*spatial, *spatial).reshape(n, n)

    def relative_bias(self, spatial):
        """[heads, N, N]: rpb[h, (j'-i') + k - 1 per axis] for every query/key pair (used inside the mask)."""
        _, rel = self._axis_tables(spatial, self.rpb.device)
        index = torch.broadcast_tensors(*(_axis_view(r, a, self.dims) for a, r in enumerate(rel)))
        n = math.prod(spatial)
        return self.rpb[(slice(None), *index)].reshape(self.num_heads, n, n)

    def forward(self, x):
        B, C = x.shape[0], x.shape[-1]
        spatial = tuple(x.shape[1:-1])
        need = [max(0, k * d - L) for k, d, L in zip(self.kernel_size, self.dilation, spatial)]
        pad = [0, 0]  # F.pad lists the last axis first: channels, then the spatial axes in reverse
        for p in reversed(need):
            pad += [0, p]
        xp = F.pad(x, pad)
        padded = tuple(xp.shape[1:-1])
        n = math.prod(padded)
        qkv = self.qkv(xp).reshape(B, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # [B, heads, N, headDim]
        scores = (q * self.scale) @ k.transpose(-2, -1)
        if self.rpb is not None:
            scores = scores + self.relative_bias(padded)
        scores = scores.masked_fill(~self.window_mask(padded, x.device), float("-inf"))
        y = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(B, *padded, C)
        y = y[(slice(None), *(slice(0, L) for L in spatial))]
        return self.proj(y)
