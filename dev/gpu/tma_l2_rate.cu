// How many bytes per second TMA tensor copies move from L2 into shared memory on one card, with the boxes the
// 'wgmma-ws' forward loads: the question is whether the 3-D kernel (0.87 GB of Q, K/V tiles and O in 0.286 ms,
// 3.0 TB/s, bench/NOTES.md) is near what the card can move, in which case only fewer bytes per query make it
// faster (it is not: about half).
// One thread per CTA keeps `stages` boxes of 16 KB in flight (a ring of mbarriers, as the kernel's producer),
// so the figure is the copy engines' and L2's rate, not a latency. Boxes:
//   plane  1 x 8 x 16 tokens x 64 columns of a [1, 16, 32, 32, H 16, D 64] bf16 tensor (the 3-D benchmark
//          problem's KV tile: 128 rows of 128 bytes, 2 KB apart), at random tile origins within one head at a
//          time (the CTAs of the kernel work on one head's 128 Q tiles at once, 4 MB of K and V), all heads
//          in turn;
//   linear 128 consecutive rows of 128 bytes of the same buffer (16 KB contiguous), for comparison.
// The buffer (32 MB) fits in L2 (50 MB): a warm-up pass loads it, the timed pass reads L2.
//   nvcc -O3 -arch=sm_90a -std=c++17 -I. -o /tmp/tma_l2_rate dev/gpu/tma_l2_rate.cu kernels/runtime/tma_map.cu &&
//   /tmp/tma_l2_rate
#include <cuda.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "kernels/runtime/sm90_ws.h"
#include "kernels/runtime/tma_map.h"

using namespace natten::fused;

constexpr int kBoxBytes = 16384;
constexpr int kHeads = 16;

static void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}
__device__ __forceinline__ uint32_t mix(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  return x ^ (x >> 16);
}

/// Thread 0 of each CTA copies `iters` boxes through a ring of `stages` buffers; the others only wait at the end.
/// plane: the 5-D map of 1x8x16-token boxes; else the 4-D map of 128 contiguous rows.
__global__ void __launch_bounds__(128, 1)
    copy_boxes(const __grid_constant__ CUtensorMap map, int plane, int stages, int iters, int rows, unsigned* sink) {
  extern __shared__ __align__(1024) uint8_t smem[];
  // The 128-byte swizzle repeats every 1024 bytes: boxes start on 1024-byte boundaries (the launch adds 1 KB).
  const uint32_t base = (static_cast<uint32_t>(__cvta_generic_to_shared(smem)) + 1023u) & ~1023u;
  const uint32_t bars = base + uint32_t(stages) * kBoxBytes;
  if (threadIdx.x == 0) {
    for (int s = 0; s < stages; ++s) mbar_init(bars + 8u * s, 1);
    mbar_init_fence();
    for (int i = 0; i < iters; ++i) {
      const int s = i % stages;
      const uint32_t bar = bars + 8u * s;
      if (i >= stages) mbar_wait(bar, uint32_t((i / stages - 1) & 1));
      mbar_arrive_expect_tx(bar, kBoxBytes);
      const uint32_t r = mix(blockIdx.x * 2654435761u + uint32_t(i));
      if (plane) {
        // One head at a time across the pass (all CTAs together), tile origins anywhere in it.
        const int head = int(int64_t(i) * kHeads / iters);
        tma_load_5d(base + uint32_t(s) * kBoxBytes, &map, bar, 0, head, int(r % 17u), int((r >> 8) % 25u),
                    int((r >> 16) % 16u));
      } else {
        tma_load_4d(base + uint32_t(s) * kBoxBytes, &map, bar, 0, 0, int(r % uint32_t(rows - 128)), 0);
      }
    }
    for (int i = iters - stages; i < iters; ++i) mbar_wait(bars + 8u * (i % stages), uint32_t((i / stages) & 1));
    sink[blockIdx.x] =
        smem[base - static_cast<uint32_t>(__cvta_generic_to_shared(smem))];  // keeps the copies observable
  }
  __syncthreads();
}

