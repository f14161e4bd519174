#!/bin/bash
# GPU check of the sm_90a kernels once their sweeps have passed (dev/gpu/fna_ws_check.sh,
# dev/gpu/fna_bwd_wgmma_check.sh): the three compute-sanitizer tools on the small cases of the
# warp-specialised forward and the wgmma backward, the wgmma backward's forced-config sweep, the autotuner's
# GPU test (thorough mode times 'wgmma-ws'), the recorded default choices, and Nsight Compute summaries of
# the forward and backward kernels on the 1-D and k31 problems (dev/gpu/fna_ncu_check.sh's list).
# From the repo root on an H100/H200:
#   bash dev/gpu/hopper_check.sh
set -o pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
BUDGET=${BUDGET:-480}
source "$(dirname "$0")/steps.sh"

build_addon 300 60
choices_unchanged 30
sanitize 60 dist/dev/gpu/fna_ws_small.js
sanitize 60 dist/dev/gpu/fna_bwd_wgmma_small.js

export NATTEN_REQUIRE_GPU=1
step jest_bwd jest 120 npx jest --ci test/cuda_fused_backward_wgmma.test.ts
grep -h "wgmma bwd.*[1-9][0-9]* failures\|✕\|✓\|Tests:" "$OUT/jest.log" | grep -v " 0 failures" | head -20 >>"$OUT/progress.log"
step jest_autotune jest 120 npx jest --ci test/cuda_autotune.test.ts
grep -h "✕\|Tests:" "$OUT/jest.log" | tail -5 >>"$OUT/progress.log"

ncu_sm90_kernels 40
progress "done"
