"""The peer of bench/tensor_ops_gpu.ts: the same bf16 linears (bias fused) through PyTorch, whose bf16
torch.nn.functional.linear runs cuBLASLt, timed the same way: CUDA events around one run queued behind a
~2 ms spin, median over --runs. Writes {device, results: [{name, ms}]} to --json."""
import argparse
import json
import statistics

import torch

PROBLEMS = [("linear_4096x4096x4096", 4096, 4096, 4096), ("linear_12544x256x768", 12544, 256, 768)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--json", required=True)
    a = ap.parse_args()
    results = []
    for name, m, k, n in PROBLEMS:
        x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
        w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16)
        b = torch.randn(n, device="cuda", dtype=torch.bfloat16)
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        times = []
        for r in range(a.runs + 1):
            torch.cuda._sleep(2_000_000)  # about 1-2 ms of spinning: the launch is queued behind it
            start.record()
            torch.nn.functional.linear(x, w, b)
            stop.record()
            stop.synchronize()
            if r > 0:
                times.append(start.elapsed_time(stop))
        ms = statistics.median(times)
        print(f"{name}: {ms:.4f} ms, {2 * m * n * k / ms / 1e9:.0f} TFLOP/s (PyTorch {torch.__version__})")
        results.append({"name": name, "ms": ms})
    with open(a.json, "w") as f:
        json.dump({"device": torch.cuda.get_device_name(), "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
