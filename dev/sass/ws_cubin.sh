#!/bin/bash
# Builds one 'wgmma-ws' forward kernel of the working tree as an sm_90a cubin with the local nvcc (seconds, no
# GPU), for dev/sass/sass_static.ts; prints ptxas's register and spill lines.
#   bash dev/sass/ws_cubin.sh OUT.cubin [Q KV TIER STAGES]     default: the 3-D plane config 3,2,8,8 3,1,8,16 64 4
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$1
q=${2:-3,2,8,8} kv=${3:-3,1,8,16} tier=${4:-64} stages=${5:-4}
nvcc=$(node -e "process.stdout.write(require('$root/scripts/find_nvcc.js').findNvcc() || '')")
[ -n "$nvcc" ] || { echo "ws_cubin.sh: no nvcc (set CUDACXX)"; exit 1; }
# The configuration as #defines in a wrapper (nvcc splits -D values at commas).
src=$(mktemp --suffix=.cu)
trap 'rm -f "$src"' EXIT
printf '#define WS_Q %s\n#define WS_KV %s\n#define WS_TIER %s\n#define WS_STAGES %s\n#include "dev/sass/ws_one.cu"\n' \
  "$q" "$kv" "$tier" "$stages" >"$src"
"$nvcc" -DNATTEN_WITH_CUDA=1 -I"$root" -O3 -DNDEBUG --generate-code=arch=compute_90a,code=[sm_90a] \
  --expt-relaxed-constexpr -std=c++17 -Xptxas -v -cubin -o "$out" "$src" 2>&1 | grep -E "error|registers|spill" || true
[ -s "$out" ]
