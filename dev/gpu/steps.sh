# Step helpers of the GPU check scripts (dev/gpu/fna_ws_check.sh, dev/gpu/fna_bwd_wgmma_check.sh), sourced
# after OUT is set and with BUDGET (seconds) the whole run's deadline:
#   progress MSG...            a timestamped line to stdout and $OUT/progress.log
#   step NAME LOG MAX CMD...   CMD under `timeout` min(MAX, time left - 5 s), output appended to $OUT/LOG.log,
#                              its outcome (ok, FAILED rc, TIMED OUT, SKIPPED) and last lines in progress.log
#   build_addon BUILD_S TSC_S  the sm_90a CUDA addon (NATTEN_ADDON_PATH exported; its build folder emptied
#                              first unless built from these sources, dev/gpu/fresh_build.sh) and the TypeScript; exits
#                              the script when either fails
#   choices_unchanged S        re-records test/fixtures/fused_config_choices.json, which must not change (the
#                              forced-only kernels never move a default): a changed fixture is copied to $OUT
#   ncu_summary S NAME RE ARGS Nsight Compute sections of one kernel launch of dev/gpu/fna_one.ts, into ncu_NAME.log
#   ncu_sm90_kernels S         ncu_summary of the sm_90a forward/backward kernels on the 1-D and k31 problems
#   sanitize S SCRIPT          compute-sanitizer memcheck, racecheck and synccheck of `node SCRIPT`, into
#                              sanitize.log, their error summaries in progress.log
source "$(dirname "${BASH_SOURCE[0]}")/fresh_build.sh"
START=$(date +%s)
DEADLINE=$((START + ${BUDGET:-470}))
progress() { echo "[$(($(date +%s) - START))s] $*" | tee -a "$OUT/progress.log"; }
# step NAME LOG MAX_SECONDS CMD...: runs CMD with timeout min(MAX, time left - 5 s), output appended to
# $OUT/LOG.log.
step() {
  local name=$1 log=$OUT/$2.log max=$3
  shift 3
  local left=$((DEADLINE - $(date +%s) - 5))
  local limit=$((max < left ? max : left))
  if [ "$limit" -lt 10 ]; then
    progress "$name: SKIPPED (no time left)"
    return 1
  fi
  progress "$name: start (timeout ${limit}s)"
  echo "==== $name: $*" >>"$log"
  timeout -k 5 "$limit" "$@" >>"$log" 2>&1
  local rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then progress "$name: TIMED OUT after ${limit}s (hang?)"
  elif [ $rc -ne 0 ]; then progress "$name: FAILED rc=$rc"
  else progress "$name: ok"
  fi
  tail -n 4 "$log" | sed 's/^/    /' | tee -a "$OUT/progress.log"
  return $rc
}


build_addon() {
  [ -f .device/gpu-env.sh ] && source .device/gpu-env.sh
  export NATTEN_CUDA=1 NATTEN_CUDA_ARCHS=${NATTEN_CUDA_ARCHS:-90a} NATTEN_BUILD_DIR=${NATTEN_BUILD_DIR:-/tmp/b}
  fresh_build_dir "$NATTEN_BUILD_DIR"
  nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader >>"$OUT/progress.log" 2>&1
  step build setup "$1" npm run build:native || { progress "build failed: stop"; exit 1; }
  export NATTEN_ADDON_PATH=$NATTEN_BUILD_DIR/Release/natten.node
  step tsc setup "$2" npx tsc -p tsconfig.json || { progress "tsc failed: stop"; exit 1; }
}

choices_unchanged() {
  # Compared with the file as sent, not with git: the device copy's index need not match the tree sent.
  cp test/fixtures/fused_config_choices.json /tmp/fused_config_choices.sent.json
  step record setup "$1" node dev/record_config_choices.js
  if ! cmp -s /tmp/fused_config_choices.sent.json test/fixtures/fused_config_choices.json; then
    progress "fused_config_choices.json CHANGED (the defaults must not): copied to \$OUT"
    cp test/fixtures/fused_config_choices.json "$OUT/"
  fi
}

sanitize() {
  local tool
  for tool in memcheck racecheck synccheck; do
    step "sanitize_$tool" sanitize "$1" compute-sanitizer --tool "$tool" --error-exitcode 3 node "$2"
  done
  grep -h "ERROR SUMMARY" "$OUT/sanitize.log" >>"$OUT/progress.log"
}

# ncu_summary S NAME KERNEL_REGEX ARGS...: Nsight Compute on the second matching launch of
# `node dist/dev/gpu/fna_one.js ARGS...` (speed of light, compute pipes, warp stalls, occupancy, launch
# resources), the report text in $OUT/ncu_NAME.log.
ncu_summary() {
  local limit=$1 name=$2 regex=$3
  shift 3
  step "ncu_$name" "ncu_$name" "$limit" ncu -k "regex:$regex" --launch-skip 1 -c 1 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section WarpStateStats \
    --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis \
    node dist/dev/gpu/fna_one.js "$@"
}

# ncu_sm90_kernels S: ncu_summary of the sm_90a forward and backward kernels on the 1-D and k31 problems
# (0 and 2 of CUDA_BENCH_PROBLEMS): 'wgmma-ws' next to the 'wgmma' forward it replaces there, the 'wgmma'
# backward next to 'mma'.
ncu_sm90_kernels() {
  ncu_summary "$1" fwd_1d_ws na_forward_ws 0 forward wgmma-ws
  ncu_summary "$1" fwd_k31_ws na_forward_ws 2 forward wgmma-ws
  ncu_summary "$1" fwd_1d_wgmma na_forward_kernel 0 forward wgmma
  ncu_summary "$1" fwd_k31_wgmma na_forward_kernel 2 forward wgmma
  ncu_summary "$1" bwd_1d_wgmma fna_backward_wgmma 0 backward wgmma
  ncu_summary "$1" bwd_k31_wgmma fna_backward_wgmma 2 backward wgmma
  ncu_summary "$1" bwd_k31_mma fna_backward_kv 2 backward mma
}
