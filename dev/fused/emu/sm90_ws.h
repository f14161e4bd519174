// CPU emulation of kernels/runtime/sm90_ws.h (same names and semantics), for dev/fused/emu/emu_check.cc:
// mbarriers (arrival counts, transaction bytes, phase parity), named barriers, TMA tensor copies from the
// emulated maps of tma_map.h (out-of-bounds zeros, 128-byte swizzle), TMA bulk reductions (at once, under
// the atomic lock). cp.async copies land at issue, so their mbarrier arrivals are plain arrivals.
#pragma once
#include <stdint.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

#include "cuda_emu.h"
#include "sm90_wgmma.h"
#include "tma_map.h"

namespace natten::fused {
namespace emu90 {

struct Mbar {
  uint32_t count = 0, pending = 0;
  int64_t tx = 0;
  uint64_t phases = 0;  // completed phases
};
inline std::mutex g_mutex;
inline std::condition_variable g_cv;
inline std::map<uint32_t, Mbar> g_mbar;

struct NamedBar {
  int count = 0, arrived = 0;
  uint64_t generation = 0;
};
inline std::map<uint32_t, NamedBar> g_named;

inline Mbar& mbar(uint32_t bar) {
  auto it = g_mbar.find(bar);
  if (it == g_mbar.end()) {
    fprintf(stderr, "mbarrier at %u used before mbarrier.init\n", bar);
    abort();
  }
  return it->second;
}
/// Completes the phase when every arrival and every transaction byte is in (lock held).
inline void settle(Mbar& m) {
  if (m.pending == 0 && m.tx == 0) {
    ++m.phases;
    m.pending = m.count;
    g_cv.notify_all();
  }
}
inline void arrive(uint32_t bar, int64_t expect) {
  emu::jitter();
  std::lock_guard<std::mutex> lock(g_mutex);
  Mbar& m = mbar(bar);
  m.tx += expect;
  if (m.pending == 0) {
    fprintf(stderr, "mbarrier at %u: more arrivals than its count\n", bar);
    abort();
  }
  --m.pending;
  settle(m);
}
inline void complete_tx(uint32_t bar, int64_t bytes) {
  std::lock_guard<std::mutex> lock(g_mutex);
  Mbar& m = mbar(bar);
  m.tx -= bytes;
  settle(m);
}

}  // namespace emu90

inline void mbar_init(uint32_t bar, uint32_t count) {
  std::lock_guard<std::mutex> lock(emu90::g_mutex);
  emu90::g_mbar[bar] = emu90::Mbar{count, count, 0, 0};
}
inline void mbar_init_fence() {}
inline void mbar_arrive(uint32_t bar) { emu90::arrive(bar, 0); }
inline void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) { emu90::arrive(bar, bytes); }
inline void mbar_expect_tx(uint32_t bar, uint32_t bytes) {
  std::lock_guard<std::mutex> lock(emu90::g_mutex);
  emu90::mbar(bar).tx += bytes;
}
/// Waits until the phase of parity `parity` has completed: the current phase's parity differs.
inline void mbar_wait(uint32_t bar, uint32_t parity) {
  std::unique_lock<std::mutex> lock(emu90::g_mutex);
  emu90::g_cv.wait(lock, [&] { return (emu90::mbar(bar).phases & 1u) != parity; });
}
inline void cp_async_mbar_arrive(uint32_t bar) { emu90::arrive(bar, 0); }
inline void cp_async_wait_all() {}
inline void tma_prefetch(const void*) {}

namespace emu90 {
constexpr int kTmaElem = 2;  // the maps hold 16-bit elements

/// The box of a map of rank `rank` at coordinates c: its element count, after checking the rank and that the
/// shared-memory side (smem) is 1024-byte aligned (128-byte swizzle).
inline int64_t tma_box(const gpu::TmaMapShape& m, int rank, uint32_t smem, const char* what) {
  if (m.rank != rank || smem % 1024 != 0) {
    fprintf(stderr, "TMA %s of rank %d through a map of rank %d, shared memory at %u (1024-byte aligned?)\n", what,
            rank, m.rank, smem);
    abort();
  }
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) n *= m.box[i];
  return n;
}

/// Element e of the box at coordinates c (innermost first): whether it lies inside the tensor, and its byte
/// offset there.
inline bool tma_box_element(const gpu::TmaMapShape& m, const int* c, int rank, int64_t e, int64_t& off) {
  int64_t rest = e;
  bool in = true;
  off = 0;
  for (int i = 0; i < rank; ++i) {
    const int64_t x = c[i] + rest % m.box[i];
    rest /= m.box[i];
    in = in && x >= 0 && x < (int64_t)m.dim[i];
    off += x * (i == 0 ? kTmaElem : (int64_t)m.stride[i - 1]);
  }
  return in;
}

