#!/bin/bash
# One GPU-machine session of the fused-forward engineer: build the standalone harness, FlexAttention peer,
# correctness sweep, benchmark, sanitizers, SASS summary. Usage: bash kernels/fused/wip/gpu_run.sh [cases]
CASES=${1:-600}
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
B=/tmp/ffb; mkdir -p $B
LOG=$OUT/run.log
exec > >(tee -a $LOG) 2>&1
nvidia-smi --query-gpu=name,clocks.max.sm,memory.total --format=csv,noheader
T0=$(date +%s)
F="-arch=sm_90a -O3 -std=c++17 --expt-relaxed-constexpr -lineinfo -I."
pids=""
for d in 1 2 3; do nvcc $F -c kernels/fused/forward_${d}d.cu -o $B/f$d.o -Xptxas -v > $B/ptxas$d.log 2>&1 & pids="$pids $!"; done
nvcc $F -c kernels/fused/forward.cu -o $B/fwd.o & pids="$pids $!"
nvcc $F -c kernels/fused/wip/check_forward.cu -o $B/chk.o & pids="$pids $!"
PYTHONUNBUFFERED=1 timeout ${FLEX_TIMEOUT:-140} python3 bench/flex_attention.py --check --backward --runs 20 --json $OUT/flex.json > $OUT/flex.log 2>&1 &
flex=$!
wait $pids
nvcc -arch=sm_90a $B/chk.o $B/fwd.o $B/f1.o $B/f2.o $B/f3.o -o $B/check || { echo BUILD FAILED; cat $B/ptxas*.log | grep -i error; exit 1; }
echo "build done at $(( $(date +%s) - T0 )) s"
cat $B/ptxas*.log | grep -E "spill" | sort | uniq -c
wait $flex; echo "flex done at $(( $(date +%s) - T0 )) s (rc $?)"; cat $OUT/flex.log | grep -v Warning | tail -8
timeout 90 $B/check check $CASES 1 | tail -40
echo "check done at $(( $(date +%s) - T0 )) s"
timeout 60 $B/check bench $OUT/fused_bench.json
echo "bench done at $(( $(date +%s) - T0 )) s"
timeout 40 compute-sanitizer --tool memcheck --print-limit 5 $B/check small 12 7 | tail -6
timeout 30 compute-sanitizer --tool racecheck --racecheck-report hazard --print-limit 5 $B/check small 4 9 | tail -6
echo "sanitizers done at $(( $(date +%s) - T0 )) s"
for d in 1 2 3; do cuobjdump --dump-sass $B/f$d.o > $B/sass$d.txt; echo "forward_${d}d: HMMA $(grep -c HMMA $B/sass$d.txt) LDSM $(grep -c LDSM $B/sass$d.txt) LDGSTS $(grep -c LDGSTS $B/sass$d.txt) local LDL/STL $(grep -cE '\b(LDL|STL)\b' $B/sass$d.txt)"; done
grep -E "registers|spill" $B/ptxas2.log | paste - - | head -16 > $OUT/ptxas_2d.txt
echo "all done at $(( $(date +%s) - T0 )) s"
