#!/usr/bin/env bash
# The `natten-node` command on a GPU machine: builds the CUDA addon, then writes into $OUT what
# docs/command/ keeps (copy $OUT/* there): doctor's report, profile of a 2-D problem forward + backward
# (kernels timed with CUDA events in the addon's profile mode), --dry-run on the GPU, --optimize when the
# library has the autotuner, and bench --plot on two problems. Run from the repository root:
#   OUT=/some/dir bash dev/gpu/cli_check.sh
# Checks: doctor exits 0 with the GPU's smoke test 'pass'; profile lists named kernels (fna forward /
# backward kernels, not "(unnamed kernel)" or "uncaptured op") whose times add up to the total; the chart
# is an SVG with natten-node's bars per problem.
set -euo pipefail
OUT=${OUT:?set OUT to the output folder}
mkdir -p "$OUT"
if [ -f .device/gpu-env.sh ]; then source .device/gpu-env.sh; fi
source "$(dirname "$0")/fresh_build.sh" && fresh_build_dir "${NATTEN_BUILD_DIR:-/tmp/b}"
NATTEN_CUDA_ARCHS=${NATTEN_CUDA_ARCHS:-90a} NATTEN_CUDA=1 NATTEN_BUILD_DIR=${NATTEN_BUILD_DIR:-/tmp/b} npm run build:native >"$OUT/build.log" 2>&1
export NATTEN_ADDON_PATH=${NATTEN_BUILD_DIR:-/tmp/b}/Release/natten.node
npx tsc -p tsconfig.json
cli() { node dist/cli/main.js "$@"; }
run() { # run NAME ARGS...: stdout to $OUT/NAME.txt, status noted, never stops the script
  local name=$1; shift
  { echo "\$ natten-node $*"; cli "$@" 2>"$OUT/$name.stderr"; echo "(exit $?)"; } >"$OUT/$name.txt" || true
}
PROBLEM=(-i 64 64 -w 13 -n 4 -d 64 -b 4 --dtype bfloat16)
run doctor doctor
cli doctor --json >"$OUT/doctor.json" 2>/dev/null || true
run profile profile "${PROBLEM[@]}" --backprop
run profile-dry-run profile "${PROBLEM[@]}" --dry-run
run profile-unfused profile "${PROBLEM[@]}" --backend unfused --backprop --warmup-steps 3
run profile-optimize profile "${PROBLEM[@]}" --backprop --optimize
# FLEX=file.json (python3 bench/flex_attention.py --backward --json FILE on the same card) adds the peers.
run bench bench --device cuda --problems '2-D B4 H16 128x128 k13 D64,3-D B1 H16 16x32x32 k(5,9,9) D64' \
  ${FLEX:+--flex "$FLEX"} --plot "$OUT/bench.svg" --out "$OUT/bench.json"
ls -l "$OUT"
