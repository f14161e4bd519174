#!/usr/bin/env bash
# GPU check of the tensor ops (run from the repository root on a machine with a GPU; results under $OUT):
# builds the CUDA addon, runs the CUDA tensor-op tests (NATTEN_REQUIRE_GPU=1: a missing GPU fails), and the
# bf16 linear benchmark against PyTorch's cuBLASLt on the same card.
#   source .device/gpu-env.sh && bash dev/gpu/tensor_ops.sh
# What to look for: tests all pass (tests.log); bench.log's "natten at N% of its rate" >= 80 on both GEMMs.
set -euo pipefail
OUT="${OUT:-/tmp/tensor_ops_out}"
mkdir -p "$OUT"
BUILD="${NATTEN_BUILD_DIR:-/tmp/b}"
source "$(dirname "$0")/fresh_build.sh" && fresh_build_dir "$BUILD"
NATTEN_CUDA_ARCHS="${NATTEN_CUDA_ARCHS:-90a}" NATTEN_CUDA=1 NATTEN_BUILD_DIR="$BUILD" npm run build:native 2>&1 | tail -5 | tee "$OUT/build.log"
export NATTEN_ADDON_PATH="$BUILD/Release/natten.node"
npx tsc -p tsconfig.json
node -e "console.log(JSON.stringify(require('./dist/lib').buildInfo()))" | tee "$OUT/build_info.json"
NATTEN_REQUIRE_GPU=1 npx jest test/cuda_tensor_ops.test.ts test/tensor_ops.test.ts 2>&1 | tee "$OUT/tests.log" | tail -30
if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  python3 bench/linear_torch.py --json "$OUT/linear_torch.json" | tee "$OUT/bench.log"
  node dist/bench/tensor_ops_gpu.js --peer "$OUT/linear_torch.json" --out "$OUT/tensor_ops_gpu.json" | tee -a "$OUT/bench.log"
else
  echo "PyTorch with CUDA not found: natten's side only" | tee "$OUT/bench.log"
  node dist/bench/tensor_ops_gpu.js --out "$OUT/tensor_ops_gpu.json" | tee -a "$OUT/bench.log"
fi
