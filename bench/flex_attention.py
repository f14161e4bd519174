#!/usr/bin/env python3
"""Times PyTorch FlexAttention with natten-node's neighbourhood mask (docs/design.md §5).

The peer for bench/cuda_fused.ts: same problem list, bf16, CUDA events, median of many runs, useful
TFLOP/s = 4*B*H*N*prod(k)*D forward (x2.5 for backward). The mask is built from docs/design.md §5 exactly:
token index -> per-axis coordinates -> dilation group and group-local index -> window [start, end) ->
key is a neighbour iff it is in the same group and inside the window on every axis.

  python3 bench/flex_attention.py [--backward] [--runs 30] [--json out.json] [--only NAME,...] [--check]

--check compares FlexAttention on a small problem with a dense masked softmax (sanity of the mask).
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
from torch.nn.attention.flex_attention import create_block_mask, flex_attention

PROBLEMS = [
    # name, dims, B, H, D, spatial, kernel
    ("1d_L32768_k2049_D128", 1, 1, 16, 128, (32768,), (2049,)),
    ("2d_128x128_k13_D64", 2, 4, 16, 64, (128, 128), (13, 13)),
    ("2d_128x128_k31_D128", 2, 2, 16, 128, (128, 128), (31, 31)),
    ("2d_56x56_k7_D32", 2, 64, 4, 32, (56, 56), (7, 7)),
    ("3d_16x32x32_k5x9x9_D64", 3, 1, 16, 64, (16, 32, 32), (5, 9, 9)),
]


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


def coords(idx, spatial):
    """Row-major token index -> per-axis coordinates."""
    out = []
    rest = idx
    for L in reversed(spatial):
        out.append(rest % L)
        rest = rest // L
    return list(reversed(out))


def neighbourhood_mask(spatial, kernel, stride=None, dilation=None, causal=None):
    dims = len(spatial)
    stride = stride or (1,) * dims
    dilation = dilation or (1,) * dims
    causal = causal or (False,) * dims

    def mask_mod(b, h, q_idx, kv_idx):
        qc = coords(q_idx, spatial)
        kc = coords(kv_idx, spatial)
        ok = None
        for a in range(dims):
            g, start, end = axis_window(qc[a], spatial[a], kernel[a], stride[a], dilation[a], causal[a])
            kl = kc[a] // dilation[a]
            inside = ((kc[a] % dilation[a]) == g) & (kl >= start) & (kl < end)
            ok = inside if ok is None else ok & inside
        return ok

    return mask_mod


def time_cuda(fn, runs, warmup=5):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        e0 = torch.cuda.Event(enable_timing=True)
        e1 = torch.cuda.Event(enable_timing=True)
        e0.record()
        fn()
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1))
    return statistics.median(times)


def check_mask():
    """FlexAttention with the mask vs a dense masked softmax on a small 2-D problem with every option."""
    torch.manual_seed(0)
    spatial, kernel, stride, dil, causal = (11, 13), (5, 4), (2, 1), (2, 3), (False, True)
    n = math.prod(spatial)
    q, k, v = (torch.randn(1, 2, n, 32, device="cuda", dtype=torch.float32) for _ in range(3))
    mm = neighbourhood_mask(spatial, kernel, stride, dil, causal)
    bm = create_block_mask(mm, None, None, n, n, device="cuda")
    out = flex_attention(q, k, v, block_mask=bm)
    qi = torch.arange(n, device="cuda")[:, None]
    ki = torch.arange(n, device="cuda")[None, :]
    dense = mm(None, None, qi, ki)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(32)
    s = s.masked_fill(~dense, float("-inf"))
    ref = torch.softmax(s, -1) @ v
    err = (out - ref).abs().max().item()
    keys = dense.sum(1)
    print(f"check: max |flex - dense| = {err:.3g}; keys per query {keys.min().item()}..{keys.max().item()}")
    return err < 1e-3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backward", action="store_true", help="also time forward+backward")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--json", default=None)
    ap.add_argument("--only", default=None, help="comma-separated problem names")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    if args.check and not check_mask():
        print("mask check FAILED")
        sys.exit(1)

    # Each problem (shape, mask, requires_grad) is a new graph: reset dynamo between problems so the
    # recompile limit never sends a problem to the eager (unfused, score-materialising) fallback.
    for key, value in (("recompile_limit", 64), ("cache_size_limit", 64), ("accumulated_recompile_limit", 4096)):
        try:
            setattr(torch._dynamo.config, key, value)
        except (AttributeError, KeyError):
            pass  # older/newer torch without this knob
    dev = torch.cuda.get_device_name(0)
    results = []
    for name, dims, B, H, D, spatial, kernel in PROBLEMS:
        if args.only and name not in args.only.split(","):
            continue
        t0 = time.time()
        torch._dynamo.reset()
        flex = torch.compile(flex_attention, dynamic=False)
        n = math.prod(spatial)
        q, k, v = (torch.randn(B, H, n, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
        bm = create_block_mask(neighbourhood_mask(spatial, kernel), None, None, n, n, device="cuda")
        flops = 4.0 * B * H * n * math.prod(kernel) * D
        fwd_ms = time_cuda(lambda: flex(q, k, v, block_mask=bm), args.runs)
        row = {"problem": name, "device": dev, "impl": "flex_attention", "dtype": "bfloat16",
               "forward_ms": round(fwd_ms, 4), "forward_tflops": round(flops / fwd_ms * 1e-9, 2),
               "block_sparsity": round(float(bm.sparsity()), 2)}
        if args.backward:
            qg, kg, vg = (t.clone().requires_grad_(True) for t in (q, k, v))
            do = torch.randn_like(q) * 0.05

            def fwd_bwd():
                out = flex(qg, kg, vg, block_mask=bm)
                out.backward(do)

            fb_ms = time_cuda(fwd_bwd, args.runs)
            bwd_ms = max(fb_ms - fwd_ms, 1e-6)
            row.update({"forward_backward_ms": round(fb_ms, 4), "backward_ms": round(bwd_ms, 4),
                        "backward_tflops": round(2.5 * flops / bwd_ms * 1e-9, 2)})
        row["wall_s"] = round(time.time() - t0, 1)
        print(json.dumps(row), flush=True)
        results.append(row)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
