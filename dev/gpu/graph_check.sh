#!/usr/bin/env bash
# GPU check of natten.captureGraph (repo root, GPU machine): builds the CUDA addon, runs the GPU tests of
# graphs, modules, tensor ops and the autotuner (NATTEN_REQUIRE_GPU=1), then the module layer benchmark with
# PyTorch's figure from the same run (bench/na_layer_torch.py), eager and graph-replayed. Output in $OUT:
# progress.log, jest.log, torch.log, module.log, h200_bf16_na_layer_torch.json, h200_bf16_na_module_layer.json.
#   OUT=/some/dir bash dev/gpu/graph_check.sh
set -uo pipefail
OUT=${OUT:?set OUT to the output folder}
mkdir -p "$OUT"
[ -f .device/gpu-env.sh ] && source .device/gpu-env.sh
export NATTEN_CUDA=1 NATTEN_CUDA_ARCHS=${NATTEN_CUDA_ARCHS:-90a} NATTEN_BUILD_DIR=${NATTEN_BUILD_DIR:-/tmp/b}
source "$(dirname "$0")/fresh_build.sh" && fresh_build_dir "$NATTEN_BUILD_DIR"
say() { echo "$(date +%T) $*" >>"$OUT/progress.log"; }
npm run build:native >"$OUT/build.log" 2>&1 || { say "build failed"; exit 1; }
export NATTEN_ADDON_PATH=$NATTEN_BUILD_DIR/Release/natten.node
npx tsc -p tsconfig.json || { say "tsc failed"; exit 1; }
say "built"
NATTEN_REQUIRE_GPU=1 timeout 120 npx jest --ci test/cuda_graph.test.ts test/cuda_nn_modules.test.ts \
  test/cuda_tensor_ops.test.ts test/cuda_autotune.test.ts >"$OUT/jest.log" 2>&1
say "jest rc=$?"
timeout 120 "${PYTHON:-python}" bench/na_layer_torch.py --json "$OUT/h200_bf16_na_layer_torch.json" >"$OUT/torch.log" 2>&1
say "torch rc=$?"
timeout 60 node dist/bench/na_module_gpu.js --torch "$OUT/h200_bf16_na_layer_torch.json" \
  --out "$OUT/h200_bf16_na_module_layer.json" >"$OUT/module.log" 2>&1
say "module bench rc=$?"
