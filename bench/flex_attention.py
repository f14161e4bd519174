#!/usr/bin/env python3
"""Times PyTorch FlexAttention with natten-node's neighbourhood mask (docs/design.md §5), at its best.

The peer for bench/cuda_fused.ts: same problem list, bf16, CUDA events, median of many runs, useful
TFLOP/s = 4*B*H*N*prod(k)*D forward (x2.5 for backward). The mask is built from docs/design.md §5 exactly
(bench/na_window.py): token index -> per-axis coordinates -> dilation group and group-local index -> window [start, end) ->
key is a neighbour iff it is in the same group and inside the window on every axis. On axes with stride 1
and dilation 1 (every benchmark problem) the same rule takes its short form, start = clamp(i - k/2, 0, L - k)
(causal: i - k < j <= i), in a few operations per score: FlexAttention evaluates the mask_mod per score on its
partial blocks.

FlexAttention at its best: each problem gets its own compiled kernel (dynamo reset, dynamic=False, recompile
limits raised), and every
problem is timed in two token orders: raster (row-major) and tile-permuted (tokens reordered so that each
128-token block of FlexAttention is a spatial tile, e.g. 8x16 in 2-D: far fewer partial blocks). In the
tile-permuted order the mask_mod computes each token's coordinates from its tiled index where the tile
divides every extent (bench/na_window.py tiled_neighbourhood_mask); looking them up in a permutation tensor
costs a global load per score on partial blocks (k13 forward 12.4 ms looked up, 3.0 ms computed, H200). The
row reports both orders and the better one for the forward and for the backward (`forward_ms`, `order`,
`backward_ms`, `backward_order`). --dense adds dense attention through
cuDNN (SDPA's cuDNN backend), the ceiling a neighbourhood kernel is measured against.

  python3 bench/flex_attention.py [--backward] [--runs 30] [--json out.json] [--only NAME,...] [--check]
                                  [--orders raster,tiled] [--tile 8x16] [--compiled-mask] [--dense]
  python3 bench/flex_attention.py --merge a.json b.json ... --json out.json

--merge joins runs of single problems or orders into one row per problem with its best order.

The block mask is built eagerly by default: on an H200 with PyTorch 2.11 the compiled build
(create_block_mask(_compile=True), --compiled-mask) of the 2-D and 3-D masks had not finished after 150 s,
where the eager one takes under a second (1-D: 2.6 s compiled). --tile overrides the tile of the
tile-permuted order (dev/gpu/flex_orders.sh tries several).

--check compares FlexAttention on a small problem with a dense masked softmax (sanity of the mask), in
both token orders, the computed tiled mask with the looked-up one, and the short form with the general rule.
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
from torch.nn.attention.flex_attention import create_block_mask, flex_attention

from na_window import (
    axis_neighbours,
    axis_neighbours_general,
    neighbourhood_mask,
    permuted_mask,
    tiled_neighbourhood_mask,
    tiled_order,
)

PROBLEMS = [
    # name, dims, B, H, D, spatial, kernel
    ("1d_L32768_k2049_D128", 1, 1, 16, 128, (32768,), (2049,)),
    ("2d_128x128_k13_D64", 2, 4, 16, 64, (128, 128), (13, 13)),
    ("2d_128x128_k31_D128", 2, 2, 16, 128, (128, 128), (31, 31)),
    ("2d_56x56_k7_D32", 2, 64, 4, 32, (56, 56), (7, 7)),
    ("3d_16x32x32_k5x9x9_D64", 3, 1, 16, 64, (16, 32, 32), (5, 9, 9)),
]


# Spatial tile of one 128-token FlexAttention block in the tile-permuted order, per dims.
TILES = {1: (128,), 2: (8, 16), 3: (4, 4, 8)}


def tile_of(dims, args):
    """The tile of the tile-permuted order: --tile (e.g. 8x8) or TILES[dims]."""
    if args.tile:
        return tuple(int(t) for t in args.tile.split("x"))
    return TILES[dims]


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
    """FlexAttention with the mask vs a dense masked softmax on a small 2-D problem with every option, in
    raster and tile-permuted order (the permuted output is put back in raster order before comparing)."""
    torch.manual_seed(0)
    spatial, kernel, stride, dil, causal = (11, 13), (5, 4), (2, 1), (2, 3), (False, True)
    n = math.prod(spatial)
    q, k, v = (torch.randn(1, 2, n, 32, device="cuda", dtype=torch.float32) for _ in range(3))
    mm = neighbourhood_mask(spatial, kernel, stride, dil, causal)
    qi = torch.arange(n, device="cuda")[:, None]
    ki = torch.arange(n, device="cuda")[None, :]
    dense = mm(None, None, qi, ki)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(32)
    s = s.masked_fill(~dense, float("-inf"))
    ref = torch.softmax(s, -1) @ v
    ok = True
    for order in ("raster", "tiled"):
        perm = torch.arange(n) if order == "raster" else tiled_order(spatial, (4, 8))
        perm = perm.to("cuda")
        bm = create_block_mask(permuted_mask(mm, perm), None, None, n, n, device="cuda", _compile=True)
        out = torch.empty_like(q)
        out[:, :, perm] = flex_attention(q[:, :, perm], k[:, :, perm], v[:, :, perm], block_mask=bm)
        err = (out - ref).abs().max().item()
        ok = ok and err < 1e-3
        print(f"check ({order}): max |flex - dense| = {err:.3g}")
    keys = dense.sum(1)
    print(f"check: keys per query {keys.min().item()}..{keys.max().item()}")
    # The arithmetic tiled mask (tiled_neighbourhood_mask) against the looked-up one, every pair of tokens.
    spatial2, tile2 = (12, 16), (4, 8)
    n2 = math.prod(spatial2)
    perm2 = tiled_order(spatial2, tile2).to("cuda")
    qi2 = torch.arange(n2, device="cuda")[:, None]
    ki2 = torch.arange(n2, device="cuda")[None, :]
    looked_up = permuted_mask(neighbourhood_mask(spatial2, kernel, stride, dil, causal), perm2)(None, None, qi2, ki2)
    computed = tiled_neighbourhood_mask(spatial2, kernel, tile2, stride, dil, causal)(None, None, qi2, ki2)
    same = bool((looked_up == computed).all())
    print(f"check (tiled mask computed from the index): {'equal' if same else 'DIFFERENT'}")
    # The stride-1, dilation-1 fast path of axis_neighbours (what the benchmark problems run) against the
    # general rule, every (L, k, causal) up to L = 40.
    fast_ok = True
    for L in range(1, 41):
        i = torch.arange(L, device="cuda")
        for kk in range(2, L + 1):
            for c in (False, True):
                fast = axis_neighbours(i[:, None], i[None, :], L, kk, 1, 1, c)
                general = axis_neighbours_general(i[:, None], i[None, :], L, kk, 1, 1, c)
                fast_ok = fast_ok and bool((fast == general).all())
    print(f"check (stride-1 dilation-1 fast path): {'equal' if fast_ok else 'DIFFERENT'}")
    return ok and same and fast_ok


def time_order(name, dims, B, H, D, spatial, kernel, order, args):
    """One problem in one token order: a fresh compiled kernel, the block mask built compiled, then
    forward (and forward+backward) medians."""
    torch._dynamo.reset()
    flex = torch.compile(flex_attention, dynamic=False)
    n = math.prod(spatial)
    q, k, v = (torch.randn(B, H, n, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    row = {}
    mm = neighbourhood_mask(spatial, kernel)
    if order == "tiled":
        tile = tile_of(dims, args)
        row["tile"] = list(tile)
        try:
            mm = tiled_neighbourhood_mask(spatial, kernel, tile)
            row["tiled_mask"] = "computed"
        except ValueError:  # partial tiles: look the coordinates up
            mm = permuted_mask(mm, tiled_order(spatial, tile).to("cuda"))
            row["tiled_mask"] = "looked up"
    t0 = time.time()

    def phase(what):  # progress on stderr: where a slow compile spends its time
        print(f"  {name} {order}: {what} at {time.time() - t0:.1f} s", file=sys.stderr, flush=True)

    bm = create_block_mask(mm, None, None, n, n, device="cuda", _compile=args.compiled_mask)
    phase("block mask built" + (" (compiled)" if args.compiled_mask else ""))
    flops = 4.0 * B * H * n * math.prod(kernel) * D
    fwd_ms = time_cuda(lambda: flex(q, k, v, block_mask=bm), args.runs)
    phase("forward compiled and timed")
    row.update({"forward_ms": round(fwd_ms, 4), "forward_tflops": round(flops / fwd_ms * 1e-9, 2),
                "block_sparsity": round(float(bm.sparsity()), 2)})
    if args.backward:
        qg, kg, vg = (t.clone().requires_grad_(True) for t in (q, k, v))
        do = torch.randn_like(q) * 0.05

        def fwd_bwd():
            out = flex(qg, kg, vg, block_mask=bm)
            out.backward(do)

        fb_ms = time_cuda(fwd_bwd, args.runs)
        phase("backward compiled and timed")
        bwd_ms = max(fb_ms - fwd_ms, 1e-6)
        row.update({"forward_backward_ms": round(fb_ms, 4), "backward_ms": round(bwd_ms, 4),
                    "backward_tflops": round(2.5 * flops / bwd_ms * 1e-9, 2)})
    return row


def time_dense(D, args):
    """Dense attention through cuDNN (SDPA, cuDNN backend), B1 H16 N 16384 bf16: the ceiling."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    B, H, n = 1, 16, 16384
    q, k, v = (torch.randn(B, H, n, D, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    flops = 4.0 * B * H * n * n * D
    sdpa = torch.nn.functional.scaled_dot_product_attention
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        fwd_ms = time_cuda(lambda: sdpa(q, k, v), args.runs)
        do = torch.randn_like(q)
        fb_ms = time_cuda(lambda: sdpa(q, k, v).backward(do), args.runs)
    bwd_ms = fb_ms - fwd_ms
    return {"problem": f"dense_N16384_D{D}", "device": torch.cuda.get_device_name(0), "impl": "cudnn_sdpa",
            "dtype": "bfloat16", "forward_ms": round(fwd_ms, 4), "forward_tflops": round(flops / fwd_ms * 1e-9, 2),
            "backward_ms": round(bwd_ms, 4), "backward_tflops": round(2.5 * flops / bwd_ms * 1e-9, 2)}


ORDERS = ("raster", "tiled")


def summarize(row, backward):
    """Sets a row's top-level figures to its best token order's: forward_ms/forward_tflops (and the rest of
    that order's fields) with `order`, and with `backward` the best backward with `backward_order`."""
    timed = [o for o in ORDERS if o in row]
    best = min(timed, key=lambda o: row[o]["forward_ms"])
    row.update(row[best], order=best)
    if backward and all("backward_ms" in row[o] for o in timed):
        best_b = min(timed, key=lambda o: row[o]["backward_ms"])
        row.update(backward_order=best_b, backward_ms=row[best_b]["backward_ms"],
                   backward_tflops=row[best_b]["backward_tflops"])
    return row


def merge_rows(rows):
    """Rows of several runs (one problem or one token order each) merged into one row per problem, its
    best order recomputed over every order timed; other rows (dense cuDNN) kept once each."""
    merged = {}
    for r in rows:
        if r.get("impl") != "flex_attention":
            merged.setdefault(r["problem"], dict(r))
            continue
        m = merged.setdefault(r["problem"], {k: r[k] for k in ("problem", "device", "impl", "dtype")})
        for o in ORDERS:
            if o in r:
                m[o] = r[o]
        m["wall_s"] = round(m.get("wall_s", 0) + r.get("wall_s", 0), 1)
    return [summarize(m, any("backward_ms" in m.get(o, {}) for o in ORDERS))
            if m.get("impl") == "flex_attention" else m for m in merged.values()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backward", action="store_true", help="also time forward+backward")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--json", default=None)
    ap.add_argument("--only", default=None, help="comma-separated problem names")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--orders", default="raster,tiled", help="token orders to time (raster, tiled)")
    ap.add_argument("--dense", action="store_true", help="also time dense cuDNN attention (D64, D128)")
    ap.add_argument("--tile", default=None, help="tile of the tiled order, e.g. 8x8 (default: TILES per dims)")
    ap.add_argument("--compiled-mask", action="store_true",
                    help="build the block mask with create_block_mask(_compile=True) (default: eagerly)")
    ap.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                    help="merge the rows of these runs' JSON (one problem or order each) into --json; no GPU")
    args = ap.parse_args()
    if args.merge:
        rows = [r for f in args.merge for r in json.load(open(f))]
        merged = merge_rows(rows)
        with open(args.json or "/dev/stdout", "w") as f:
            json.dump(merged, f, indent=1)
        return
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
    orders = args.orders.split(",")
    for name, dims, B, H, D, spatial, kernel in PROBLEMS:
        if args.only and name not in args.only.split(","):
            continue
        t0 = time.time()
        row = {"problem": name, "device": dev, "impl": "flex_attention", "dtype": "bfloat16"}
        # 1-D has one order: raster is already the tiled one.
        for order in orders if dims > 1 else ["raster"]:
            row[order] = time_order(name, dims, B, H, D, spatial, kernel, order, args)
        summarize(row, args.backward)
        row["wall_s"] = round(time.time() - t0, 1)
        print(json.dumps(row), flush=True)
        results.append(row)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
    if args.dense:
        for D in (64, 128):
            row = time_dense(D, args)
            print(json.dumps(row), flush=True)
            results.append(row)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
