"""Writes random weights of a NAT block, a reference input and PyTorch's output, for
examples/nat_block_demo.ts:

    pip install torch safetensors        # and optionally natten
    python examples/make_nat_weights.py --out-dir /tmp/nat
    npm run example:nat -- --weights /tmp/nat/nat_block.safetensors --reference /tmp/nat/nat_reference.safetensors

The block is x + attn(norm1(x)), then h + mlp.fc2(gelu(mlp.fc1(norm2(h)))) on [B, H, W, C], as
examples/nat_block.ts. `attn` is NATTEN's NeighborhoodAttention2D when natten is installed, else a
plain-PyTorch twin with the same parameters (qkv, proj) and the same neighborhoods (an explicit mask;
odd kernel, dilation 1, no stride, not causal). The weights file holds the block's state_dict
(safetensors.torch.save_file); the reference file holds `input` and `output` (float32).
"""

import argparse
import os

import torch
from torch import nn
from safetensors.torch import save_file


def window_mask(length: int, kernel: int) -> torch.Tensor:
    """[length, length] booleans: query i sees key j. NATTEN's window, dilation 1: centred on i,
    shifted inward at the borders so that it always holds `kernel` keys."""
    i = torch.arange(length)
    start = (i - kernel // 2).clamp(min=0, max=length - kernel)
    j = torch.arange(length)
    return (j[None, :] >= start[:, None]) & (j[None, :] < start[:, None] + kernel)


class TwinNeighborhoodAttention2D(nn.Module):
    """NATTEN's NeighborhoodAttention2D in plain PyTorch (odd kernel, dilation 1): parameters `qkv`
    and `proj` as NATTEN names them; attention restricted to each query's window by a mask."""

    def __init__(self, dim: int, num_heads: int, kernel_size: int):
        super().__init__()
        assert kernel_size % 2 == 1, "the twin covers odd kernels"
        self.num_heads, self.kernel_size = num_heads, kernel_size
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        heads, d = self.num_heads, C // self.num_heads
        qkv = self.qkv(x).reshape(B, H * W, 3, heads, d).permute(2, 0, 3, 1, 4)  # 3, B, heads, N, d
        q, k, v = qkv[0], qkv[1], qkv[2]
        mh, mw = window_mask(H, self.kernel_size), window_mask(W, self.kernel_size)
        # Query (a, b) sees key (c, e) when c is in a's row window and e in b's column window.
        mask = (mh[:, None, :, None] & mw[None, :, None, :]).reshape(H * W, H * W).to(x.device)
        scores = (q * d**-0.5) @ k.transpose(-2, -1)
        scores = scores.masked_fill(~mask, float("-inf"))
        y = scores.softmax(dim=-1) @ v  # B, heads, N, d
        return self.proj(y.transpose(1, 2).reshape(B, H, W, C))


def neighborhood_attention(dim: int, num_heads: int, kernel_size: int) -> nn.Module:
    """NATTEN's module when installed (without rpb, which the block does not use), else the twin."""
    try:
        import natten
    except ImportError:
        print("natten is not installed: using the plain-PyTorch twin")
        return TwinNeighborhoodAttention2D(dim, num_heads, kernel_size)
    try:
        module = natten.NeighborhoodAttention2D(dim, num_heads, kernel_size, rel_pos_bias=False)
    except TypeError:  # NATTEN versions without rel_pos_bias have no rpb at all
        module = natten.NeighborhoodAttention2D(dim, num_heads, kernel_size)
    print(f"using natten {getattr(natten, '__version__', '?')} NeighborhoodAttention2D")
    return module


class Mlp(nn.Module):
    """fc1 (C -> 4C), exact gelu, fc2 (4C -> C)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(nn.functional.gelu(self.fc1(x)))


class NATBlock(nn.Module):
    """The block of examples/nat_block.ts (no drop-path, no layer scale). `attn`: the attention module to use
    (default: NATTEN's when installed, else the twin above)."""

    def __init__(self, dim: int, num_heads: int, kernel_size: int, mlp_ratio: float = 4.0, attn: nn.Module = None):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = attn if attn is not None else neighborhood_attention(dim, num_heads, kernel_size)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", default=".")
    p.add_argument("--size", default="56x56", help="HxW of the reference input")
    p.add_argument("--channels", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kernel", type=int, default=7)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    H, W = (int(s) for s in a.size.split("x"))
    torch.manual_seed(a.seed)
    # float32 matmuls in full precision, as natten-node's float32 CPU path and its default on the GPU.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = "cuda" if torch.cuda.is_available() else "cpu"

    block = NATBlock(a.channels, a.heads, a.kernel).to(device).eval()
    expected = {"norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight",
                "attn.proj.bias", "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
                "mlp.fc2.weight", "mlp.fc2.bias"}
    names = set(block.state_dict().keys())
    assert names == expected, f"unexpected parameter names: {sorted(names ^ expected)}"
    with torch.no_grad():
        for t in block.parameters():  # non-trivial norms and biases, so that every parameter matters
            t.add_(0.1 * torch.randn_like(t))
        x = torch.randn(1, H, W, a.channels, device=device)
        y = block(x)

    os.makedirs(a.out_dir, exist_ok=True)
    weights = os.path.join(a.out_dir, "nat_block.safetensors")
    reference = os.path.join(a.out_dir, "nat_reference.safetensors")
    state = {k: v.detach().contiguous().cpu() for k, v in block.state_dict().items()}
    save_file(state, weights, metadata={"format": "pt"})
    save_file({"input": x.contiguous().cpu(), "output": y.contiguous().cpu()}, reference)
    print(f"on {device}: wrote {weights} and {reference} (output sum {y.sum().item():.6f})")


if __name__ == "__main__":
    main()
