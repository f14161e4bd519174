#!/usr/bin/env python3
"""Writes the module cases of test/torch/check_modules.ts, one safetensors file per case and dtype:

    python test/torch/make_module_cases.py --out DIR

Each `DIR/case_<name>_<dtype>.safetensors` holds the random weights of the pure-PyTorch twin of NATTEN's
module (test/torch/na_twin.py; names as lib/nn/state_dict.ts expects: qkv.weight, qkv.bias, rpb,
proj.weight, proj.bias) in the case's dtype, `input` [B, ...spatial, C] in that dtype, and `output`
(float64): the twin's forward in float64 on exactly those (dtype-rounded) weights and input; `grad_output`
(the case's dtype) and the twin's float64 gradients for it: `grad.input` and `grad.<parameter name>`. The
case is in `__metadata__["natten_case"]` (JSON: name, dims, dtype, inputShape, and `options`, the
NeighborhoodAttention{dims}D constructor options). Also `DIR/round_trip_python.safetensors`: the
fixed values of test/torch/pattern.py in every dtype, for the round trip (check_roundtrip.py).

Needs torch and safetensors; not the natten package.
"""
import argparse
import json
import math
import os

import torch
from safetensors.torch import save_file

from na_twin import NeighborhoodAttentionTwin, per_axis
from pattern import METADATA, round_trip_tensors

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

# name, dims, spatial, C, heads, then the module options (one value or one per axis). Batch 2 throughout;
# odd sizes; heads > 1. "padding": an axis shorter than kernel x dilation (zero-padded, then cropped).
CASES = [
    ("1d_plain", 1, (23,), 24, 3, dict(kernel_size=7)),
    ("1d_dilation", 1, (29,), 24, 3, dict(kernel_size=5, dilation=3)),
    ("1d_causal", 1, (21,), 24, 3, dict(kernel_size=5, is_causal=True)),
    ("1d_even_kernel", 1, (19,), 24, 3, dict(kernel_size=4)),
    ("1d_stride", 1, (25,), 24, 3, dict(kernel_size=7, stride=3)),
    ("1d_padding", 1, (5,), 24, 3, dict(kernel_size=3, dilation=3)),
    ("1d_rpb", 1, (17,), 24, 3, dict(kernel_size=5, dilation=2, rel_pos_bias=True)),
    ("2d_plain", 2, (9, 11), 32, 2, dict(kernel_size=5)),
    ("2d_dilation", 2, (13, 10), 32, 2, dict(kernel_size=3, dilation=(2, 3))),
    ("2d_causal", 2, (9, 7), 32, 2, dict(kernel_size=3, is_causal=(True, False))),
    ("2d_even_kernel", 2, (7, 9), 32, 2, dict(kernel_size=(4, 6))),
    ("2d_stride", 2, (11, 9), 32, 2, dict(kernel_size=5, stride=(2, 3))),
    ("2d_padding", 2, (3, 7), 32, 2, dict(kernel_size=3, dilation=2)),
    ("2d_padding_both", 2, (2, 4), 32, 4, dict(kernel_size=5)),
    ("2d_rpb", 2, (9, 9), 32, 2, dict(kernel_size=(3, 5), dilation=(1, 2), rel_pos_bias=True)),
    ("2d_no_qkv_bias_scale", 2, (7, 7), 32, 2, dict(kernel_size=3, qkv_bias=False, qk_scale=0.3)),
    ("3d_plain", 3, (5, 6, 7), 16, 2, dict(kernel_size=3)),
    ("3d_dilation", 3, (7, 5, 6), 16, 2, dict(kernel_size=(3, 2, 3), dilation=(2, 2, 1))),
    ("3d_causal", 3, (5, 5, 6), 16, 2, dict(kernel_size=3, is_causal=(True, False, True))),
    ("3d_even_kernel", 3, (6, 5, 7), 16, 2, dict(kernel_size=(2, 4, 4))),
    ("3d_stride", 3, (7, 6, 5), 16, 2, dict(kernel_size=3, stride=(2, 3, 1))),
    ("3d_padding", 3, (2, 3, 5), 16, 2, dict(kernel_size=3, dilation=(1, 2, 1))),
    ("3d_rpb", 3, (5, 7, 5), 16, 2, dict(kernel_size=3, dilation=(1, 2, 1), rel_pos_bias=True)),
]
BATCH = 2


