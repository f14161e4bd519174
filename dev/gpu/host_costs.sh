#!/usr/bin/env bash
# Where a module forward's host time goes on the GPU machine (repo root): builds the CUDA addon, then
# dev/gpu/enqueue_costs.ts (host microseconds per call of each op of one NeighborhoodAttention2D forward) and
# a V8 CPU profile of 2000 module forwards, summarised by dev/cpu_profile_top.ts. Output in $OUT.
#   OUT=/some/dir bash dev/gpu/host_costs.sh
set -uo pipefail
OUT=${OUT:?set OUT to the output folder}
mkdir -p "$OUT"
[ -f .device/gpu-env.sh ] && source .device/gpu-env.sh
export NATTEN_BUILD_DIR=${NATTEN_BUILD_DIR:-/tmp/b}
source "$(dirname "$0")/fresh_build.sh" && fresh_build_dir "$NATTEN_BUILD_DIR"
NATTEN_CUDA=1 NATTEN_CUDA_ARCHS=${NATTEN_CUDA_ARCHS:-90a} npm run build:native >"$OUT/build.log" 2>&1 || exit 1
export NATTEN_ADDON_PATH=$NATTEN_BUILD_DIR/Release/natten.node
npx tsc -p tsconfig.json || exit 1
node dist/dev/gpu/enqueue_costs.js 2>&1 | tee "$OUT/enqueue_costs.txt"
prof=$(mktemp -d)
node --cpu-prof --cpu-prof-dir="$prof" dist/dev/gpu/enqueue_costs.js --only 'module forward in' --calls 400 --reps 5 >/dev/null
node dist/dev/cpu_profile_top.js "$prof"/*.cpuprofile 45 | tee "$OUT/module_forward_profile.txt"
# V8's tick profiler sees native frames too: where the addon's, CUDA's and V8's own time goes (C++ symbols of
# the addon, shared libraries as a whole).
tick=$(mktemp -d)
(cd "$tick" && node --prof "$OLDPWD/dist/dev/gpu/enqueue_costs.js" --only 'module forward in' --calls 400 --reps 5 >/dev/null &&
  node --prof-process isolate*.log 2>/dev/null | head -150) >"$OUT/module_forward_ticks.txt"
(cd "$tick" && rm -f isolate*.log && node --prof "$OLDPWD/dist/bench/train_step_gpu.js" --reps 3 --out /dev/null >/dev/null 2>&1 &&
  node --prof-process isolate*.log 2>/dev/null | head -150) >"$OUT/train_step_ticks.txt"
which perf >>"$OUT/enqueue_costs.txt" 2>&1 || echo "no perf" >>"$OUT/enqueue_costs.txt"
