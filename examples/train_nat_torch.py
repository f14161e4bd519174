#!/usr/bin/env python3
"""The PyTorch twin of examples/train_nat.ts: the same two-block NAT denoiser in plain PyTorch (nn.Linear,
nn.LayerNorm, exact GELU, and the neighbourhood attention of test/torch/na_twin.py: dense scores masked to
the window of docs/design.md §5), the same parameter names, the same toy task (smooth 2-D fields plus
Gaussian noise, target the clean field; examples/denoise_task.ts), torch.optim.AdamW and the mean squared
error. Needs torch and safetensors, not the natten package.

    # (a) the initial weights and every step's batch, for both sides
    python examples/train_nat_torch.py --write-init /tmp/t/init.safetensors --write-data /tmp/t/data.safetensors
    # (b) PyTorch trains from them (float32, TF32 off) and writes its per-step losses
    python examples/train_nat_torch.py --init /tmp/t/init.safetensors --data /tmp/t/data.safetensors \\
        --losses /tmp/t/torch_float32.json
    # natten-node from the same files
    npm start -- --example train --device cuda --init /tmp/t/init.safetensors --data /tmp/t/data.safetensors \\
        --losses /tmp/t/node_float32.json

The data file holds `noisy` and `clean` [steps, batch, H, W, channels] (float32); the init file the model's
state_dict (float32). Training runs when --losses is given, from --init / --data, else from the weights and
batches made in the same run.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "torch"))
from na_twin import NeighborhoodAttentionTwin  # noqa: E402  (test/torch is not a package)
from make_nat_weights import NATBlock  # noqa: E402  (this script's folder)


class NATDenoiser(nn.Module):
    """embed (channels -> C), `depth` NAT blocks with the twin's attention, head (C -> channels), on
    [B, H, W, channels]; parameters named as examples/nat_denoiser.ts names them."""

    def __init__(self, in_channels, dim, heads, kernel, depth=2):
        super().__init__()
        self.embed = nn.Linear(in_channels, dim)
        self.blocks = nn.ModuleList(
            NATBlock(dim, heads, kernel, attn=NeighborhoodAttentionTwin(2, dim, heads, kernel)) for _ in range(depth))
        self.head = nn.Linear(dim, in_channels)

    def forward(self, x):
        h = self.embed(x)
        for block in self.blocks:
            h = block(h)
        return self.head(h)


def clean_fields(gen, n, height, width, waves, max_frequency):
    """n fields [n, H, W] (float64): sums of `waves` sinusoids of integer frequencies (cycles across the
    field, fy in [0, max], fx in [-max, max], never both 0), normal amplitudes and uniform phases, each
    shifted and scaled to zero mean and unit variance."""
    fy = torch.randint(0, max_frequency + 1, (n, waves), generator=gen)
    fx = torch.randint(-max_frequency, max_frequency + 1, (n, waves), generator=gen)
    zero = (fy == 0) & (fx == 0)
    while zero.any():  # redraw constant waves, as examples/denoise_task.ts does
        fy[zero] = torch.randint(0, max_frequency + 1, (int(zero.sum()),), generator=gen)
        fx[zero] = torch.randint(-max_frequency, max_frequency + 1, (int(zero.sum()),), generator=gen)
        zero = (fy == 0) & (fx == 0)
    amplitude = torch.randn(n, waves, 1, 1, generator=gen, dtype=torch.float64)
    phase = 2 * math.pi * torch.rand(n, waves, 1, 1, generator=gen, dtype=torch.float64)
    y = torch.arange(height, dtype=torch.float64).reshape(1, 1, height, 1) / height
    x = torch.arange(width, dtype=torch.float64).reshape(1, 1, 1, width) / width
    f = (amplitude * torch.sin(2 * math.pi * (fy[..., None, None] * y + fx[..., None, None] * x) + phase)).sum(1)
    f = f - f.mean(dim=(1, 2), keepdim=True)
    return f / f.std(dim=(1, 2), keepdim=True, unbiased=False)


def make_data(a, height, width):
    """`noisy` and `clean` [steps, batch, H, W, channels] float32: every step's batch."""
    gen = torch.Generator().manual_seed(a.seed + 1)
    n = a.steps * a.batch * a.in_channels
    clean = clean_fields(gen, n, height, width, a.waves, a.max_frequency)
    noisy = clean + a.noise * torch.randn(clean.shape, generator=gen, dtype=torch.float64)

    def to_layout(t):  # fields [steps * batch * channels, H, W] -> [steps, batch, H, W, channels]
        return t.reshape(a.steps, a.batch, a.in_channels, height, width).permute(0, 1, 3, 4, 2).float().contiguous()

    return {"noisy": to_layout(noisy), "clean": to_layout(clean)}