def node_options(dims, C, heads, o):
    """The case as natten.nn.NeighborhoodAttention{dims}D's options (per-axis lists)."""
    out = {
        "embedDim": C,
        "numHeads": heads,
        "kernelSize": list(per_axis(o["kernel_size"], dims)),
        "dilation": list(per_axis(o.get("dilation", 1), dims)),
        "stride": list(per_axis(o.get("stride", 1), dims)),
        "isCausal": list(per_axis(o.get("is_causal", False), dims)),
        "qkvBias": o.get("qkv_bias", True),
        "relPosBias": o.get("rel_pos_bias", False),
    }
    if "qk_scale" in o:
        out["qkScale"] = o["qk_scale"]
    return out


def check_twin_window(twin, spatial):
    """Sanity of the twin's mask: a non-causal query sees exactly prod(k) keys, a causal one 1..prod(k)."""
    padded = [max(L, k * d) for L, k, d in zip(spatial, twin.kernel_size, twin.dilation)]
    keys = twin.window_mask(padded).sum(1)
    full = math.prod(twin.kernel_size)
    if any(twin.is_causal):
        assert int(keys.min()) >= 1 and int(keys.max()) <= full, (spatial, keys.min(), keys.max())
    else:
        assert bool((keys == full).all()), (spatial, keys.min(), keys.max())


def make_case(name, dims, spatial, C, heads, o, dtype_name, seed):
    """The file's tensors and metadata for one case in one dtype."""
    dtype = DTYPES[dtype_name]
    g = torch.Generator().manual_seed(seed)
    twin = NeighborhoodAttentionTwin(dims, C, heads, **o).to(torch.float64).eval()
    check_twin_window(twin, spatial)
    with torch.no_grad():
        # Weights as a trained layer's (std C^-0.5: unit-size q/k/v), non-zero biases and an rpb of
        # unit size, so that every parameter moves the output by more than the tolerance.
        for pname, p in twin.named_parameters():
            std = C**-0.5 if pname.endswith("weight") else 1.0 if pname == "rpb" else 0.5
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * std)
        state = {k: v.to(dtype).contiguous() for k, v in twin.state_dict().items()}
        twin.load_state_dict({k: v.to(torch.float64) for k, v in state.items()})
        x = torch.randn(BATCH, *spatial, C, generator=g, dtype=torch.float64).to(dtype)
        dy = torch.randn(BATCH, *spatial, C, generator=g, dtype=torch.float64).to(dtype)
    # Forward and backward in float64 on the dtype-rounded weights, input and output gradient.
    x64 = x.to(torch.float64).requires_grad_(True)
    y = twin(x64)
    y.backward(dy.to(torch.float64))
    grads = {"grad.input": x64.grad}
    grads.update({f"grad.{pname}": p.grad for pname, p in twin.named_parameters()})
    meta = {"name": name, "dims": dims, "dtype": dtype_name, "inputShape": list(x.shape),
            "options": node_options(dims, C, heads, o)}
    tensors = {**state, "input": x.contiguous(), "output": y.detach().contiguous(), "grad_output": dy.contiguous()}
    tensors.update({k: v.detach().contiguous() for k, v in grads.items()})
    return tensors, {"natten_case": json.dumps(meta)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=17)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    count = 0
    for ci, (name, dims, spatial, C, heads, o) in enumerate(CASES):
        for di, dtype_name in enumerate(DTYPES):
            tensors, metadata = make_case(name, dims, spatial, C, heads, o, dtype_name, a.seed * 1000 + ci * 10 + di)
            save_file(tensors, os.path.join(a.out, f"case_{name}_{dtype_name}.safetensors"), metadata=metadata)
            count += 1
    save_file(round_trip_tensors(), os.path.join(a.out, "round_trip_python.safetensors"), metadata=METADATA)
    print(f"wrote {count} module cases and round_trip_python.safetensors to {a.out} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
