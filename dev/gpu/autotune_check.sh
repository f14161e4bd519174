#!/bin/bash
# GPU acceptance run of the autotuner (repo root, a GPU machine): builds the CUDA addon for sm_90a, runs the
# GPU autotuner test (NATTEN_REQUIRE_GPU=1: no skipping) and dev/gpu/autotune_check.ts (README problems +
# 20 random ones, forward and backward: tuned vs default timed interleaved, tuning times, event-loop lag
# while a first call tunes). Logs and JSON go to $OUT (default /tmp/out).
#   bash dev/gpu/autotune_check.sh            # RUNS=30 RANDOM_PROBLEMS=20 FROM=0 by default
set -o pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
[ -f .device/gpu-env.sh ] && source .device/gpu-env.sh
export NATTEN_CUDA=1 NATTEN_CUDA_ARCHS=${NATTEN_CUDA_ARCHS:-90a} NATTEN_BUILD_DIR=${NATTEN_BUILD_DIR:-/tmp/b}
source "$(dirname "$0")/fresh_build.sh" && fresh_build_dir "$NATTEN_BUILD_DIR"
npm run build:native 2>&1 | tail -3 | tee "$OUT/build.log" || exit 1
export NATTEN_ADDON_PATH=$NATTEN_BUILD_DIR/Release/natten.node
npx tsc -p tsconfig.json || exit 1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$OUT/check.log"
NATTEN_REQUIRE_GPU=1 npx jest test/cuda_autotune.test.ts 2>&1 | tee "$OUT/jest.log"
node dist/dev/gpu/autotune_check.js --runs "${RUNS:-30}" --random "${RANDOM_PROBLEMS:-20}" --from "${FROM:-0}" \
  --out "$OUT/autotune_check.json" 2>&1 | tee -a "$OUT/check.log"
