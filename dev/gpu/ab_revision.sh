#!/bin/bash
# Interleaved A/B timing of the working tree against a whole earlier revision ("base") on one card, where the
# tree has changed too much since for ab_time.sh's file swap (files moved, new ones): the revision is built
# as a tree of its own. Today: the sm_80 mma.sync 2-D forward (dev/gpu/fna_fwd_rev_ab.js).
#   bash dev/gpu/ab_revision.sh prepare REV DIR   here: REV's tracked files (bench/results left out) into DIR
#   OUT=... bash dev/gpu/ab_revision.sh run DIR [ROUNDS] [RUNS]
#                                                on the GPU machine (carry DIR): builds the working tree and
#                                                DIR (its own scripts/build-native.js and tsc, this tree's
#                                                node_modules linked in), then times them in alternating
#                                                processes, ROUNDS rounds (default 4) of RUNS batches (15)
# $OUT gets progress.log, setup.log and time.log (the timing lines are also appended to progress.log).
set -o pipefail
mode=$1
if [ "$mode" = prepare ]; then
  rev=$2 dir=$3
  rm -rf "$dir" && mkdir -p "$dir"
  git archive "$rev" | tar -x -C "$dir" --exclude=bench/results
  echo "$rev" >"$dir/REVISION"
  echo "tree of $rev in $dir: $(du -sh "$dir" | cut -f1)"
  exit 0
fi
[ "$mode" = run ] || { echo "usage: ab_revision.sh prepare REV DIR | run DIR [ROUNDS] [RUNS]"; exit 2; }
dir=$(cd "$2" && pwd) rounds=${3:-4} runs=${4:-15}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
BUDGET=${BUDGET:-520}
source "$(dirname "$0")/steps.sh"
build_addon 300 60
new_addon=$NATTEN_ADDON_PATH
progress "base: $(cat "$dir/REVISION" 2>/dev/null)"
ln -sfn "$PWD/node_modules" "$dir/node_modules"
# The base's own build script, with build_addon's CUDA settings (NATTEN_CUDA, NATTEN_CUDA_ARCHS) in the environment.
(cd "$dir" && fresh_build_dir /tmp/bb)
step build_base setup 300 bash -c "cd '$dir' && NATTEN_BUILD_DIR=/tmp/bb node scripts/build-native.js && npx tsc -p tsconfig.json" ||
  { progress "base build failed: stop"; exit 1; }
base_addon=/tmp/bb/Release/natten.node
for r in $(seq "$rounds"); do
  step "time_base_$r" time 60 env NATTEN_ADDON_PATH="$base_addon" node dev/gpu/fna_fwd_rev_ab.js "$dir" base "$runs"
  step "time_new_$r" time 60 env NATTEN_ADDON_PATH="$new_addon" node dev/gpu/fna_fwd_rev_ab.js . new "$runs"
done
grep "|" "$OUT/time.log" >>"$OUT/progress.log"
progress done
