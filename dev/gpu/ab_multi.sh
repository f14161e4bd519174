#!/bin/bash
# Interleaved timing of several builds of the addon on one card in one device call: the working tree ("base")
# and variants that differ from it in some files (git revisions, e.g. branches with a prepared kernel change).
#   bash dev/gpu/ab_multi.sh prepare DIR REV...   here: for each REV, the files under kernels/, native/ and
#                                                 engine/ that differ between the working tree and REV, as of
#                                                 REV, into DIR/NAME (NAME: REV with '/' as '_'); DIR is emptied
#   FWD_SPECS="..." OUT=... bash dev/gpu/ab_multi.sh run DIR [ROUNDS] [RUNS]
#                                                 on the GPU machine (carry DIR): builds the working tree, then
#                                                 each variant (its files over the tree, an incremental rebuild,
#                                                 the tree restored), then times every build in alternating
#                                                 processes, ROUNDS rounds (default 4) of dev/gpu/fna_fwd_ab.ts
#                                                 (RUNS medians of 5-launch batches, default 15) on FWD_SPECS
# Optional per variant: SASS_RE (a regular expression on kernel names) writes each build's SASS of the matching
# kernels to $OUT/NAME.sass.xz. $OUT gets progress.log, setup.log, time.log (lines "NAME | problem | spec |
# ms | TF/s") and summary.txt (dev/gpu/ab_summary.ts). A variant whose build fails is reported and left out of
# the timing.
set -o pipefail
mode=$1
if [ "$mode" = prepare ]; then
  dir=$2
  shift 2
  rm -rf "$dir" && mkdir -p "$dir"
  for rev in "$@"; do
    git rev-parse --verify -q "$rev^{commit}" >/dev/null || { echo "ab_multi.sh prepare: no revision $rev"; exit 1; }
    name=${rev//\//_}
    mkdir -p "$dir/$name"
    for f in $(git diff --name-only "$rev" -- kernels native engine); do
      mkdir -p "$dir/$name/$(dirname "$f")"
      # A file the variant does not have is recorded as deleted.
      git show "$rev:$f" >"$dir/$name/$f" 2>/dev/null || { rm -f "$dir/$name/$f"; echo "$f" >>"$dir/$name/.deleted"; }
    done
    echo "$name: $(cd "$dir/$name" && find . -type f ! -name .deleted | wc -l) files"
  done
  exit 0
fi
[ "$mode" = run ] || { echo "usage: ab_multi.sh prepare DIR REV... | run DIR [ROUNDS] [RUNS]"; exit 2; }
[ -n "$FWD_SPECS" ] || { echo "ab_multi.sh run: set FWD_SPECS (dev/gpu/fna_fwd_ab.ts specs)"; exit 2; }
dir=$2 rounds=${3:-4} runs=${4:-15}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/ab
BUDGET=${BUDGET:-540}
source "$(dirname "$0")/steps.sh"

# sass NAME: the SASS of the kernels matching SASS_RE in the current addon.
sass() {
  [ -n "$SASS_RE" ] || return 0
  cuobjdump -sass "$NATTEN_ADDON_PATH" 2>/dev/null |
    awk -v re="$SASS_RE" '/Function :/ {keep = ($0 ~ re)} keep' | xz -9 >"$OUT/$1.sass.xz"
}

build_addon 300 60
cp "$NATTEN_ADDON_PATH" /tmp/ab/base.node
sass base
builds=(base)
for vdir in "$dir"/*/; do
  name=$(basename "$vdir")
  files=$(cd "$vdir" && find . -type f ! -name .deleted | sed 's|^\./||')
  deleted=$(cat "$vdir/.deleted" 2>/dev/null)
  rm -rf /tmp/ab/keep && mkdir -p /tmp/ab/keep
  for f in $files $deleted; do
    [ -f "$f" ] && mkdir -p "/tmp/ab/keep/$(dirname "$f")" && cp "$f" "/tmp/ab/keep/$f"
  done
  for f in $files; do mkdir -p "$(dirname "$f")"; cp "$vdir/$f" "$f"; touch "$f"; done
  for f in $deleted; do rm -f "$f"; done
  if step "build_$name" setup 300 npm run build:native; then
    cp "$NATTEN_ADDON_PATH" "/tmp/ab/$name.node"
    sass "$name"
    builds+=("$name")
  fi
  # Back to the working tree: the files as they were, the variant's new files gone.
  for f in $files; do [ -f "/tmp/ab/keep/$f" ] || rm -f "$f"; done
  (cd /tmp/ab/keep && find . -type f | sed 's|^\./||') | while read -r f; do cp "/tmp/ab/keep/$f" "$f"; touch "$f"; done
done
fresh_build_forget "$NATTEN_BUILD_DIR"  # the folder now holds the last variant's build
for r in $(seq "$rounds"); do
  for v in "${builds[@]}"; do
    step "time_${v}_$r" time 60 env NATTEN_ADDON_PATH="/tmp/ab/$v.node" node dist/dev/gpu/fna_fwd_ab.js "$v" "$runs" \
      $FWD_SPECS
  done
done
grep "|" "$OUT/time.log" | sort >>"$OUT/progress.log"
node dist/dev/gpu/ab_summary.js "$OUT/time.log" >"$OUT/summary.txt"  # medians over the rounds, change against base
progress done
