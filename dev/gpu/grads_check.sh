#!/bin/bash
# GPU acceptance run of the training gradients (repo root, a GPU machine): builds the CUDA addon for sm_90a,
# then runs, with NATTEN_REQUIRE_GPU=1 (no skipping), test/cuda_training_grads.test.ts (every tensor-op
# backward, mseLoss and the modules' dX and parameter gradients in float32/float16/bfloat16 against float64
# on the CPU; GPU memory back to baseline), the existing GPU tensor-op suite (GEMM now takes a transposed A)
# and the CPU gradcheck suite. Progress lines go to $OUT/progress.log, jest output to $OUT/*.log.
#   bash dev/gpu/grads_check.sh
set -o pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
progress() { echo "$(date +%T) $*" | tee -a "$OUT/progress.log"; }
[ -f .device/gpu-env.sh ] && source .device/gpu-env.sh
export NATTEN_CUDA=1 NATTEN_CUDA_ARCHS=${NATTEN_CUDA_ARCHS:-90a} NATTEN_BUILD_DIR=${NATTEN_BUILD_DIR:-/tmp/b}
source "$(dirname "$0")/fresh_build.sh" && fresh_build_dir "$NATTEN_BUILD_DIR"
progress "build start"
npm run build:native 2>&1 | tail -3 | tee "$OUT/build.log" || { progress "build FAILED"; exit 1; }
export NATTEN_ADDON_PATH=$NATTEN_BUILD_DIR/Release/natten.node
npx tsc -p tsconfig.json || { progress "tsc FAILED"; exit 1; }
progress "build done"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee -a "$OUT/progress.log"
status=0
for t in test/cuda_training_grads.test.ts test/cuda_tensor_ops.test.ts test/training_gradcheck.test.ts; do
  name=$(basename "$t" .test.ts)
  progress "jest $t"
  NATTEN_REQUIRE_GPU=1 npx jest "$t" 2>&1 | tee "$OUT/$name.log"
  rc=${PIPESTATUS[0]}
  progress "jest $t exit $rc: $(grep -E '^Tests:' "$OUT/$name.log")"
  [ "$rc" = 0 ] || status=1
done
progress "done (exit $status)"
exit $status
