#!/bin/bash
# One GPU-machine run of the fused-backward harness: build, sweep, timings, memcheck, ncu.
# Usage (repo root): bash kernels/fused/wip/run_check.sh   (writes into $OUT)
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/o
LOG=$OUT/log.txt
NV="nvcc -std=c++17 -O3 -arch=sm_90a --expt-relaxed-constexpr -lineinfo -I."
t0=$(date +%s)
stamp() { echo "== $1 ($(( $(date +%s) - t0 )) s)" | tee -a $LOG; }
stamp build
$NV -Xptxas -v -c kernels/fused/fna_backward_bf16.cu -o /tmp/o/bf16.o 2> $OUT/ptxas.txt &
$NV -c kernels/fused/fna_backward_f16.cu -o /tmp/o/f16.o &
$NV -c kernels/fused/fna_backward.cu -o /tmp/o/bw.o &
$NV -c kernels/fused/wip/check_backward.cu -o /tmp/o/cb.o &
wait
$NV /tmp/o/bf16.o /tmp/o/f16.o /tmp/o/bw.o /tmp/o/cb.o -o /tmp/cb 2>&1 | tee -a $LOG
cuobjdump --dump-sass /tmp/o/bf16.o > /tmp/o/sass.txt
python3 - <<'PY' | tee -a $LOG
import re
cur=None; counts={}
for line in open('/tmp/o/sass.txt'):
    m=re.search(r'Function : (\S+)',line)
    if m: cur=m.group(1); counts[cur]={'HMMA':0,'LDSM':0,'LDL':0,'STL':0,'RED':0}; continue
    if cur:
        for k in counts[cur]:
            if re.search(r'\b'+k+r'\b|\b'+k+r'\.',line): counts[cur][k]+=1
for f,c in counts.items(): print('sass', f[:70], c)
PY
stamp small
timeout 30 /tmp/cb small 2>&1 | tee -a $LOG
stamp sweep
timeout 95 /tmp/cb sweep 400 2>&1 | tee -a $LOG
stamp bench
ALL_CONFIGS=1 timeout 60 /tmp/cb bench 2>&1 | tee -a $LOG
stamp memcheck
timeout 30 compute-sanitizer --tool memcheck --print-limit 20 /tmp/cb small 2>&1 | tail -25 | tee -a $LOG
stamp ncu
BENCH_MODES=det timeout 25 ncu --section SpeedOfLight --section Occupancy --section LaunchStats -k regex:fna_backward --launch-count 3 /tmp/cb bench 2d_128x128_k13 > $OUT/ncu_det.txt 2>&1
BENCH_MODES=kv timeout 20 ncu --section SpeedOfLight --section Occupancy -k regex:fna_backward_kv --launch-count 1 /tmp/cb bench 2d_128x128_k13 > $OUT/ncu_kv.txt 2>&1
stamp done
