#!/bin/bash
# Builds wip/emu/emu_check (the fused-backward kernels on the CPU) into $EMU_DIR (default /tmp/emu): copies
# the kernel headers next to the emulated sm80_mma.h so their #include "sm80_mma.h" picks the emulation.
# Run: $EMU_DIR/emu_check CASES SEED
set -e
root=$(cd "$(dirname "$0")/../../../.." && pwd)
E=${EMU_DIR:-/tmp/emu}
rm -rf "$E" && mkdir -p "$E/fused"
ln -s "$root/kernels/common" "$E/common"
ln -s "$root/kernels/launch" "$E/launch"
for f in fna_backward_kv.h fna_backward_dq.h fna_backward_tile.h fna_backward_params.h fna_backward_configs.h tile_window.h; do
  cp "$root/kernels/fused/$f" "$E/fused/"
done
cp "$root/dev/fused/emu/sm80_mma.h" "$root/dev/fused/emu/cuda_emu.h" "$root/dev/fused/emu/emu_check.cc" "$E/fused/"
g++ -std=c++20 -O2 -fno-strict-aliasing -pthread -Wall -Wno-unknown-pragmas -Wno-unused-variable -I"$E/fused" "$E/fused/emu_check.cc" -o "$E/emu_check"
echo built "$E/emu_check"
