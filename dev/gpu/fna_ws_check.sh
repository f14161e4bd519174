#!/bin/bash
# GPU check of the sm_90a warp-specialised forward ('wgmma-ws'), run from the repo root on an H100/H200:
#   (a) builds the CUDA addon for sm_90a and the TypeScript,
#   (b) the forced-config correctness sweep (test/cuda_fused_forward_ws.test.ts, NATTEN_REQUIRE_GPU=1) and the
#       general fused-forward sweep (which also forces every wgmma-ws config once),
#   (c) compute-sanitizer memcheck / racecheck / synccheck on small forced cases of every dims
#       (dev/gpu/fna_ws_small.ts: TMA and cp.async producers, extra keys, negative scale),
#   (d) the issue-14 problems timed through the public API, wgmma-ws vs wgmma vs mma vs default
#       (dev/gpu/fna_ws_time.ts, median of 20, TFLOP/s), with a full-size wgmma-ws vs mma cross-check,
#   (e) progress lines in $OUT/progress.log; step output in $OUT/{setup,jest,time,sanitize}.log.
# Every step runs in its own process under `timeout` (a hung mbarrier or a fault ends that step only), and a
# deadline keeps the whole run under 8 minutes: later steps shrink or are skipped when time runs short.
#   bash dev/gpu/fna_ws_check.sh
set -o pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
BUDGET=470
source "$(dirname "$0")/steps.sh"

[ -f .device/gpu-env.sh ] && source .device/gpu-env.sh
export NATTEN_CUDA=1 NATTEN_CUDA_ARCHS=${NATTEN_CUDA_ARCHS:-90a} NATTEN_BUILD_DIR=${NATTEN_BUILD_DIR:-/tmp/b}
nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader >>"$OUT/progress.log" 2>&1
step build setup 300 npm run build:native || { progress "build failed: stop"; exit 1; }
export NATTEN_ADDON_PATH=$NATTEN_BUILD_DIR/Release/natten.node
step tsc setup 60 npx tsc -p tsconfig.json || { progress "tsc failed: stop"; exit 1; }
# The Hopper instructions in the addon (UTMALDG: TMA loads, SYNCS: mbarriers, USETMAXREG: setmaxnreg are
# the wgmma-ws kernels' own; HGMMA: wgmma of both sm_90a families).
timeout 60 cuobjdump -sass "$NATTEN_ADDON_PATH" 2>/dev/null |
  grep -oE "HGMMA|UTMALDG|SYNCS\.[A-Z.]+|USETMAXREG\.[A-Z.]+" | sort | uniq -c | tee -a "$OUT/progress.log"

# wgmma-ws is forced-only, so the recorded default choices of test/config_choices.test.ts must not move.
step record setup 60 node dev/record_config_choices.js
if ! git diff --quiet -- test/fixtures/fused_config_choices.json; then
  progress "fused_config_choices.json CHANGED (the defaults must not): copied to \$OUT"
  cp test/fixtures/fused_config_choices.json "$OUT/"
fi

export NATTEN_REQUIRE_GPU=1
step jest_ws jest 120 npx jest --ci test/cuda_fused_forward_ws.test.ts
grep -h "wgmma-ws sweep\|✕\|failures" "$OUT/jest.log" | head -20 >>"$OUT/progress.log"

# The public API timing before the sanitizers: the figures matter most if time runs short.
step time time 90 node dist/dev/gpu/fna_ws_time.js 20
grep "|" "$OUT/time.log" >>"$OUT/progress.log"

for tool in memcheck racecheck synccheck; do
  step "sanitize_$tool" sanitize 60 compute-sanitizer --tool "$tool" --error-exitcode 3 node dist/dev/gpu/fna_ws_small.js
done
grep -h "ERROR SUMMARY" "$OUT/sanitize.log" >>"$OUT/progress.log"

step jest_fused jest 120 npx jest --ci test/cuda_fused_forward.test.ts
grep -h "fused forward sweep\|wgmma-ws sweep\|✕" "$OUT/jest.log" | head -20 >>"$OUT/progress.log"
progress "done"