/// A TMA box into shared memory at dst (rows of 128 bytes, swizzled), completing its bytes on bar.
inline void tma_load(uint32_t dst, const void* tmap, uint32_t bar, const int* c, int rank) {
  emu::jitter();
  const gpu::EmuTensorMap& map = *static_cast<const gpu::EmuTensorMap*>(tmap);
  const int64_t n = tma_box(map.shape, rank, dst, "load");
  for (int64_t e = 0; e < n; ++e) {
    int64_t off = 0;
    unsigned char* to = emu::g_cta.smem + swizzle128(dst + (uint32_t)(e * kTmaElem));
    if (tma_box_element(map.shape, c, rank, e, off))
      memcpy(to, static_cast<const unsigned char*>(map.base) + off, kTmaElem);
    else memset(to, 0, kTmaElem);
  }
  complete_tx(bar, n * kTmaElem);
}

/// A TMA box from shared memory at src (rows of 128 bytes, swizzled) into the tensor: elements outside it are
/// not written. At once (the bulk group's waits have nothing left to wait for).
inline void tma_store(const void* tmap, uint32_t src, const int* c, int rank) {
  emu::jitter();
  const gpu::EmuTensorMap& map = *static_cast<const gpu::EmuTensorMap*>(tmap);
  const int64_t n = tma_box(map.shape, rank, src, "store");
  unsigned char* base = static_cast<unsigned char*>(const_cast<void*>(map.base));
  std::lock_guard<std::mutex> lock(emu::g_atomic_mutex);
  for (int64_t e = 0; e < n; ++e) {
    int64_t off = 0;
    if (tma_box_element(map.shape, c, rank, e, off))
      memcpy(base + off, emu::g_cta.smem + swizzle128(src + (uint32_t)(e * kTmaElem)), kTmaElem);
  }
}
}  // namespace emu90

inline void tma_store_4d(const void* tmap, uint32_t src, int c0, int c1, int c2, int c3) {
  const int c[4] = {c0, c1, c2, c3};
  emu90::tma_store(tmap, src, c, 4);
}
inline void tma_store_5d(const void* tmap, uint32_t src, int c0, int c1, int c2, int c3, int c4) {
  const int c[5] = {c0, c1, c2, c3, c4};
  emu90::tma_store(tmap, src, c, 5);
}
inline void tma_load_4d(uint32_t dst, const void* tmap, uint32_t bar, int c0, int c1, int c2, int c3) {
  const int c[4] = {c0, c1, c2, c3};
  emu90::tma_load(dst, tmap, bar, c, 4);
}
inline void tma_load_5d(uint32_t dst, const void* tmap, uint32_t bar, int c0, int c1, int c2, int c3, int c4) {
  const int c[5] = {c0, c1, c2, c3, c4};
  emu90::tma_load(dst, tmap, bar, c, 5);
}

inline void bulk_reduce_add_f32(float* dst, uint32_t src, uint32_t bytes) {
  require_aligned((uint64_t)(uintptr_t)dst, 16, "bulk reduction global");
  require_aligned(src, 16, "bulk reduction shared");
  std::lock_guard<std::mutex> lock(emu::g_atomic_mutex);
  const float* s = reinterpret_cast<const float*>(emu::g_cta.smem + src);
  for (uint32_t i = 0; i < bytes / 4; ++i) dst[i] += s[i];
}
inline void bulk_commit() {}
template <int N>
inline void bulk_wait_read() {}
template <int N>
inline void bulk_wait() {}

template <int Count>
inline void named_sync(uint32_t id) {
  std::unique_lock<std::mutex> lock(emu90::g_mutex);
  emu90::NamedBar& b = emu90::g_named[id];
  b.count = Count;
  const uint64_t gen = b.generation;
  if (++b.arrived == Count) {
    b.arrived = 0;
    ++b.generation;
    emu90::g_cv.notify_all();
    return;
  }
  emu90::g_cv.wait(lock, [&] { return b.generation != gen; });
}
template <int Count>
inline void named_arrive(uint32_t id) {
  std::lock_guard<std::mutex> lock(emu90::g_mutex);
  emu90::NamedBar& b = emu90::g_named[id];
  b.count = Count;
  if (++b.arrived == Count) {
    b.arrived = 0;
    ++b.generation;
    emu90::g_cv.notify_all();
  }
}

template <int N>
inline void regs_dec() {}
template <int N>
inline void regs_inc() {}

}  // namespace natten::fused
