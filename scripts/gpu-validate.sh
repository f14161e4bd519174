#!/usr/bin/env bash
# One pass on a GPU machine: build the addon for the GPU present, run the whole test suite with
# NATTEN_REQUIRE_GPU=1 (a missing GPU fails), compute-sanitizer over the CUDA ops, and (unless
# SKIP_BENCH=1) the GPU benchmarks (npm run bench -- --device cuda: fused forward/backward, unfused,
# reference) with FlexAttention on the same card (bench/flex_attention.py). Logs and JSON go to $OUT
# (default ./gpu-results). Exit status: non-zero if the build, a test or the sanitizer failed.
#   NATTEN_CUDA_ARCHS (default 90a), NATTEN_BUILD_DIR (default /tmp/natten-build), SKIP_BENCH, SKIP_SANITIZE
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-results}
mkdir -p "$out"
export NATTEN_CUDA_ARCHS=${NATTEN_CUDA_ARCHS:-90a} NATTEN_BUILD_DIR=${NATTEN_BUILD_DIR:-/tmp/natten-build}
export NATTEN_ADDON_PATH=$NATTEN_BUILD_DIR/Release/natten.node NATTEN_CUDA=1
stamp() { echo "== $(date +%T) $*"; }

stamp build
if ! npm run build:native >"$out/build.log" 2>&1; then tail -40 "$out/build.log"; exit 1; fi
npx tsc -p tsconfig.json || exit 1

stamp tests
NATTEN_REQUIRE_GPU=1 npx jest --verbose --maxWorkers=${JEST_WORKERS:-8} >"$out/tests.log" 2>&1
rc_tests=$?
grep -E '^(Tests|Test Suites):|✕' "$out/tests.log"

rc_san=0
if [ "${SKIP_SANITIZE:-0}" != 1 ]; then
  stamp sanitize
  bash scripts/sanitize.sh >"$out/sanitize.log" 2>&1
  rc_san=$?
  tail -5 "$out/sanitize.log"
fi

if [ "${SKIP_BENCH:-0}" != 1 ]; then
  stamp benchmarks
  rm -f "$out/flex.json"
  python3 bench/flex_attention.py --backward --json "$out/flex.json" >"$out/flex.log" 2>&1 || tail -5 "$out/flex.log"
  [ -s "$out/flex.json" ] || echo '[]' >"$out/flex.json"  # no FlexAttention (no torch?): its columns stay empty
  npm run bench -- --device cuda --flex "$out/flex.json" --out "$out/cuda.json" 2>&1 | tee "$out/bench_cuda.log" | tail -15
fi
stamp "done: tests rc=$rc_tests sanitize rc=$rc_san"
[ $rc_tests -eq 0 ] && [ $rc_san -eq 0 ]
