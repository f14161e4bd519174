#!/bin/bash
# GPU check of the sm_90a warp-specialised forward ('wgmma-ws'), run from the repo root on an H100/H200:
#   (a) builds the CUDA addon for sm_90a and the TypeScript,
#   (b) the forced-config correctness sweep (test/cuda_fused_forward_ws.test.ts, NATTEN_REQUIRE_GPU=1) and the
#       general fused-forward sweep (which also forces every wgmma-ws config once),
#   (c) compute-sanitizer memcheck / racecheck / synccheck on small forced cases of every dims
#       (dev/gpu/fna_ws_small.ts: TMA and cp.async producers, extra keys, negative scale),
#   (d) the issue-14 problems timed through the public API, wgmma-ws vs wgmma vs mma vs default
#       (dev/gpu/fna_ws_time.ts, median of 20, TFLOP/s), with a full-size wgmma-ws vs mma cross-check, and
#       the wgmma-ws configs again with one CTA per Q tile (NATTEN_FWD_WS_PERSISTENT=0),
#   (e) progress lines in $OUT/progress.log; step output in $OUT/{setup,jest,time,sanitize}.log.
# Every step runs in its own process under `timeout` (a hung mbarrier or a fault ends that step only), and a
# deadline keeps the whole run under 8 minutes: later steps shrink or are skipped when time runs short.
#   bash dev/gpu/fna_ws_check.sh
set -o pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
BUDGET=${BUDGET:-470}
source "$(dirname "$0")/steps.sh"

build_addon 300 60
# The Hopper instructions in the addon (UTMALDG: TMA loads, SYNCS: mbarriers, USETMAXREG: setmaxnreg are
# the wgmma-ws kernels' own; HGMMA: wgmma of both sm_90a families).
timeout 60 cuobjdump -sass "$NATTEN_ADDON_PATH" 2>/dev/null |
  grep -oE "HGMMA|UTMALDG|SYNCS\.[A-Z.]+|USETMAXREG\.[A-Z.]+" | sort | uniq -c | tee -a "$OUT/progress.log"

# wgmma-ws is forced-only, so the recorded default choices of test/config_choices.test.ts must not move.
choices_unchanged 60

export NATTEN_REQUIRE_GPU=1
step jest_ws jest 240 npx jest --ci test/cuda_fused_forward_ws.test.ts
grep -h "wgmma-ws sweep\|✕\|failures" "$OUT/jest.log" | head -20 >>"$OUT/progress.log"

# The public API timing before the sanitizers: the figures matter most if time runs short.
step time time 90 node dist/dev/gpu/fna_ws_time.js 20
# The same with one CTA per Q tile instead of persistent CTAs (the forward_ws_persistent switch off).
step time_one_cta time_one_cta 90 env NATTEN_FWD_WS_PERSISTENT=0 node dist/dev/gpu/fna_ws_time.js 20
grep "|" "$OUT/time.log" >>"$OUT/progress.log"
grep "wgmma-ws" "$OUT/time_one_cta.log" | sed 's/^/one CTA per tile: /' >>"$OUT/progress.log"

sanitize 60 dist/dev/gpu/fna_ws_small.js

step jest_fused jest 120 npx jest --ci test/cuda_fused_forward.test.ts
grep -h "fused forward sweep\|wgmma-ws sweep\|✕" "$OUT/jest.log" | head -20 >>"$OUT/progress.log"
progress "done"
