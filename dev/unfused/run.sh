#!/usr/bin/env bash
# Builds and runs the host emulation of the unfused kernels (no GPU needed): run.sh [cases] [seed]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cuda=${CUDA_HOME:-/usr/local/cuda}
out=${TMPDIR:-/tmp}/natten_emulate_unfused
g++ -std=c++20 -O2 -fno-strict-aliasing -Wall -Wno-unused-parameter -Wno-unknown-pragmas -Wno-attributes -I"$root" -I"$cuda/include" \
  "$root/dev/unfused/emulate_unfused.cc" -o "$out" -lpthread
"$out" "$@"
