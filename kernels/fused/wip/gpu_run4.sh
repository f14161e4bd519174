#!/bin/bash
# Fourth GPU session of the fused forward (wgmma kernels): harness build for sm_90a, correctness sweep over
# every compiled config (mma.sync and wgmma), A/B benchmark, sanitizers on small cases, SASS counts.
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
B=/tmp/ffb; mkdir -p $B
exec > >(tee -a $OUT/run.log) 2>&1
T0=$(date +%s); t() { echo "== $1 at $(( $(date +%s) - T0 )) s"; }
F="-arch=sm_90a -O3 -std=c++17 --expt-relaxed-constexpr -lineinfo -I."
pids=""
for d in 1 2 3; do nvcc $F -c kernels/fused/forward_${d}d.cu -o $B/f$d.o -Xptxas -v > $B/ptxas$d.log 2>&1 & pids="$pids $!"; done
nvcc $F -c kernels/fused/forward.cu -o $B/fwd.o & pids="$pids $!"
nvcc $F -c kernels/fused/wip/check_forward.cu -o $B/chk.o & pids="$pids $!"
wait $pids
nvcc -arch=sm_90a $B/chk.o $B/fwd.o $B/f1.o $B/f2.o $B/f3.o -o $B/check || echo HARNESS BUILD FAILED
t "harness built"
grep -hE "Compiling|spill|Used" $B/ptxas*.log | paste - - - | grep "Li90E" | sed -E 's/.*forward_kernelINS0_9TileShapeI(.*)EEEvNS0_13ForwardParamsE.* ([0-9]+) bytes stack frame, ([0-9]+) bytes spill stores.*Used ([0-9]+) registers.*/\1 stack \2 spill \3 regs \4/' > $OUT/ptxas_wgmma.txt
cat $OUT/ptxas_wgmma.txt
grep -i "serializ" $B/ptxas*.log | head -3
timeout 60 $B/check check ${CASES:-600} ${SEED:-5} > $OUT/check.log 2>&1; echo "check rc $?"
grep -c "^ok" $OUT/check.log; grep "FAIL" $OUT/check.log | head -20; tail -3 $OUT/check.log
t "check done"
timeout 60 $B/check bench $OUT/fused_bench.json | tee $OUT/bench.log | grep -v "^$"
t "bench done"
timeout 40 compute-sanitizer --tool memcheck --print-limit 5 $B/check small 6 13 | tail -2
timeout 30 compute-sanitizer --tool racecheck --racecheck-report hazard --print-limit 5 $B/check small 3 14 | tail -2
for d in 1 2 3; do cuobjdump --dump-sass $B/f$d.o > $B/sass$d.txt; echo "forward_${d}d: HMMA $(grep -c HMMA $B/sass$d.txt) HGMMA $(grep -c HGMMA $B/sass$d.txt) LDL/STL $(grep -cE '\b(LDL|STL)\b' $B/sass$d.txt)"; done
t "all done"
# Where the spills of the wgmma tier-64 kernels sit (line numbers in the SASS of each function).
python3 - <<'PY'
import re
for d in (1, 2, 3):
    s = open(f'/tmp/ffb/sass{d}.txt').read()
    for f in s.split('Function : ')[1:]:
        name = f.split('\n', 1)[0]
        if 'Li90' not in name: continue
        lines = f.split('\n')
        sp = [i for i, l in enumerate(lines) if re.search(r'\b(LDL|STL)', l)]
        hg = [i for i, l in enumerate(lines) if 'HGMMA' in l]
        print(d, name[40:110], 'lines', len(lines), 'spills at', sp[:12], 'HGMMA', hg[:2], hg[-2:])
PY
