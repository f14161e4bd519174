#!/usr/bin/env bash
# GPU check of training (issue 19), run from the repository root on the GPU machine:
#   OUT=/some/dir bash dev/gpu/train_check.sh
# Builds the CUDA addon and the TypeScript, then, each step under `timeout`, one line per step in
# $OUT/progress.log (start, exit status, seconds):
#   twin_data   python examples/train_nat_torch.py --write-init --write-data (the twin's weights, 200 batches)
#   twin_train  the twin trains 200 steps from them on the GPU (float32, TF32 off): torch_float32.json
#   node_fp32   examples/train_nat.js --device cuda from the same files, float32: node_float32.json
#   node_bf16   the same in bfloat16 (fp32 master weights in AdamW): node_bfloat16.json
#   compare     dev/compare_losses.js: first 50 float32 losses within 2% of the twin's, the bf16 final
#               loss below the README's threshold, the chart
#   torch_bench python bench/train_step_torch.py (one NA layer's training step in PyTorch: eager linears,
#               compiled FlexAttention forward+backward, AdamW(fused=True); raster and tile orders)
#   node_bench  node dist/bench/train_step_gpu.js --torch ... (the same step in natten-node, and the ratio)
# Files in $OUT: progress.log, summary.txt (each step's last lines),
# loss_curves_h200_node_fp32_bf16_vs_torch_fp32.svg (for docs/training/), h200_bf16_na_module_train_step.json
# and h200_bf16_na_module_train_step_torch.json (for bench/results/), logs.tar.gz (every log, the three
# losses JSON files, compare.json, build_info.json).
# Typical run about 4-5 minutes; the step limits add up to under 10 minutes.
# Look for: every step rc=0; compare "PASS first 50 losses" and "PASS final loss"; node_bench
# "speedup ... (target >= 1.5)".
set -uo pipefail
OUT=${OUT:?set OUT to the output folder}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PY=${PYTHON:-python}
WORK=$(mktemp -d /tmp/train_check.XXXXXX)
LOG="$OUT/progress.log"
: >"$LOG"
FAILED=()

step() { # step NAME SECONDS CMD...: runs CMD under timeout into $WORK/NAME.log; notes status and time
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

finish() {
  tar -czf "$OUT/logs.tar.gz" -C "$WORK" $(cd "$WORK" && ls *.log *.json 2>/dev/null)
  echo "$(date +%T) done; failed: ${FAILED[*]:-none}" >>"$LOG"
  rm -rf "$WORK"
  [ ${#FAILED[@]} = 0 ]
}

: >"$OUT/summary.txt"
if [ -f .device/gpu-env.sh ]; then source .device/gpu-env.sh; fi
export NATTEN_BUILD_DIR=${NATTEN_BUILD_DIR:-/tmp/b}
step build 140 env NATTEN_CUDA=1 NATTEN_CUDA_ARCHS=${NATTEN_CUDA_ARCHS:-90a} npm run build:native || { finish; exit 1; }
export NATTEN_ADDON_PATH="$NATTEN_BUILD_DIR/Release/natten.node"
step tsc 50 npx tsc -p tsconfig.json || { finish; exit 1; }
node -e "console.log(JSON.stringify(require('./dist/lib').buildInfo()))" >"$WORK/build_info.json" 2>&1

FILES=(--init "$WORK/init.safetensors" --data "$WORK/data.safetensors")
if step twin_data 40 "$PY" examples/train_nat_torch.py --write-init "$WORK/init.safetensors" \
  --write-data "$WORK/data.safetensors"; then
  step twin_train 60 "$PY" examples/train_nat_torch.py "${FILES[@]}" --device cuda --losses "$WORK/torch_float32.json"
  step node_fp32 45 node dist/examples/train_nat.js --device cuda "${FILES[@]}" --losses "$WORK/node_float32.json"
  step node_bf16 45 node dist/examples/train_nat.js --device cuda --dtype bfloat16 "${FILES[@]}" \
    --losses "$WORK/node_bfloat16.json"
  step compare 20 node dist/dev/compare_losses.js --reference "$WORK/torch_float32.json" \
    --fp32 "$WORK/node_float32.json" --bf16 "$WORK/node_bfloat16.json" --json "$WORK/compare.json" \
    --svg "$OUT/loss_curves_h200_node_fp32_bf16_vs_torch_fp32.svg"
fi
TORCH_JSON="$OUT/h200_bf16_na_module_train_step_torch.json"
step torch_bench 150 "$PY" bench/train_step_torch.py --json "$TORCH_JSON" --reps 10
step node_bench 40 node dist/bench/train_step_gpu.js --reps 10 --out "$OUT/h200_bf16_na_module_train_step.json" \
  $([ -f "$TORCH_JSON" ] && echo --torch "$TORCH_JSON")
finish
