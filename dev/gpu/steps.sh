# Step helpers of the GPU check scripts (dev/gpu/fna_ws_check.sh, dev/gpu/fna_bwd_wgmma_check.sh), sourced
# after OUT is set and with BUDGET (seconds) the whole run's deadline:
#   progress MSG...            a timestamped line to stdout and $OUT/progress.log
#   step NAME LOG MAX CMD...   CMD under `timeout` min(MAX, time left - 5 s), output appended to $OUT/LOG.log,
#                              its outcome (ok, FAILED rc, TIMED OUT, SKIPPED) and last lines in progress.log
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

