#!/bin/bash
# Builds wip/emu/emu_check (the fused-backward kernels on the CPU) into /tmp/emu: copies the kernel headers
# next to the emulated sm80_mma.h so their #include "sm80_mma.h" picks the emulation.
set -e
root=$(cd "$(dirname "$0")/../../../.." && pwd)
rm -rf /tmp/emu && mkdir -p /tmp/emu/fused
ln -s "$root/kernels/common" /tmp/emu/common
ln -s "$root/kernels/launch" /tmp/emu/launch
for f in fna_backward_kv.h fna_backward_dq.h fna_backward_tile.h fna_backward_params.h fna_backward_configs.h tile_window.h; do
  cp "$root/kernels/fused/$f" /tmp/emu/fused/
done
cp "$root/kernels/fused/wip/emu/sm80_mma.h" "$root/kernels/fused/wip/emu/cuda_emu.h" "$root/kernels/fused/wip/emu/emu_check.cc" /tmp/emu/fused/
g++ -std=c++20 -O2 -pthread -Wall -Wno-unknown-pragmas -Wno-unused-variable -I/tmp/emu/fused /tmp/emu/fused/emu_check.cc -o /tmp/emu/emu_check
echo built /tmp/emu/emu_check
