#!/bin/bash
# Builds dev/fused/emu/emu_check (the fused-backward kernels on the CPU: the mma.sync main and dQ kernels and
# the sm_90a wgmma main pass) and emu_fwd_check (the fused-forward kernels: mma.sync, window-union, wgmma and wgmma-ws) into $EMU_DIR
# (default /tmp/emu): mirrors the kernels/ layout with the emulated
# runtime headers (sm80_mma.h, sm90_wgmma.h, sm90_ws.h, tma_map.h) in place of kernels/runtime's, so the
# kernel headers' #include "../../runtime/..." pick the emulation, and stand-ins for <cuda.h> and
# <cuda_runtime.h>.
# Run: $EMU_DIR/emu_check CASES SEED [wgmma [tma] [persistent CTAS]]
#      $EMU_DIR/emu_fwd_check CASES SEED [mma|wgmma|wgmma-ws|wgmma-ws-strip|wgmma-ws-plane|mma-union]
set -e
root=$(cd "$(dirname "$0")/../../.." && pwd)
E=${EMU_DIR:-/tmp/emu}
# Copies keep their source's modification time (cp -p): cuda_emu.h lands in several folders, and GCC's
# #pragma once treats two copies as one file only when size, contents and modification time agree (copies
# made across a second boundary were compiled twice: redefinition errors).
rm -rf "$E" && mkdir -p "$E/fused/backward" "$E/fused/forward" "$E/runtime" "$E/stubs"
ln -s "$root/kernels/common" "$E/common"
mkdir -p "$E/kernels" && ln -s "$root/kernels/common" "$E/kernels/common"  # for dev/fused/window_keys.h
cp -p "$root"/kernels/fused/backward/fna_backward_*.h "$E/fused/backward/"
cp -p "$root"/kernels/fused/backward/fna_backward_wgmma_{consumer,producer,kernel}.cuh "$E/fused/backward/"
cp -p "$root"/dev/fused/emu/{sm80_mma.h,sm90_wgmma.h,sm90_ws.h,tma_map.h,cuda_emu.h} "$E/runtime/"
cp -p "$root"/kernels/runtime/{family_configs.h,device_caps.h,kernel_switches.h,tma_map_shape.h} "$E/runtime/"
cp -p "$root"/dev/fused/emu/stubs/*.h "$E/stubs/"
cp -p "$root/dev/fused/emu/cuda_emu.h" "$E/stubs/"
cp -p "$root"/dev/fused/emu/{cuda_emu.h,emu_reference.h,emu_check.cc} "$root/dev/fused/window_keys.h" "$E/fused/backward/"
cp -p "$root"/kernels/fused/forward/{forward_kernel.cuh,forward_union_kernel.cuh,online_softmax.cuh,forward_entries.h} "$E/fused/forward/"
cp -p "$root"/kernels/fused/forward/forward_ws_{kernel,consumer,plan,producer,mask,ring,softmax,walk}.cuh "$E/fused/forward/"
cp -p "$root"/kernels/fused/forward/forward_ws_{params,traits,strip}.h "$root/kernels/fused/forward/forward_ws_tma.cu" "$E/fused/forward/"
cp -p "$root"/dev/fused/emu/{cuda_emu.h,emu_reference.h,emu_fwd_check.cc} "$root/dev/fused/window_keys.h" "$E/fused/forward/"
flags=(-std=c++20 -O2 -fno-strict-aliasing -pthread -Wall -Wno-unknown-pragmas -Wno-unused-variable -I"$E/stubs")
g++ "${flags[@]}" -I"$E/fused/backward" "$E/fused/backward/emu_check.cc" -o "$E/emu_check" &
g++ "${flags[@]}" -I"$E/fused/forward" "$E/fused/forward/emu_fwd_check.cc" -x c++ "$E/fused/forward/forward_ws_tma.cu" \
  -o "$E/emu_fwd_check" &
wait -n && wait -n
echo built "$E/emu_check" "$E/emu_fwd_check"
