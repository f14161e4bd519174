#!/bin/bash
# GPU check of the sm_90a fused backward on wgmma (backwardKernel 'wgmma', issue 18), run from the repo root
# on an H100/H200:
#   (a) builds the CUDA addon for sm_90a and the TypeScript; counts the Hopper instructions in the addon;
#       re-records test/fixtures/fused_config_choices.json, which must not change (the recorded defaults are
#       device descriptions, not measurements: a diff is a bug) and comes back in $OUT only when it did;
#   (b) the forced-config sweep test/cuda_fused_backward_wgmma.test.ts under NATTEN_REQUIRE_GPU=1 (one stderr
#       line per config, in jest.log), then the mma backward sweep (it shares the walk);
#   (c) the issue-18 problems through the public API, wgmma vs mma, median of 15, TFLOP/s and the largest
#       |wgmma - mma| (dev/gpu/fna_bwd_wgmma_time.ts);
#   (d) compute-sanitizer memcheck / racecheck / synccheck on small forced cases of every dims and tier
#       (dev/gpu/fna_bwd_wgmma_small.ts). With NATTEN_BWD_WGMMA_TMA=0 (row copies) and/or NATTEN_BWD_WGMMA_PERSISTENT=1
#       in the environment every step runs those variants (kernels/runtime/kernel_switches.h); the small cases report
#       their TMA launches.
# The sweep step also runs test/cuda_fused_backward_wgmma_switches.test.ts (the variants against the default).
# Every step runs in its own process under `timeout`; a deadline keeps the whole run under 6 minutes. $OUT
# gets at most 6 files: progress.log, setup.log, jest.log, time.log, sanitize.log (and the fixture).
#   bash dev/gpu/fna_bwd_wgmma_check.sh
set -o pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
BUDGET=350
source "$(dirname "$0")/steps.sh"

build_addon 200 40
# HGMMA: wgmma; SYNCS: mbarriers; USETMAXREG: setmaxnreg (the backward kernel's names carry 'wgmma_kernel').
timeout 60 cuobjdump -sass -fun fna_backward_wgmma_kernel "$NATTEN_ADDON_PATH" 2>/dev/null |
  grep -oE "HGMMA\.[0-9A-Za-z.]+|SYNCS\.[A-Z.]+|USETMAXREG\.[A-Z.]+|REDG?\.[A-Z0-9.]+" | sort | uniq -c |
  tee -a "$OUT/progress.log"
choices_unchanged 30

export NATTEN_REQUIRE_GPU=1
step jest_wgmma jest 150 npx jest --ci test/cuda_fused_backward_wgmma.test.ts test/cuda_fused_backward_wgmma_switches.test.ts
grep -h "wgmma bwd\|✕\|✓" "$OUT/jest.log" | head -70 >>"$OUT/progress.log"

step time time 60 node dist/dev/gpu/fna_bwd_wgmma_time.js 15
grep "|" "$OUT/time.log" >>"$OUT/progress.log"

sanitize 40 dist/dev/gpu/fna_bwd_wgmma_small.js

step jest_mma jest 90 npx jest --ci test/cuda_fused_backward.test.ts
grep -h "fused backward sweep\|✕" "$OUT/jest.log" | tail -10 >>"$OUT/progress.log"
progress "done"
