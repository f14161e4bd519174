#!/bin/bash
# GPU check of the wgmma backward's switched variants (kernels/runtime/kernel_switches.h: TMA loads of Q/dO, on
# by default; persistent CTAs, off), from the repo root on an H100/H200, in one run of at most 9 minutes (steps that no longer fit
# are skipped; the timings come last):
#   (a) builds the sm_90a addon and the TypeScript;
#   (b) test/cuda_fused_backward_wgmma_switches.test.ts (each variant and both against row copies, bitwise);
#   (c) the forced-config wgmma sweep (test/cuda_fused_backward_wgmma.test.ts) as built by default, then with
#       both variants on;
#   (d) compute-sanitizer memcheck / racecheck / synccheck of dev/gpu/fna_bwd_wgmma_small.ts with both on;
#   (e) interleaved timings (dev/gpu/fna_bwd_ab.ts, wall time per launch, batches of 5, medians of RUNS) of row
#       copies (NATTEN_BWD_WGMMA_TMA=0), the default (TMA loads), persistent with row copies, and both, ROUNDS rounds, on problems 0 and 2 of CUDA_BENCH_PROBLEMS (1-D, k31)
#       unless others are given.
# $OUT gets progress.log (outcomes and the timing table), setup.log, jest.log, sanitize.log, time.log.
#   OUT=... bash dev/gpu/bwd_variants_check.sh [ROUNDS] [RUNS] [PROBLEM...]
set -o pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
BUDGET=${BUDGET:-580}
rounds=${1:-3} runs=${2:-12}
shift $(($# < 2 ? $# : 2))
problems=${*:-0 2}
source "$(dirname "$0")/steps.sh"
both=(NATTEN_BWD_WGMMA_TMA=1 NATTEN_BWD_WGMMA_PERSISTENT=1)

build_addon 200 40
export NATTEN_REQUIRE_GPU=1
step switches jest 90 npx jest --ci test/cuda_fused_backward_wgmma_switches.test.ts
grep -h "switched variants\|✕\|✓" "$OUT/jest.log" | tail -5 >>"$OUT/progress.log"
step sweep_default jest 150 npx jest --ci test/cuda_fused_backward_wgmma.test.ts
step sweep_both jest 150 env "${both[@]}" npx jest --ci test/cuda_fused_backward_wgmma.test.ts
grep -h "✕" "$OUT/jest.log" | head -20 >>"$OUT/progress.log"
export "${both[@]}"
sanitize 90 dist/dev/gpu/fna_bwd_wgmma_small.js
grep -h "tmaLaunches" "$OUT/sanitize.log" | sort | uniq -c | head -8 >>"$OUT/progress.log"
unset NATTEN_BWD_WGMMA_TMA NATTEN_BWD_WGMMA_PERSISTENT
for r in $(seq "$rounds"); do
  step "time_rows_$r" time 60 env NATTEN_BWD_WGMMA_TMA=0 node dist/dev/gpu/fna_bwd_ab.js rows wgmma "$runs" $problems
  step "time_tma_$r" time 60 env NATTEN_BWD_WGMMA_TMA=1 node dist/dev/gpu/fna_bwd_ab.js tma wgmma "$runs" $problems
  step "time_persistent_$r" time 60 env NATTEN_BWD_WGMMA_TMA=0 NATTEN_BWD_WGMMA_PERSISTENT=1 \
    node dist/dev/gpu/fna_bwd_ab.js persistent wgmma "$runs" $problems
  step "time_both_$r" time 60 env "${both[@]}" node dist/dev/gpu/fna_bwd_ab.js both wgmma "$runs" $problems
done
grep -h "|" "$OUT/time.log" >>"$OUT/progress.log"
progress done
