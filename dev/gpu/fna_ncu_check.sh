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
ncu_summary 60 fwd_1d_ws na_forward_ws 0 forward wgmma-ws
ncu_summary 60 fwd_k31_ws na_forward_ws 2 forward wgmma-ws
ncu_summary 60 fwd_1d_wgmma na_forward_kernel 0 forward wgmma
ncu_summary 60 fwd_k31_wgmma na_forward_kernel 2 forward wgmma
ncu_summary 60 bwd_1d_wgmma fna_backward_wgmma 0 backward wgmma
ncu_summary 60 bwd_k31_wgmma fna_backward_wgmma 2 backward wgmma
ncu_summary 60 bwd_k31_mma fna_backward_kv 2 backward mma
progress "done"