def train(a, model, data, device):
    """AdamW on the MSE for a.steps steps; returns the per-step losses (each before its update)."""
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    noisy, clean = data["noisy"].to(device), data["clean"].to(device)
    if noisy.shape[0] < a.steps:
        sys.exit(f"the data holds {noisy.shape[0]} batches, --steps asks for {a.steps}")
    losses, started = [], time.time()
    for s in range(a.steps):
        loss = F.mse_loss(model(noisy[s]), clean[s])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
        if (s + 1) % a.print_every == 0 or s + 1 == a.steps:
            print(f"step {s + 1:5d}/{a.steps}  loss {loss.item():.6f}  ({time.time() - started:.1f} s)", flush=True)
    return torch.stack(losses).tolist(), time.time() - started


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--write-init", help="writes the model's initial state_dict (safetensors)")
    p.add_argument("--write-data", help="writes every step's batch: noisy, clean [steps, B, H, W, ch]")
    p.add_argument("--init", help="initial weights to train from (default: this run's)")
    p.add_argument("--data", help="batches to train on (default: this run's)")
    p.add_argument("--losses", help="trains and writes the per-step losses as JSON")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--size", default="32x32", help="HxW")
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kernel", type=int, default=7)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--in-channels", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--noise", type=float, default=0.5)
    p.add_argument("--waves", type=int, default=4)
    p.add_argument("--max-frequency", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--print-every", type=int, default=20)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p.parse_args()


def main():
    a = parse()
    height, width = (int(s) for s in a.size.split("x"))
    # float32 matmuls in full precision, as natten-node computes float32 (TF32 only when asked).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(a.seed)
    model = NATDenoiser(a.in_channels, a.channels, a.heads, a.kernel)
    data = make_data(a, height, width) if a.write_data or (a.losses and not a.data) else None
    if a.write_init:
        save_file({k: v.detach().float().contiguous() for k, v in model.state_dict().items()}, a.write_init,
                  metadata={"format": "pt"})
        print(f"wrote {a.write_init} ({sum(p.numel() for p in model.parameters())} parameters)")
    if a.write_data:
        save_file(data, a.write_data, metadata={"noise": str(a.noise), "seed": str(a.seed)})
        print(f"wrote {a.write_data} (noisy, clean {list(data['noisy'].shape)})")
    if not a.losses:
        return
    if a.init:
        model.load_state_dict(load_file(a.init))
    if a.data:
        data = load_file(a.data)
    _, batch, height, width, in_channels = data["noisy"].shape
    model = model.to(a.device)
    print(f"train_nat_torch: torch {torch.__version__} {a.device} float32, fields {[batch, height, width, in_channels]}, "
          f"C{a.channels}, {a.heads} heads, kernel {a.kernel}, AdamW lr {a.lr}, {a.steps} steps", flush=True)
    losses, seconds = train(a, model, data, a.device)
    tail = losses[-10:]
    print(f"final loss (mean of the last 10 steps) {sum(tail) / len(tail):.6f}")
    device = torch.cuda.get_device_name() if a.device.startswith("cuda") else "cpu"
    g = torch.optim.AdamW([torch.zeros(1)]).defaults
    record = {"label": f"PyTorch {torch.__version__} {a.device} float32", "device": device, "dtype": "float32",
              "model": {"depth": len(model.blocks), "channels": a.channels, "heads": a.heads, "kernel": a.kernel,
                        "inChannels": in_channels},
              "task": {"batch": batch, "height": height, "width": width, "noise": None if a.data else a.noise,
                       "data": a.data},
              "optimizer": {"name": "AdamW", "lr": a.lr, "weightDecay": a.weight_decay, "betas": list(g["betas"]),
                            "eps": g["eps"]},
              "seconds": seconds, "losses": losses}
    with open(a.losses, "w") as f:
        json.dump(record, f, indent=1)
    print(f"wrote {a.losses}")


if __name__ == "__main__":
    main()
