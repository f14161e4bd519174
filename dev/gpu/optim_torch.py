"""PyTorch's SGD and AdamW trajectories on the GPU, for dev/gpu/optim_torch.ts to replay with natten.

    python3 dev/gpu/optim_torch.py OUT.json

Each case: one float32 CUDA parameter of 4099 elements, five steps with gradients of changing size; the JSON
holds the options (PyTorch's names), the initial values, every gradient and the final values (all float32
values, exact as JSON doubles).
"""
import json
import sys

import torch

CASES = [
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.02, maximize=True)),
    ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.05)),
    ("AdamW", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
    ("AdamW", dict()),
]
SCALES = [1.0, 0.1, 2.0, 0.5, 1.0]


def run(kind, opts, seed):
    gen = torch.Generator().manual_seed(seed)
    p0 = torch.randn(4099, generator=gen)
    grads = [torch.randn(4099, generator=gen) * s for s in SCALES]
    p = p0.clone().cuda().requires_grad_()
    opt = getattr(torch.optim, kind)([p], **opts)
    for g in grads:
        p.grad = g.cuda()
        opt.step()
    return dict(kind=kind, options=opts, p0=p0.tolist(), grads=[g.tolist() for g in grads],
                final=p.detach().cpu().tolist())


if __name__ == "__main__":
    cases = [run(kind, opts, i) for i, (kind, opts) in enumerate(CASES)]
    with open(sys.argv[1], "w") as f:
        json.dump(dict(torch=torch.__version__, cases=cases), f)
