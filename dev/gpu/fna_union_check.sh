#!/bin/bash
# GPU check of the 2-D window-union forward (forward_union_kernel.cuh), run from the repo root on an H100/H200:
#   (a) builds the CUDA addon for sm_90a and the TypeScript,
#   (b) the general fused-forward sweep (test/cuda_fused_forward.test.ts: every compiled config forced, the
#       union configs on windows whose unions fit; its refusal of a wider one), the 'wgmma-ws' sweep and the
#       wgmma backward's switches,
#   (c) every forward config timed on small-window 2-D problems with CUDA events (dev/gpu/fna_union_time.ts),
#   (d) compute-sanitizer memcheck / racecheck / synccheck on dev/gpu/fna_union_small.ts,
#   (e) Nsight Compute of the union kernel on k7 and k13 (20x20) and of the default 'wgmma-ws' kernels on 1-D and k31,
# progress in $OUT/progress.log, step output in $OUT/{setup,jest,time,sanitize,ncu_*}.log.
#   bash dev/gpu/fna_union_check.sh
set -o pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
BUDGET=${BUDGET:-540}
source "$(dirname "$0")/steps.sh"

build_addon 300 60
export NATTEN_REQUIRE_GPU=1
step jest_fused jest 150 npx jest --ci test/cuda_fused_forward.test.ts
grep -h "fused forward sweep\|✕\|✓" "$OUT/jest.log" | head -20 >>"$OUT/progress.log"
step time time 90 node dist/dev/gpu/fna_union_time.js 30
grep "|" "$OUT/time.log" | head -80 >>"$OUT/progress.log"
sanitize 40 dist/dev/gpu/fna_union_small.js
step jest_more jest 120 npx jest --ci test/cuda_fused_forward_ws.test.ts test/cuda_fused_backward_wgmma_switches.test.ts
grep -h "sweep\|✕\|Tests:" "$OUT/jest.log" | tail -12 >>"$OUT/progress.log"
ncu_summary 60 fwd_k7_union na_forward_union 3 forward mma
ncu_summary 60 fwd_k13_union20 na_forward_union 1 forward mma 8,8 20,20
ncu_summary 60 fwd_1d_ws na_forward_ws 0 forward wgmma-ws
ncu_summary 60 fwd_k31_ws na_forward_ws 2 forward wgmma-ws
progress "done"
