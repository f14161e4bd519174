#!/bin/bash
# One GPU-machine run of the fused-backward harness: FlexAttention backward peer (background), build,
# correctness sweep, racecheck, timings, memcheck, ncu. Usage (repo root): bash dev/fused/run_check.sh
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/o
LOG=$OUT/log.txt
NV="nvcc -std=c++17 -O3 -arch=sm_90a --expt-relaxed-constexpr -lineinfo -I."
t0=$(date +%s)
stamp() { echo "== $1 ($(( $(date +%s) - t0 )) s)" | tee -a $LOG; }
nvidia-smi --query-gpu=name,clocks.max.sm,memory.total --format=csv,noheader | tee -a $LOG
PYTHONUNBUFFERED=1 timeout ${FLEX_TIMEOUT:-170} python3 bench/flex_attention.py --backward --runs 10 \
  --json $OUT/flex.json > $OUT/flex.log 2>&1 &
flex=$!
stamp build
$NV -Xptxas -v -c kernels/fused/backward/fna_backward_bf16.cu -o /tmp/o/bf16.o 2> $OUT/ptxas.txt &
$NV -c kernels/fused/backward/fna_backward_f16.cu -o /tmp/o/f16.o &
$NV -c kernels/fused/backward/fna_backward.cu -o /tmp/o/bw.o &
$NV -c dev/fused/check_backward.cu -o /tmp/o/cb.o &
$NV -c kernels/runtime/device_caps.cu -o /tmp/o/caps.o &
wait $(jobs -p | grep -v "^$flex$")
$NV /tmp/o/bf16.o /tmp/o/f16.o /tmp/o/bw.o /tmp/o/cb.o /tmp/o/caps.o -o /tmp/cb 2>&1 | tee -a $LOG
cuobjdump --dump-sass /tmp/o/bf16.o > /tmp/o/sass.txt
python3 - <<'PY' | tee -a $LOG
import re
cur=None; counts={}
for line in open('/tmp/o/sass.txt'):
    m=re.search(r'Function : (\S+)',line)
    if m: cur=m.group(1); counts[cur]={'HMMA':0,'LDSM':0,'LDL':0,'STL':0,'REDG':0,'MUFU.EX2':0}; continue
    if cur:
        for k in counts[cur]:
            if k in line: counts[cur][k]+=1
for f,c in counts.items(): print('sass', re.sub(r'_ZN6natten5fused\d+','',f)[:48], c)
PY
grep -E "registers|spill" $OUT/ptxas.txt | paste - - | sed 's/ptxas info    ://g' | head -20 >> $LOG
stamp sweep
timeout 70 /tmp/cb sweep 1200 424242 2>&1 | tee -a $LOG
stamp small
timeout 20 /tmp/cb small 2>&1 | tail -4 | tee -a $LOG
stamp racecheck
timeout 45 compute-sanitizer --tool racecheck --racecheck-report hazard --print-limit 10 /tmp/cb small 2>&1 | tail -6 | tee -a $LOG
stamp wait-flex
wait $flex; echo "flex rc $?" | tee -a $LOG
grep -v Warning $OUT/flex.log | tail -7 | tee -a $LOG
stamp bench
ALL_CONFIGS=1 timeout 60 /tmp/cb bench 2>&1 | tee -a $LOG
stamp memcheck
timeout 25 compute-sanitizer --tool memcheck --print-limit 10 /tmp/cb small 2>&1 | tail -3 | tee -a $LOG
stamp ncu
BENCH_MODES=kv timeout 25 ncu --section SpeedOfLight --section Occupancy --section WarpStateStats --section InstructionStats \
  -k regex:fna_backward_kv --launch-count 1 /tmp/cb bench 2d_128x128_k13 > $OUT/ncu_kv.txt 2>&1
stamp done
