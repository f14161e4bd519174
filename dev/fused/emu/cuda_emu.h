// A tiny CPU emulation of the CUDA features the fused-backward kernels use, so the kernels can be run
// and checked on a machine without a GPU: one std::thread per CUDA thread, std::barrier for
// __syncthreads and for the warp-collective instructions (ldmatrix, mma.sync). cp.async copies at once.
// Slow (context switches at every collective); for small problems only. Not part of the addon build.
#pragma once
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__
#define __shared__
#define __align__(n)
#define __launch_bounds__(...)
#define __grid_constant__

struct EmuIdx {
  unsigned x, y, z;
};
inline thread_local EmuIdx threadIdx{0, 0, 0};
inline thread_local EmuIdx blockIdx{0, 0, 0};
inline thread_local EmuIdx gridDim{1, 1, 1};

struct alignas(8) uint2 {
  unsigned x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

namespace emu {

constexpr int kMaxThreads = 384;  // the sm_90a kernels' three warpgroups

struct Cta {
  int threads = 0;
  std::barrier<>* block = nullptr;
  std::vector<std::barrier<>*> warps;
  std::vector<std::barrier<>*> groups;  // warpgroups (128 threads): the sm_90a wgmma collectives
  unsigned char* smem = nullptr;
};
inline Cta g_cta;
inline std::mutex g_atomic_mutex;

/// EMU_JITTER=1: random short sleeps where a thread hands data to others (copies, arrivals), so orderings a
/// missing wait would expose come up in a few runs instead of almost never.
inline void jitter() {
  static const bool on = [] {
    const char* v = std::getenv("EMU_JITTER");
    return v && v[0] == '1';
  }();
  if (!on) return;
  thread_local uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)std::hash<std::thread::id>{}(std::this_thread::get_id());
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  if (x % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(x % 200));
}

inline void warp_sync() { g_cta.warps[threadIdx.x / 32]->arrive_and_wait(); }
inline void group_sync() { g_cta.groups[threadIdx.x / 128]->arrive_and_wait(); }

/// Runs kernel() for every block of grid (x, y, z) with `threads` threads per block, blocks one after the other.
inline void launch(unsigned gx, unsigned gy, unsigned gz, int threads, unsigned char* smem,
                   const std::function<void()>& kernel) {
  for (unsigned z = 0; z < gz; ++z)
    for (unsigned y = 0; y < gy; ++y)
      for (unsigned x = 0; x < gx; ++x) {
        std::barrier<> block(threads);
        std::vector<std::barrier<>*> warps, groups;
        for (int w = 0; w < threads / 32; ++w) warps.push_back(new std::barrier<>(32));
        for (int w = 0; w < threads / 128; ++w) groups.push_back(new std::barrier<>(128));
        g_cta.threads = threads;
        g_cta.block = &block;
        g_cta.warps = warps;
        g_cta.groups = groups;
        g_cta.smem = smem;
        std::vector<std::thread> th;
        for (int t = 0; t < threads; ++t)
          th.emplace_back([&, t] {
            threadIdx = {(unsigned)t, 0, 0};
            blockIdx = {x, y, z};
            gridDim = {gx, gy, gz};
            kernel();
            // A thread that returns early still takes part in later barriers of its warp/block
            // in CUDA terms it exits; the kernels here only return uniformly, so nothing to do.
          });
        for (auto& t : th) t.join();
        for (auto* w : warps) delete w;
        for (auto* w : groups) delete w;
      }
}

}  // namespace emu

inline void __syncthreads() { emu::g_cta.block->arrive_and_wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::warp_sync(); }

namespace emu {
inline unsigned g_ballot[kMaxThreads / 32][32];
}  // namespace emu
/// Every lane of the warp takes part (the kernels call it with the full mask).
inline unsigned __ballot_sync(unsigned, bool pred) {
  const int w = threadIdx.x / 32, lane = threadIdx.x % 32;
  emu::g_ballot[w][lane] = pred ? 1u : 0u;
  emu::warp_sync();
  unsigned m = 0;
  for (int l = 0; l < 32; ++l) m |= emu::g_ballot[w][l] << l;
  emu::warp_sync();
  return m;
}
/// Every lane of the warp takes part (the kernels call it with the full mask).
inline bool __all_sync(unsigned mask, bool pred) { return __ballot_sync(mask, pred) == 0xffffffffu; }
namespace emu {
inline uint32_t g_shfl[kMaxThreads / 32][32];
}  // namespace emu
/// Every lane of the warp takes part; lane i reads src_lane's value (32-bit, float or int: its bits pass).
template <class T>
inline T __shfl_sync(unsigned, T v, int src_lane) {
  static_assert(sizeof(T) == 4, "32-bit shuffles");
  const int w = threadIdx.x / 32, lane = threadIdx.x % 32;
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  emu::g_shfl[w][lane] = bits;
  emu::warp_sync();
  bits = emu::g_shfl[w][src_lane & 31];
  emu::warp_sync();
  T out;
  std::memcpy(&out, &bits, 4);
  return out;
}
/// Every lane of the warp takes part: __shfl_sync from lane ^ lane_mask.
template <class T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask) {
  return __shfl_sync(mask, v, int(threadIdx.x % 32) ^ lane_mask);
}
[[noreturn]] inline void __trap() {
  std::fprintf(stderr, "emulation: __trap() in block (%u, %u, %u) thread %u\n", blockIdx.x, blockIdx.y, blockIdx.z,
               threadIdx.x);
  std::abort();
}
inline int __ffs(unsigned x) { return x ? __builtin_ctz(x) + 1 : 0; }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }

inline float atomicAdd(float* p, float v) {
  std::lock_guard<std::mutex> lock(emu::g_atomic_mutex);
  const float old = *p;
  *p = old + v;
  return old;
}
