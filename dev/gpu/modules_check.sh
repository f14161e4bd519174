#!/usr/bin/env bash
# GPU check of the natten.nn modules (issue 17), run from the repository root on the GPU machine:
#   OUT=/some/dir bash dev/gpu/modules_check.sh
# Builds the CUDA addon and the TypeScript, then, each step under `timeout`, one line per step in
# $OUT/progress.log (start, exit status, seconds):
#   cases       python test/torch/make_module_cases.py (the pure-PyTorch twin's weights, inputs, fp64 outputs)
#   check       node dist/test/torch/check_modules.js --require-cuda (the modules on cpu and cuda vs the twin)
#   roundtrip   python test/torch/check_roundtrip.py (safetensors Node <-> Python, bitwise and byte layout)
#   jest        NATTEN_REQUIRE_GPU=1 jest test/cuda_nn_modules.test.ts test/nn_modules.test.ts
#   torch_bench python bench/na_layer_torch.py (the layer in PyTorch: eager linears + compiled FlexAttention)
#   bench       node dist/bench/na_module_gpu.js --torch ... (the module: 100 queued forwards, kernel sum)
# Files in $OUT: progress.log, summary.txt (each step's last lines), h200_bf16_na_layer_torch.json and
# h200_bf16_na_module_layer.json (for bench/results/), logs.tar.gz (every log, check_modules.json).
# Typical run about 3-4 minutes; the step limits add up to under 10 minutes.
# Look for: every step rc=0; check "0 missed"; roundtrip "0 missed"; jest all passed; in bench,
# "speedup ... (target >= 1.5)" and "queued / kernels ... (target <= 1.15)".
set -uo pipefail
source dev/gpu/check_steps.sh
check_init modules_check
build_all 120 45 || { finish; exit 1; }

CASES="$WORK/cases"
if step cases 45 "$PY" test/torch/make_module_cases.py --out "$CASES"; then
  step check 75 node dist/test/torch/check_modules.js "$CASES" --require-cuda --json "$WORK/check_modules.json" &&
    step roundtrip 30 "$PY" test/torch/check_roundtrip.py "$CASES"
fi
step jest 100 env NATTEN_REQUIRE_GPU=1 npx jest test/cuda_nn_modules.test.ts test/nn_modules.test.ts
TORCH_JSON="$OUT/h200_bf16_na_layer_torch.json"
step torch_bench 120 "$PY" bench/na_layer_torch.py --json "$TORCH_JSON"
step bench 45 node dist/bench/na_module_gpu.js --out "$OUT/h200_bf16_na_module_layer.json" \
  $([ -f "$TORCH_JSON" ] && echo --torch "$TORCH_JSON")
finish
