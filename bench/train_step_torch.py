#!/usr/bin/env python3
"""The PyTorch peer of bench/train_step_gpu.ts: one training step of a neighbourhood-attention layer (B4, 56x56,
C256, 8 heads, k7, bf16 parameters and activations) as a PyTorch user writes it without NATTEN: eager nn.Linear
qkv and proj around torch.compile'd FlexAttention (forward and backward) with a block mask of the 7x7 window
(docs/design.md §5, bench/na_window.py; create_block_mask(_compile=True), dynamic=False), the MSE loss against
a fixed target, backward (the input requires grad, so dX is computed as natten-node's module backward
returns it), torch.optim.AdamW(fused=True), zero_grad(set_to_none=True).

Token orders as bench/na_layer_torch.py: raster with 128-token blocks, 8x8 tiles with 64-token blocks, 8x16
tiles with 128-token blocks (input and target permuted once, outside the timing); the best one counts.
Timing: --calls steps queued back to back, then one synchronize; wall time / calls, median of --reps
repetitions after two warm-up ones. Before timing: the first step's loss is finite and the same in every order
(the same weights, the permuted data), and the weights change in the step.

    python bench/train_step_torch.py --json FILE [--reps 15] [--calls 100] [--orders raster,...]

--size and --batch change the problem for a quick run (FlexAttention has no backward on the CPU).
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention.flex_attention import create_block_mask, flex_attention

from na_window import neighbourhood_mask, permuted_mask, tiled_order

CHANNELS, HEADS, KERNEL = 256, 8, 7
# name, tile (None: raster), FlexAttention block size
ORDERS = (("raster", None, 128), ("tile8x8_block64", (8, 8), 64), ("tile8x16_block128", (8, 16), 128))


class NALayer(nn.Module):
    """qkv linear, FlexAttention per head with a block mask, proj; tokens [B, N, C] in the mask's order."""

    def __init__(self, block_mask, attention):
        super().__init__()
        self.qkv, self.proj = nn.Linear(CHANNELS, 3 * CHANNELS), nn.Linear(CHANNELS, CHANNELS)
        self.block_mask, self.attention = block_mask, attention

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = self.qkv(x).unflatten(-1, (3, HEADS, CHANNELS // HEADS)).permute(2, 0, 3, 1, 4).unbind(0)
        y = self.attention(q, k, v, block_mask=self.block_mask)
        return self.proj(y.transpose(1, 2).flatten(2))


def train_step(layer, opt, x, target):
    """forward, MSE loss, backward (dX and every parameter's grad), AdamW step, grads to None; the loss."""
    loss = F.mse_loss(layer(x), target)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    x.grad = None
    return loss.detach()


def queued_ms_per_call(fn, calls, reps, sync):
    """Wall ms per call of `calls` calls of fn queued back to back then one sync: every repetition."""
    for _ in range(2):
        fn()
    sync()
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        times.append((time.perf_counter() - started) * 1e3 / calls)
    return times


def run_order(a, tile, block, x_raster, target_raster, weights, attention, sync):
    """Builds the layer, optimizer and data in one token order; the first loss and the timings."""
    spatial, n = (a.height, a.width), a.height * a.width
    perm = torch.arange(n) if tile is None else tiled_order(spatial, tile)
    perm = perm.to(a.device)
    raster_mask = neighbourhood_mask(spatial, (KERNEL, KERNEL))
    mask_mod = raster_mask if tile is None else permuted_mask(raster_mask, perm)
    bm = create_block_mask(mask_mod, None, None, n, n, device=a.device, BLOCK_SIZE=block, _compile=True)
    layer = NALayer(bm, attention).to(a.device, torch.bfloat16)
    layer.load_state_dict(weights)  # the same starting weights in every order
    opt = torch.optim.AdamW(layer.parameters(), fused=True)
    x = x_raster[:, perm].detach().requires_grad_(True)
    target = target_raster[:, perm].contiguous()
    before = layer.proj.weight.detach().clone()
    first = train_step(layer, opt, x, target).item()
    changed = bool((layer.proj.weight.detach() != before).any())
    times = queued_ms_per_call(lambda: train_step(layer, opt, x, target), a.calls, a.reps, sync)
    return {"first_loss": first, "weights_changed": changed, "ms_per_step": round(statistics.median(times), 5),
            "reps_ms": [round(t, 5) for t in times], "block_size": block,
            "block_sparsity": round(float(bm.sparsity()), 2)}


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", required=True)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--size", default="56x56", help="HxW")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--orders", default=",".join(o[0] for o in ORDERS), help="comma-separated subset of the orders")
    a = ap.parse_args()
    a.height, a.width = (int(s) for s in a.size.split("x"))
    return a


def main():
    a = parse()
    torch.manual_seed(0)
    cuda = a.device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    attention = torch.compile(flex_attention, dynamic=False)
    shape = (a.batch, a.height * a.width, CHANNELS)
    x_raster = torch.randn(shape, device=a.device, dtype=torch.bfloat16)
    target_raster = torch.randn(shape, device=a.device, dtype=torch.bfloat16)
    weights = NALayer(None, None).to(a.device, torch.bfloat16).state_dict()
    results = {}
    for order, tile, block in (o for o in ORDERS if o[0] in a.orders.split(",")):
        started = time.time()
        try:
            results[order] = run_order(a, tile, block, x_raster, target_raster, weights, attention, sync)
        except Exception as e:  # an order torch cannot compile is reported; the others still count
            results[order] = {"error": f"{type(e).__name__}: {e}"[:500]}
            print(f"{order}: failed: {results[order]['error']}", flush=True)
            continue
        results[order]["setup_and_timing_s"] = round(time.time() - started, 1)
        print(f"{order}: {results[order]['ms_per_step']:.4f} ms/step, first loss {results[order]['first_loss']:.5f} "
              f"(block sparsity {results[order]['block_sparsity']}%)", flush=True)
    timed = [o for o in results if "ms_per_step" in results[o]]
    if not timed:
        sys.exit("no token order could be timed")
    best = min(timed, key=lambda o: results[o]["ms_per_step"])
    firsts = [results[o]["first_loss"] for o in timed]
    checks = {"first_loss_finite": all(f == f and abs(f) != float("inf") for f in firsts),
              "first_loss_spread": (max(firsts) - min(firsts)) / abs(min(firsts)),
              "weights_changed": all(results[o]["weights_changed"] for o in timed)}
    result = {"device": torch.cuda.get_device_name() if cuda else "cpu", "torch": torch.__version__,
              "dtype": "bfloat16", "layer": {"batch": a.batch, "height": a.height, "width": a.width,
                                             "channels": CHANNELS, "heads": HEADS, "kernelSize": KERNEL},
              "step": "forward + mse_loss + backward (dX too) + AdamW(fused=True) + zero_grad(set_to_none)",
              "calls": a.calls, "orders": results, "best": {"order": best, **results[best]}, "checks": checks}
    with open(a.json, "w") as f:
        json.dump(result, f, indent=1)
    print(f"checks: {checks}; best {best} {results[best]['ms_per_step']:.4f} ms/step; wrote {a.json}")
    if not (checks["first_loss_finite"] and checks["weights_changed"] and checks["first_loss_spread"] < 2e-2):
        sys.exit("the step's checks failed")


if __name__ == "__main__":
    main()
