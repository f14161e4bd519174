#!/bin/bash
# Nsight Compute summaries of the sm_90a forward and backward kernels on the 1-D and k31 problems (problems
# 0 and 2 of CUDA_BENCH_PROBLEMS), the warp-specialised forward ('wgmma-ws') next to the single-warpgroup
# 'wgmma' forward it replaces, and the 'wgmma' backward next to 'mma': speed of light, tensor-pipe use,
# warp stalls, occupancy, into $OUT/ncu_*.log. Run from the repo root on an H100/H200:
#   bash dev/gpu/fna_ncu_check.sh
set -o pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
BUDGET=${BUDGET:-470}
source "$(dirname "$0")/steps.sh"

build_addon 300 60
ncu_sm90_kernels 60
progress "done"
