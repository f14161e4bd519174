#!/usr/bin/env bash
# GPU check of the optimizers and GradScaler (run from the repository root on a machine with a GPU; results
# under $OUT): builds the CUDA addon, runs the optimizer tests on both devices (NATTEN_REQUIRE_GPU=1: a
# missing GPU fails), the CUDA multi-tensor kernels under compute-sanitizer memcheck, and (when PyTorch with
# CUDA is installed) replays PyTorch's SGD/AdamW trajectories with natten. Progress lines go to progress.log.
#   source .device/gpu-env.sh && bash dev/gpu/optim_check.sh
# What to look for: tests.log all passed (test/cuda_optim.test.ts ran, none skipped); sanitizer.log
# "ERROR SUMMARY: 0 errors"; torch.log ends with "PASS optim matches PyTorch" (each case <= 1e-5).
set -uo pipefail
OUT="${OUT:-/tmp/optim_check_out}"
mkdir -p "$OUT"
say() { echo "$(date +%H:%M:%S) $*" | tee -a "$OUT/progress.log"; }
BUILD="${NATTEN_BUILD_DIR:-/tmp/b}"
source "$(dirname "$0")/fresh_build.sh" && fresh_build_dir "$BUILD"
say "build start"
NATTEN_CUDA_ARCHS="${NATTEN_CUDA_ARCHS:-90a}" NATTEN_CUDA=1 NATTEN_BUILD_DIR="$BUILD" npm run build:native >"$OUT/build.log" 2>&1 ||
  { say "build FAILED (build.log)"; exit 1; }
export NATTEN_ADDON_PATH="$BUILD/Release/natten.node"
npx tsc -p tsconfig.json || { say "tsc FAILED"; exit 1; }
say "build done: $(node -e "console.log(JSON.stringify(require('./dist/lib').buildInfo()))")"
NATTEN_REQUIRE_GPU=1 npx jest test/cuda_optim.test.ts test/optim.test.ts >"$OUT/tests.log" 2>&1
say "tests rc=$? ($(grep -E '^Tests:' "$OUT/tests.log"))"
if command -v compute-sanitizer >/dev/null; then
  NATTEN_REQUIRE_GPU=1 compute-sanitizer --tool memcheck --error-exitcode 3 \
    npx jest test/cuda_optim.test.ts -t 'more parameters|matches the CPU engine' >"$OUT/sanitizer.log" 2>&1
  say "memcheck rc=$? ($(grep -m1 'ERROR SUMMARY' "$OUT/sanitizer.log"))"
else
  say "compute-sanitizer not found: memcheck skipped"
fi
if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  python3 dev/gpu/optim_torch.py "$OUT/optim_torch.json" && node dist/dev/gpu/optim_torch.js "$OUT/optim_torch.json" >"$OUT/torch.log" 2>&1
  say "torch replay rc=$? ($(tail -1 "$OUT/torch.log"))"
else
  say "PyTorch with CUDA not found: replay skipped"
fi
say "done"
