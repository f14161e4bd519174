#!/bin/bash
# Third GPU session of the fused-forward engineer: harness (correctness, sanitizers, bench, ncu), the
# FlexAttention peer, the addon build + jest test + bench/cuda_fused.ts. Usage: bash kernels/fused/wip/gpu_run3.sh
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
B=/tmp/ffb; mkdir -p $B
exec > >(tee -a $OUT/run.log) 2>&1
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
T0=$(date +%s); t() { echo "== $1 at $(( $(date +%s) - T0 )) s"; }
F="-arch=sm_90a -O3 -std=c++17 --expt-relaxed-constexpr -lineinfo -I."
pids=""
for d in 1 2 3; do nvcc $F -c kernels/fused/forward_${d}d.cu -o $B/f$d.o -Xptxas -v > $B/ptxas$d.log 2>&1 & pids="$pids $!"; done
nvcc $F -c kernels/fused/forward.cu -o $B/fwd.o & pids="$pids $!"
nvcc $F -c kernels/fused/wip/check_forward.cu -o $B/chk.o & pids="$pids $!"
( source .device/gpu-env.sh >/dev/null 2>&1 && export NATTEN_CUDA_ARCHS=90a NATTEN_BUILD_DIR=/tmp/b && npm run build:native > $B/addon.log 2>&1 && npx tsc -p tsconfig.json > $B/tsc.log 2>&1; echo "addon+tsc rc $?" >> $B/addon.log ) &
addon=$!
PYTHONUNBUFFERED=1 timeout 90 python3 bench/flex_attention.py --runs 20 --json $OUT/flex.json > $B/flex.log 2>&1 &
flex=$!
wait $pids
nvcc -arch=sm_90a $B/chk.o $B/fwd.o $B/f1.o $B/f2.o $B/f3.o -o $B/check || { echo HARNESS BUILD FAILED; }
t "harness built"
grep -hE "Compiling|spill|Used" $B/ptxas*.log | paste - - - | sed -E 's/.*forward_kernelINS0_9TileShapeI(.*)EEEvNS0_13ForwardParamsE.* ([0-9]+) bytes stack frame, ([0-9]+) bytes spill stores.*Used ([0-9]+) registers.*/\1 stack \2 spill \3 regs \4/' > $OUT/ptxas.txt
wait $flex; t "flex done (rc $?)"; grep -v "Warning\|warn\|^ *$\|SOLUTION\|If you want\|_FLEX\|This will allow" $B/flex.log | cut -c1-400 | tail -8
timeout 60 $B/check check 700 3 | tail -12
t "check done"
timeout 60 $B/check bench $OUT/fused_bench.json
t "bench done"
timeout 30 compute-sanitizer --tool memcheck --print-limit 5 $B/check small 8 13 | tail -3
timeout 25 compute-sanitizer --tool racecheck --racecheck-report hazard --print-limit 5 $B/check small 3 14 | tail -3
t "sanitizers done"
for d in 1 2 3; do cuobjdump --dump-sass $B/f$d.o > $B/sass$d.txt; echo "forward_${d}d: HMMA $(grep -c HMMA $B/sass$d.txt) LDSM $(grep -c LDSM $B/sass$d.txt) LDGSTS $(grep -c LDGSTS $B/sass$d.txt) LDL/STL $(grep -cE '\b(LDL|STL)\b' $B/sass$d.txt)"; done
wait $addon; tail -2 $B/addon.log; grep -iE "error|warning" $B/addon.log | head -5
if grep -q "addon+tsc rc 0" $B/addon.log; then
  source .device/gpu-env.sh >/dev/null 2>&1
  NATTEN_ADDON_PATH=/tmp/b/Release/natten.node NATTEN_REQUIRE_GPU=1 timeout 100 npx jest test/cuda_fused_forward.test.ts > $OUT/test.log 2>&1; echo "jest rc $?"; tail -25 $OUT/test.log | cut -c1-300
  t "jest done"
  NATTEN_ADDON_PATH=/tmp/b/Release/natten.node timeout 60 node dist/bench/cuda_fused.js --runs 20 --flex $OUT/flex.json --out $OUT/cuda_fused.json
fi
t "all done"
