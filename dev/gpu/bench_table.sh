#!/bin/bash
# The README benchmark table from one run on one card: FlexAttention at its best (both token orders,
# compiled block mask and kernel per problem) and dense cuDNN attention (bench/flex_attention.py --backward
# --dense), then `natten-node bench --device cuda` over the five problems with those peers (every compiled
# fused config timed too: the best forced config per problem, 'wgmma-ws' included). Output in $OUT:
# flex.json, flex.log, bench.json, bench.txt, bench.svg, progress.log. From the repo root on an H100/H200:
#   bash dev/gpu/bench_table.sh
set -o pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
BUDGET=${BUDGET:-540}
source "$(dirname "$0")/steps.sh"

build_addon 300 60
step flex flex 240 "${PYTHON:-python}" bench/flex_attention.py --backward --dense --runs 30 --json "$OUT/flex.json"
grep -h '"problem"' "$OUT/flex.log" | cut -c1-220 >>"$OUT/progress.log"
step bench bench 240 node dist/cli/main.js bench --device cuda --runs 20 --flex "$OUT/flex.json" \
  --out "$OUT/bench.json" --plot "$OUT/bench.svg"
cp "$OUT/bench.log" "$OUT/bench.txt" 2>/dev/null
progress "done"
