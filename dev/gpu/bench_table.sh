#!/bin/bash
# The README benchmark table from one run on one card: FlexAttention at its best (both token orders, a
# compiled kernel per problem) and dense cuDNN attention (bench/flex_attention.py --backward --dense), then
# `natten-node bench --device cuda` over the five problems with those peers (every compiled fused config
# timed too: the best forced config per problem, 'wgmma-ws' included). Output in $OUT: flex.json (all
# peers), flex_<problem>_<order>.json, flex.log, bench.json, bench.txt, bench.svg, progress.log. From the
# repo root on an H100/H200. With the eagerly built block masks one problem and order took 15-30 s on an
# H200 (k31 tile-permuted 15 s, 1-D 30 s cold), the suite 35 s and the build about 50 s, so the whole table
# should fit one device call; FLEX_ONLY (with BUDGET, FLEX_LIMIT) still spreads the peers over several:
#   bash dev/gpu/bench_table.sh
set -o pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
BUDGET=${BUDGET:-1200}
source "$(dirname "$0")/steps.sh"

build_addon 300 60
# One process per peer problem and token order, each under its own limit (FLEX_LIMIT seconds): one slow
# compile must not cost the others. The
# runs are then merged into one row per problem with its best order (flex_attention.py --merge, which also
# takes the flex_*.json of earlier calls copied into $OUT). FLEX_ONLY=regex keeps the matching
# "problem order" lines, to spread the peers over several device calls.
"${PYTHON:-python}" - <<'PY' >"$OUT/flex_runs.txt"
import sys; sys.path.insert(0, "bench")
from flex_attention import PROBLEMS
for p in PROBLEMS:
    for order in ("raster", "tiled") if p[1] > 1 else ("raster",):
        print(p[0], order)
PY
step flex_dense flex 60 "${PYTHON:-python}" bench/flex_attention.py --only none --dense --runs 30 --json "$OUT/flex_dense.json"
while read -r name order; do
  step "flex_${name}_$order" flex "${FLEX_LIMIT:-150}" "${PYTHON:-python}" bench/flex_attention.py --backward \
    --runs 30 --only "$name" --orders "$order" --json "$OUT/flex_${name}_$order.json" </dev/null
done < <(grep -E "${FLEX_ONLY:-.}" "$OUT/flex_runs.txt")
"${PYTHON:-python}" bench/flex_attention.py --merge "$OUT"/flex_*.json --json "$OUT/flex.json"
grep -h '"problem"' "$OUT/flex.log" | cut -c1-220 >>"$OUT/progress.log"
step bench bench 240 node dist/cli/main.js bench --device cuda --runs 20 --flex "$OUT/flex.json" \
  --out "$OUT/bench.json" --plot "$OUT/bench.svg"
cp "$OUT/bench.log" "$OUT/bench.txt" 2>/dev/null
progress "done"
