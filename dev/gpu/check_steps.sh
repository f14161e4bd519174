# Sourced by dev/gpu/modules_check.sh and dev/gpu/train_check.sh (from the repository root): the output
# folder, the step runner and the CUDA build those checks start with.
#   check_init NAME        OUT (required, made absolute), WORK (a fresh /tmp/NAME.XXXXXX), LOG
#                          ($OUT/progress.log), an empty $OUT/summary.txt, PY (${PYTHON:-python}), FAILED
#   step NAME SECONDS CMD  runs CMD under timeout into $WORK/NAME.log; a start and an end line (exit status,
#                          seconds) in $LOG; the log's tail in summary.txt; a failure is added to FAILED
#   build_all BUILD_S TSC_S  the CUDA addon (NATTEN_ADDON_PATH exported) and the TypeScript, then
#                          $WORK/build_info.json; fails when either step does
#   finish                 $OUT/logs.tar.gz of $WORK's logs and JSON files; fails when a step failed

check_init() {
  OUT=${OUT:?set OUT to the output folder}
  mkdir -p "$OUT"
  OUT=$(cd "$OUT" && pwd)
  PY=${PYTHON:-python}
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  LOG="$OUT/progress.log"
  : >"$LOG"
  : >"$OUT/summary.txt"
  FAILED=()
}

step() {
  local name=$1 limit=$2 t0=$SECONDS rc
  shift 2
  echo "$(date +%T) $name: start" >>"$LOG"
  timeout "$limit" "$@" >"$WORK/$name.log" 2>&1
  rc=$?
  echo "$(date +%T) $name: rc=$rc in $((SECONDS - t0)) s$([ $rc = 124 ] && echo " (timed out after $limit s)")" >>"$LOG"
  { echo "=== $name (rc=$rc)"; tail -n 25 "$WORK/$name.log"; } >>"$OUT/summary.txt"
  [ $rc = 0 ] || FAILED+=("$name")
  return $rc
}

build_all() {
  if [ -f .device/gpu-env.sh ]; then source .device/gpu-env.sh; fi
  export NATTEN_BUILD_DIR=${NATTEN_BUILD_DIR:-/tmp/b}
  source "$(dirname "${BASH_SOURCE[0]}")/fresh_build.sh"
  fresh_build_dir "$NATTEN_BUILD_DIR"
  step build "$1" env NATTEN_CUDA=1 NATTEN_CUDA_ARCHS=${NATTEN_CUDA_ARCHS:-90a} npm run build:native || return 1
  export NATTEN_ADDON_PATH="$NATTEN_BUILD_DIR/Release/natten.node"
  step tsc "$2" npx tsc -p tsconfig.json || return 1
  node -e "console.log(JSON.stringify(require('./dist/lib').buildInfo()))" >"$WORK/build_info.json" 2>&1
}

finish() {
  tar -czf "$OUT/logs.tar.gz" -C "$WORK" $(cd "$WORK" && ls *.log *.json 2>/dev/null)
  echo "$(date +%T) done; failed: ${FAILED[*]:-none}" >>"$LOG"
  rm -rf "$WORK"
  [ ${#FAILED[@]} = 0 ]
}
