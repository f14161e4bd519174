// Pieces shared by the fused forward and backward passes of the CPU engine: the geometry of a problem,
// the list of work items (blocks of one or two lane vectors) and the packing of one side into rows.
#pragma once
#include <stdint.h>

#include <memory>
#include <vector>

#include "../../kernels/common/problem.h"
#include "host_buffer.h"
#include "na_block.h"
#include "na_geometry.h"
#include "na_pack.h"
#include "vec.h"

namespace natten::cpu::NATTEN_SIMD {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

/// Score vectors a chunk may hold, all vectors of a block together (24 KiB: with the value lines pv reads,
/// the working set stays in L1). Each vector's buffer is sized for the whole budget (a block of one).
constexpr int64_t kChunkBudget = 384;

/// Rows, the innermost axis and its tiles for one relation (keys of queries, or queries of keys).
struct PassGeom {
  AxisGeom xg;
  RowGeom rg;
  int Lx;
  int64_t W;  // packed row width
  std::vector<LaneTile> tiles;
  /// Work items, independent of batch and head: which (row, tile) pairs share a block.
  struct Item {
    int nv;
    int row[kMaxVecs];
    int tile[kMaxVecs];
  };
  std::vector<Item> items;

  PassGeom(const NaProblem& p, Relation rel);
};

/// Packs heads [h0, h0 + nh) of every batch of src into dst[(b * nh + h - h0) * rows + row][C][W],
/// in parallel. dst must hold packed_floats(...) floats: the lines plus one trailing zero vector (the
/// right padding of the last line).
inline int64_t packed_floats(int64_t B, int64_t nh, int64_t rows, int64_t C, int64_t W) {
  return B * nh * rows * C * W + kLanes;
}
void pack_heads(const FusedView& src, int64_t B, int64_t h0, int64_t nh, const PassGeom& g, float scale, float* dst);

/// Packs the additional keys/values [B, n, Hkv, C] into dst[b][hkv][n][C] fp32.
void pack_extra(const void* src, DType t, int64_t B, int64_t n, int64_t Hkv, int64_t C, float* dst);

/// An uninitialised, 64-byte aligned float array (packed copies are fully overwritten: no zero fill).
class FloatBuffer {
 public:
  void resize(int64_t n) {
    if (n <= n_) return;
    buf_ = HostBuffer((size_t)((n + kLanes - 1) / kLanes) * sizeof(vf));
    n_ = n;
  }
  int64_t size() const { return n_; }
  void clear() {
    buf_ = HostBuffer();
    n_ = 0;
  }
  float* data() { return static_cast<float*>(buf_.data()); }
  const float* data() const { return static_cast<const float*>(buf_.data()); }

 private:
  HostBuffer buf_;
  int64_t n_ = 0;
};

/// Packed copies reused from one op to the next: fresh multi-megabyte allocations cost a page fault
/// (and a page clear) per 4 KiB, a sizeable share of a millisecond-scale op. Only the CPU queue's
/// dispatcher thread runs ops, so the slots need no lock; memory above kWorkspaceKeep is released after
/// each op (release_workspace).
FloatBuffer& workspace(int slot);
void release_workspace();
constexpr int kWorkspaceSlots = 8;
constexpr int64_t kWorkspaceKeep = (int64_t)64 << 20;

/// Per-thread scratch of a pass (64-byte aligned), kept by each pool thread between work chunks.
struct Scratch {
  /// The calling thread's scratch, grown to at least `vectors` vectors.
  static Scratch& local(int64_t vectors);
  float* take(int64_t floats, int64_t& used) {
    float* p = buf.data() + used;
    used += (floats + kLanes - 1) / kLanes * kLanes;
    return p;
  }
  FloatBuffer buf;
};

/// Online-softmax step for vector v over the chunk's active score vectors S (log2 units, masked = -inf):
/// raises the running max m, rescales the running sum l and the accumulators acc[ncols][16] (when
/// rescale is set), and overwrites S with exp2(S - m).
void online_softmax(const Block& b, const Chunk& ch, int v, float* S, vf& m, vf& l, float* acc, int64_t ncols,
                    bool rescale);
/// The same over n contiguous score vectors (the additional keys).
void online_softmax(float* S, int64_t n, vf& m, vf& l, float* acc, int64_t ncols, bool rescale);

}  // namespace natten::cpu::NATTEN_SIMD
