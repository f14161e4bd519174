#!/bin/bash
# The README benchmark table from one run on one card: FlexAttention at its best (both token orders,
# compiled block mask and kernel per problem) and dense cuDNN attention (bench/flex_attention.py --backward
# --dense), then `natten-node bench --device cuda` over the five problems with those peers (every compiled
# fused config timed too: the best forced config per problem, 'wgmma-ws' included). Output in $OUT:
# flex.json (all peers), flex_<problem>.json, flex.log, bench.json, bench.txt, bench.svg, progress.log. From
# the repo root on an H100/H200 (about 15 minutes: more than one device call allows, so run it where the
# 10-minute call limit does not apply, or give BUDGET and FLEX_LIMIT that fit):
#   bash dev/gpu/bench_table.sh
set -o pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
BUDGET=${BUDGET:-1200}
source "$(dirname "$0")/steps.sh"

build_addon 300 60
# One process per peer problem, each under its own limit (FLEX_LIMIT seconds): compiling FlexAttention for
# both token orders of a 2-D problem has taken minutes, and one slow problem must not cost the others.
"${PYTHON:-python}" - <<'PY' >"$OUT/flex_problems.txt"
import sys; sys.path.insert(0, "bench")
from flex_attention import PROBLEMS
print(" ".join(p[0] for p in PROBLEMS))
PY
step flex_dense flex 60 "${PYTHON:-python}" bench/flex_attention.py --only none --dense --runs 30 --json "$OUT/flex_dense.json"
for name in $(cat "$OUT/flex_problems.txt"); do
  step "flex_$name" flex "${FLEX_LIMIT:-150}" "${PYTHON:-python}" bench/flex_attention.py --backward --runs 30 \
    --only "$name" --json "$OUT/flex_$name.json"
done
"${PYTHON:-python}" - "$OUT" <<'PY'
import glob, json, sys
rows = []
for f in sorted(glob.glob(sys.argv[1] + "/flex_*.json")):
    rows += json.load(open(f))
json.dump(rows, open(sys.argv[1] + "/flex.json", "w"), indent=1)
PY
grep -h '"problem"' "$OUT/flex.log" | cut -c1-220 >>"$OUT/progress.log"
step bench bench 240 node dist/cli/main.js bench --device cuda --runs 20 --flex "$OUT/flex.json" \
  --out "$OUT/bench.json" --plot "$OUT/bench.svg"
cp "$OUT/bench.log" "$OUT/bench.txt" 2>/dev/null
progress "done"
