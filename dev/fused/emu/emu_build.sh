#!/bin/bash
# Builds dev/fused/emu/emu_check (the fused-backward kernels on the CPU) into $EMU_DIR (default /tmp/emu):
# mirrors the kernels/ layout with the emulated sm80_mma.h in place of kernels/runtime/sm80_mma.h, so the
# kernel headers' #include "../../runtime/sm80_mma.h" picks the emulation.
# Run: $EMU_DIR/emu_check CASES SEED
set -e
root=$(cd "$(dirname "$0")/../../.." && pwd)
E=${EMU_DIR:-/tmp/emu}
rm -rf "$E" && mkdir -p "$E/fused/backward" "$E/runtime"
ln -s "$root/kernels/common" "$E/common"
cp "$root"/kernels/fused/backward/fna_backward_*.h "$E/fused/backward/"
cp "$root/dev/fused/emu/sm80_mma.h" "$root/dev/fused/emu/cuda_emu.h" "$root/kernels/runtime/family_configs.h" "$root/kernels/runtime/device_caps.h" "$E/runtime/"
cp "$root/dev/fused/emu/cuda_emu.h" "$root/dev/fused/emu/emu_check.cc" "$E/fused/backward/"
g++ -std=c++20 -O2 -fno-strict-aliasing -pthread -Wall -Wno-unknown-pragmas -Wno-unused-variable \
  -I"$E/fused/backward" "$E/fused/backward/emu_check.cc" -o "$E/emu_check"
echo built "$E/emu_check"
