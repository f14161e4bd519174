#!/bin/bash
# Interleaved A/B timing of two builds of the addon on one card ("unchanged" / "not slower" in the issues):
# the working tree ("new") against the same tree with some files as they are at a git revision ("base").
#   bash dev/gpu/ab_time.sh prepare REV DIR    here: copies the files that differ from REV, as of REV, to DIR
#   OUT=... bash dev/gpu/ab_time.sh run DIR [ROUNDS] [RUNS] [FAMILY] [PROBLEM...]
#                                              on the GPU machine (carry DIR): builds new, then base (an
#                                              incremental rebuild of what those files touch), then times
#                                              them in alternating processes, ROUNDS rounds (default 3) of
#                                              dev/gpu/fna_bwd_ab.ts (RUNS medians of 5-launch batches; FAMILY
#                                              'wgmma' by default; problems 0 and 2 of CUDA_BENCH_PROBLEMS)
#   OUT=... bash dev/gpu/ab_time.sh env VAR=VALUE[,VAR=VALUE...] [ROUNDS] [RUNS] [FAMILY] [PROBLEM...]
#                                              one build of the working tree, timed without ("base") and with
#                                              ("new") the assignments in the environment (run-time switches)
# With FWD_SPECS set (fna_fwd_ab.ts specs, e.g. FWD_SPECS="4 4:wgmma-ws:2,8,8:1,8,16") both modes time the
# forward (dev/gpu/fna_fwd_ab.ts, RUNS medians of 5-launch batches) instead, FAMILY and PROBLEM unused.
# The working tree is restored before the timing; $OUT gets progress.log, setup.log and time.log.
set -o pipefail
mode=$1
# time_one LABEL FAMILY RUNS PROBLEM...: one timing process of the pass under test.
time_one() {
  local label=$1 fam=$2 n=$3
  shift 3
  if [ -n "$FWD_SPECS" ]; then node dist/dev/gpu/fna_fwd_ab.js "$label" "$n" $FWD_SPECS
  else node dist/dev/gpu/fna_bwd_ab.js "$label" "$fam" "$n" "$@"
  fi
}
export -f time_one
if [ "$mode" = env ]; then
  assign=$2 rounds=${3:-3} runs=${4:-12} family=${5:-wgmma}
  shift $(($# < 5 ? $# : 5))
  problems=${*:-0 2}
  OUT=${OUT:-/tmp/out}
  mkdir -p "$OUT"
  BUDGET=${BUDGET:-400}
  source "$(dirname "$0")/steps.sh"
  build_addon 300 60
  IFS=, read -r -a assigns <<<"$assign"
  unsets=()
  for a in "${assigns[@]}"; do unsets+=(-u "${a%%=*}"); done
  for r in $(seq "$rounds"); do
    step "time_base_$r" time 60 env "${unsets[@]}" bash -c 'time_one "$@"' _ base "$family" "$runs" $problems
    step "time_new_$r" time 60 env "${assigns[@]}" bash -c 'time_one "$@"' _ new "$family" "$runs" $problems
  done
  grep "|" "$OUT/time.log" >>"$OUT/progress.log"
  progress done
  exit 0
fi
if [ "$mode" = prepare ]; then
  rev=$2 dir=$3
  rm -rf "$dir" && mkdir -p "$dir"
  for f in $(git diff --name-only "$rev" -- kernels native engine); do
    mkdir -p "$dir/$(dirname "$f")"
    git show "$rev:$f" >"$dir/$f" 2>/dev/null || rm -f "$dir/$f"  # a file new since REV has no base version
  done
  echo "base files of $rev in $dir:"; (cd "$dir" && find . -type f | sort)
  exit 0
fi
[ "$mode" = run ] || { echo "usage: ab_time.sh prepare REV DIR | run DIR [ROUNDS] [RUNS] [FAMILY] [PROBLEM...] | env VAR=VALUE [...]"; exit 2; }
dir=$2 rounds=${3:-3} runs=${4:-12} family=${5:-wgmma}
shift $(($# < 5 ? $# : 5))
problems=${*:-0 2}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/ab
BUDGET=${BUDGET:-500}
source "$(dirname "$0")/steps.sh"
build_addon 300 60
cp "$NATTEN_ADDON_PATH" /tmp/ab/new.node
files=$(cd "$dir" && find . -type f | sed 's|^\./||')
mkdir -p /tmp/ab/new_src
for f in $files; do mkdir -p "/tmp/ab/new_src/$(dirname "$f")"; cp "$f" "/tmp/ab/new_src/$f"; cp "$dir/$f" "$f"; touch "$f"; done
step build_base setup 300 npm run build:native && cp "$NATTEN_ADDON_PATH" /tmp/ab/base.node
fresh_build_forget "$NATTEN_BUILD_DIR"  # the folder now holds the base build
for f in $files; do cp "/tmp/ab/new_src/$f" "$f"; touch "$f"; done
for r in $(seq "$rounds"); do
  for v in base new; do
    [ -f "/tmp/ab/$v.node" ] || continue
    export NATTEN_ADDON_PATH=/tmp/ab/$v.node
    step "time_${v}_$r" time 60 bash -c 'time_one "$@"' _ "$v" "$family" "$runs" $problems
  done
done
grep "|" "$OUT/time.log" >>"$OUT/progress.log"
progress done
