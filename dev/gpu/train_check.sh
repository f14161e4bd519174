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
source dev/gpu/check_steps.sh
check_init train_check
build_all 140 50 || { finish; exit 1; }

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
