#!/usr/bin/env python3
"""The Python half of the safetensors round trip (after test/torch/check_modules.ts has run on DIR):

    python test/torch/check_roundtrip.py DIR

- DIR/round_trip_node.safetensors (the values of test/torch/pattern.ts, written by natten.saveSafetensors)
  loads with the safetensors package into exactly pattern.py's tensors, bit for bit, with the same dtypes,
  shapes and metadata; and its bytes are the bytes the safetensors package writes for those tensors (the
  reference layout).
- DIR/round_trip_node_resaved.safetensors (round_trip_python.safetensors as natten.loadSafetensors read
  it, saved again by Node) has exactly the bytes of the Python-written file.
Prints one line per check; exits 1 on any miss.
"""
import argparse
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save

from pattern import METADATA, round_trip_tensors

BITS = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def same_bits(a, b):
    """True when two tensors have the same dtype, shape and bit patterns."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    as_int = BITS[a.element_size()]
    return torch.equal(a.contiguous().view(as_int), b.contiguous().view(as_int))


def first_difference(a, b):
    """Where two byte strings first differ (or their lengths, if one is a prefix of the other)."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"first differing byte at {i} of {len(a)} / {len(b)}"
    return f"lengths {len(a)} and {len(b)}"


def checks(folder):
    """(name, ok, detail) for every check."""
    expected = round_trip_tensors()
    node_path = os.path.join(folder, "round_trip_node.safetensors")
    got = load_file(node_path)
    out = [("node -> python: tensor names", sorted(got) == sorted(expected), f"{sorted(got)}")]
    for name, want in expected.items():
        have = got.get(name)
        ok = have is not None and same_bits(have, want)
        detail = "missing" if have is None else f"{have.dtype} {tuple(have.shape)}"
        out.append((f"node -> python: {name} bitwise", ok, detail))
    with safe_open(node_path, "pt") as f:
        meta = f.metadata()
    out.append(("node -> python: metadata", meta == METADATA, f"{meta}"))
    with open(node_path, "rb") as f:
        node_bytes = f.read()
    reference = save(expected, metadata=METADATA)
    layout_ok = node_bytes == reference
    out.append(("node file bytes == safetensors.torch.save bytes", layout_ok,
                "identical" if layout_ok else first_difference(node_bytes, reference)))
    with open(os.path.join(folder, "round_trip_python.safetensors"), "rb") as f:
        python_bytes = f.read()
    with open(os.path.join(folder, "round_trip_node_resaved.safetensors"), "rb") as f:
        resaved = f.read()
    same = python_bytes == resaved
    out.append(("python -> node -> python: identical bytes", same,
                "identical" if same else first_difference(resaved, python_bytes)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    a = ap.parse_args()
    results = checks(a.dir)
    for name, ok, detail in results:
        print(f"{'ok  ' if ok else 'MISS'} {name}: {detail}")
    misses = sum(not ok for _, ok, _ in results)
    print(f"{len(results)} round-trip checks: {misses} missed")
    sys.exit(1 if misses else 0)


if __name__ == "__main__":
    main()
