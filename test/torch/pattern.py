"""The fixed values of the safetensors round trip, shared with test/torch/pattern.ts (which must compute
the same numbers): special values (signed zero, the float16 limits, ties at float16's subnormal step,
infinities), then m / 64 * 2^e for m in [-500, 500] and e in [-20, 11]. Every value is exact in float32
and float64, so rounding to float16 or bfloat16 happens once, to nearest even, on both sides.
"""
import math

import torch

SPECIALS = [0.0, -0.0, 1.0, -1.0, 65504.0, 65520.0, 2.0**-24, 2.0**-25, 3 * 2.0**-25, math.inf, -math.inf]

# name -> (dtype, shape): every dtype the reader takes, in shapes of 1 to 4 axes.
ROUND_TRIP = {
    "f64": (torch.float64, (3, 7)),
    "f32": (torch.float32, (5, 2, 3)),
    "f16": (torch.float16, (43,)),
    "bf16": (torch.bfloat16, (2, 3, 2, 4)),
    "bf16.more": (torch.bfloat16, (97,)),
    "f16.more": (torch.float16, (6, 9)),
}

METADATA = {"natten_round_trip": "test/torch/pattern.py"}


def pattern_value(i):
    """Element i of the pattern (float64, exact)."""
    if i < len(SPECIALS):
        return SPECIALS[i]
    r = i - len(SPECIALS)
    m = (r * 37) % 1001 - 500
    e = (r * 11) % 32 - 20
    return m / 64 * 2.0**e


def pattern_tensor(dtype, shape):
    """The pattern's first prod(shape) values, rounded once to `dtype`."""
    n = math.prod(shape)
    values = torch.tensor([pattern_value(i) for i in range(n)], dtype=torch.float64)
    return values.to(dtype).reshape(shape)


def round_trip_tensors():
    """The round trip's tensors by name."""
    return {name: pattern_tensor(dtype, shape) for name, (dtype, shape) in ROUND_TRIP.items()}
