#!/bin/bash
# Third (compact) GPU session of the fused-forward engineer: harness build, FlexAttention forward peer,
# correctness sweep, A/B benchmark (registry + 2-stage variants), sanitizers, SASS counts.
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
B=/tmp/ffb; mkdir -p $B
exec > >(tee -a $OUT/run.log) 2>&1
T0=$(date +%s); t() { echo "== $1 at $(( $(date +%s) - T0 )) s"; }
F="-arch=sm_90a -O3 -std=c++17 --expt-relaxed-constexpr -lineinfo -I."
pids=""
for d in 1 2 3; do nvcc $F -c kernels/fused/forward_${d}d.cu -o $B/f$d.o -Xptxas -v > $B/ptxas$d.log 2>&1 & pids="$pids $!"; done
nvcc $F -c kernels/fused/forward.cu -o $B/fwd.o & pids="$pids $!"
nvcc $F -c kernels/fused/wip/check_forward.cu -o $B/chk.o & pids="$pids $!"
PYTHONUNBUFFERED=1 timeout 60 python3 bench/flex_attention.py --runs 20 --json $OUT/flex.json > $B/flex.log 2>&1 &
flex=$!
wait $pids
nvcc -arch=sm_90a $B/chk.o $B/fwd.o $B/f1.o $B/f2.o $B/f3.o -o $B/check || echo HARNESS BUILD FAILED
t "harness built"
grep -hE "Compiling|spill|Used" $B/ptxas*.log | paste - - - | sed -E 's/.*forward_kernelINS0_9TileShapeI(.*)EEEvNS0_13ForwardParamsE.* ([0-9]+) bytes stack frame, ([0-9]+) bytes spill stores.*Used ([0-9]+) registers.*/\1 stack \2 spill \3 regs \4/' > $OUT/ptxas.txt
wait $flex; t "flex done (rc $?)"; grep '^{' $B/flex.log | cut -c1-200
timeout 40 $B/check check 450 3 | tail -8
t "check done"
timeout 40 $B/check bench $OUT/fused_bench.json
t "bench done"
timeout 20 compute-sanitizer --tool memcheck --print-limit 5 $B/check small 6 13 | tail -2
timeout 15 compute-sanitizer --tool racecheck --racecheck-report hazard --print-limit 5 $B/check small 3 14 | tail -2
for d in 1 2 3; do cuobjdump --dump-sass $B/f$d.o > $B/sass$d.txt; echo "forward_${d}d: HMMA $(grep -c HMMA $B/sass$d.txt) LDSM $(grep -c LDSM $B/sass$d.txt) LDGSTS $(grep -c LDGSTS $B/sass$d.txt) LDL/STL $(grep -cE '\b(LDL|STL)\b' $B/sass$d.txt)"; done
t "all done"