int main() {
  int dev = 0, sms = 0, clock_khz = 0;
  check(cudaSetDevice(dev), "cudaSetDevice");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "SM count");
  check(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, dev), "clock");
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, dev), "properties");
  const int64_t l0 = 16, l1 = 32, l2 = 32, d = 64;
  const int64_t elems = l0 * l1 * l2 * kHeads * d, bytes = elems * 2;
  void* buf = nullptr;
  unsigned* sink = nullptr;
  check(cudaMalloc(&buf, bytes), "cudaMalloc");
  check(cudaMemset(buf, 0x3c, bytes), "cudaMemset");
  check(cudaMalloc(&sink, sizeof(unsigned) * 4 * sms), "cudaMalloc sink");

  // The maps as the kernel encodes them (kernels/runtime/tma_map.cu): the 3-D problem's K map with its 1x8x16
  // box (5-D: D, H, Z, Y, X), and the same buffer as a 1-D tensor of one head with 128-row boxes (4-D).
  CUtensorMap plane_map{}, linear_map{};
  const int rows = int(elems / d);
  {
    const int64_t extent[3] = {l0, l1, l2};
    const int box[3] = {1, 8, 16};
    if (!natten::gpu::encode_tma_map(plane_map, natten::DType::BFloat16, buf, d, kHeads, 3, extent, 1, box)) {
      std::fprintf(stderr, "encode plane map failed (no driver encoder?)\n");
      return 1;
    }
  }
  {
    const int64_t extent[1] = {rows};
    const int box[1] = {128};
    if (!natten::gpu::encode_tma_map(linear_map, natten::DType::BFloat16, buf, d, 1, 1, extent, 1, box)) {
      std::fprintf(stderr, "encode linear map failed\n");
      return 1;
    }
  }

  cudaEvent_t t0, t1;
  check(cudaEventCreate(&t0), "event");
  check(cudaEventCreate(&t1), "event");
  std::printf("{\"device\": \"%s\", \"sms\": %d, \"rated_clock_mhz\": %d, \"rows\": [\n", prop.name, sms,
              clock_khz / 1000);
  const int iters = 4096;
  bool first = true;
  for (int plane = 1; plane >= 0; --plane)
    for (int per_sm = 1; per_sm <= 2; ++per_sm)
      for (int stages : {2, 4, 6, 8}) {
        const size_t smem = size_t(stages) * kBoxBytes + 8 * stages + 1024;
        if (per_sm * smem > size_t(prop.sharedMemPerMultiprocessor) - 2048) continue;
        check(cudaFuncSetAttribute(copy_boxes, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)), "smem");
        const int ctas = sms * per_sm;
        const CUtensorMap& map = plane ? plane_map : linear_map;
        copy_boxes<<<ctas, 128, smem>>>(map, plane, stages, iters, rows, sink);  // warm-up: the buffer into L2
        check(cudaGetLastError(), "launch");
        float best = 1e30f;
        for (int rep = 0; rep < 5; ++rep) {
          check(cudaEventRecord(t0), "record");
          copy_boxes<<<ctas, 128, smem>>>(map, plane, stages, iters, rows, sink);
          check(cudaEventRecord(t1), "record");
          check(cudaEventSynchronize(t1), "sync");
          float ms = 0.f;
          check(cudaEventElapsedTime(&ms, t0, t1), "elapsed");
          if (ms < best) best = ms;
        }
        const double moved = double(ctas) * iters * kBoxBytes;
        std::printf(
            "%s  {\"box\": \"%s\", \"ctas_per_sm\": %d, \"stages\": %d, \"ms\": %.3f, \"tb_per_s\": %.2f, "
            "\"bytes_per_clock_per_sm\": %.1f}",
            first ? "" : ",\n", plane ? "plane 1x8x16 x 64 (rows 2 KB apart)" : "linear 128 rows", per_sm, stages, best,
            moved / (best * 1e-3) / 1e12, moved / (best * 1e-3) / (clock_khz * 1e3) / sms);
        first = false;
      }
  std::printf("\n]}\n");
  check(cudaDeviceSynchronize(), "sync");
  return 0;
}
