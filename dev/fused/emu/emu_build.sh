#!/bin/bash
# Builds dev/fused/emu/emu_check (the fused-backward kernels on the CPU: the mma.sync main and dQ kernels and
# the sm_90a wgmma main pass) into $EMU_DIR (default /tmp/emu): mirrors the kernels/ layout with the emulated
# runtime headers (sm80_mma.h, sm90_wgmma.h, sm90_ws.h, tma_map.h) in place of kernels/runtime's, so the
# kernel headers' #include "../../runtime/..." pick the emulation, and stand-ins for <cuda.h> and
# <cuda_runtime.h>.
# Run: $EMU_DIR/emu_check CASES SEED [wgmma [tma] [persistent CTAS]]
set -e
root=$(cd "$(dirname "$0")/../../.." && pwd)
E=${EMU_DIR:-/tmp/emu}
rm -rf "$E" && mkdir -p "$E/fused/backward" "$E/runtime" "$E/stubs"
ln -s "$root/kernels/common" "$E/common"
cp "$root"/kernels/fused/backward/fna_backward_*.h "$E/fused/backward/"
cp "$root"/kernels/fused/backward/fna_backward_wgmma_{consumer,producer,kernel}.cuh "$E/fused/backward/"
cp "$root"/dev/fused/emu/{sm80_mma.h,sm90_wgmma.h,sm90_ws.h,tma_map.h,cuda_emu.h} "$E/runtime/"
cp "$root"/kernels/runtime/{family_configs.h,device_caps.h,kernel_switches.h,tma_map_shape.h} "$E/runtime/"
cp "$root"/dev/fused/emu/stubs/*.h "$E/stubs/"
cp "$root/dev/fused/emu/cuda_emu.h" "$E/stubs/"
cp "$root/dev/fused/emu/cuda_emu.h" "$root/dev/fused/emu/emu_check.cc" "$E/fused/backward/"
g++ -std=c++20 -O2 -fno-strict-aliasing -pthread -Wall -Wno-unknown-pragmas -Wno-unused-variable \
  -I"$E/stubs" -I"$E/fused/backward" "$E/fused/backward/emu_check.cc" -o "$E/emu_check"
echo built "$E/emu_check"
