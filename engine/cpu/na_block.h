// A work item of the CPU engine: up to four 16-lane vectors of the tile side (queries in the forward
// pass and dQ, keys in dK/dV) against the rows of the other side they relate to. The other side is
// packed: one matrix [depth][W] per packed row, columns shifted by kPad so the sliding loads of edge
// lanes stay inside the buffer. Scores of a chunk (a range of other-side rows and of columns) live in a
// small per-thread buffer; nothing of the size of the attention matrix is ever stored.
#pragma once
#include <stdint.h>

#include <vector>

#include "na_geometry.h"
#include "na_kernels.h"
#include "vec.h"

namespace natten::cpu::NATTEN_SIMD {

/// Zero columns before each packed line. A lane tile reads columns [base, base + E + 15) with
/// base >= -15 and base + E <= L (see plan_lane_tiles): the left overhang lands in the line's own
/// padding, the right one in the next line's padding (lines are contiguous; the buffer ends with one).
constexpr int kPad = 16;

/// Floats per packed line of an axis of length L: the padding plus L rounded up to whole vectors.
inline int64_t packed_width(int L) { return kPad + ((int64_t)L + 15) / 16 * 16; }

struct BlockVec {
  int row = 0;  // packed row of the tile side
  const LaneTile* tile = nullptr;
};

/// Up to kMaxVecs vectors and the other-side rows related to any of them; act[i] bit v: rows[i] relates
/// to vector v.
struct Block {
  int nv = 0;
  BlockVec v[kMaxVecs];
  std::vector<int> rows;
  std::vector<uint8_t> act;
};

/// Fills b.rows / b.act: the union of the other-side rows of the block's vectors (tmp: scratch).
void block_rows(const RowGeom& rg, Relation rel, Block& b, std::vector<int>& tmp);

/// A run of columns [c0, c1) of other-side row index i that vectors [first, first + count) all read.
struct Segment {
  int i;
  int c0, c1;
  int first, count;
};

/// A range [r0, r1) of Block::rows and [c0, c1) of absolute columns. Vector v's scores for the chunk
/// are a buffer of (r1 - r0) x n[v] vectors: entry (i, o) holds offset o_lo[v] + o of row rows[r0 + i].
struct Chunk {
  std::vector<Segment> segs;  // filled by plan_chunks, grouped by vector subset
  /// segs[subset_begin[k], subset_begin[k + 1]) read vectors [k / kMaxVecs, k / kMaxVecs + k % kMaxVecs + 1).
  int subset_begin[kMaxVecs * kMaxVecs + 1] = {};
  int r0 = 0, r1 = 0;
  int c0 = 0, c1 = 0;
  int base[kMaxVecs] = {};
  int o_lo[kMaxVecs] = {};
  int n[kMaxVecs] = {};
  /// Float offset of (row index i of Block::rows, absolute column c) in vector v's buffer.
  int64_t at(int v, int i, int c) const { return ((int64_t)(i - r0) * n[v] + (c - base[v] - o_lo[v])) * kLanes; }
  int64_t vectors(int v) const { return (int64_t)(r1 - r0) * n[v]; }
};

/// Calls fn(first score vector offset in floats, count) for each row of the chunk that relates to vector v.
template <class Fn>
void for_active_rows(const Block& b, const Chunk& ch, int v, Fn fn) {
  if (ch.n[v] == 0) return;
  for (int i = ch.r0; i < ch.r1; ++i)
    if (b.act[i] >> v & 1) fn((int64_t)(i - ch.r0) * ch.n[v] * kLanes, (int64_t)ch.n[v]);
}

/// Splits the block's other side into chunks of at most `budget` score vectors for all the block's vectors
/// together (pv re-reads every score vector once per group of output columns: they should stay in L1).
void plan_chunks(const Block& b, int64_t budget, std::vector<Chunk>& out);

/// Per-vector pointers of a block (operand tiles, score buffers, accumulators).
using VecPtrs = const float* const*;
using MutVecPtrs = float* const*;

/// Scores S_v(i, c) = sum_d A_v[d] * B(rows[i])[d][c + lane] for every active entry of the chunk.
/// A_v: [depth][16]; B(row) = B + row * row_stride, columns shifted by kPad, line stride ldb.
void qk_chunk(const Block& b, const Chunk& ch, VecPtrs A, const float* B, int64_t row_stride, int64_t ldb, int depth,
              MutVecPtrs S);

/// Sets the scores of the chunk's active rows that are not related (query, key) pairs to -inf (lane masks
/// of the tiles). Rows that do not relate to a vector are left as they are: no pass reads them.
void mask_chunk(const Block& b, const Chunk& ch, MutVecPtrs S);

/// C_v[j] += sum over the chunk's active entries P_v(i, c) * B(rows[i])[j][c + lane], j < ncols.
/// C_v: [ncols][16] accumulators in memory (loaded and stored once per call). Entries outside a lane's
/// window (its tile mask) have P = 0 and add 0 * B, which is NaN where B is infinite or NaN; with `exact`
/// they never touch that lane's accumulators (merge-masked FMAs on the segments holding such entries:
/// measured 4-6% slower on whole problems whose tiles all have them, so callers take this path only to
/// redo a block whose accumulators came out non-finite).
void pv_chunk(const Block& b, const Chunk& ch, VecPtrs P, const float* B, int64_t row_stride, int64_t ldb, int ncols,
              MutVecPtrs C, bool exact = false);

/// Scores against n shared (additional) keys: S_v[e] = sum_d A_v[d] * K[e * depth + d].
void qk_shared(int nv, VecPtrs A, const float* K, int n, int depth, MutVecPtrs S);
/// C_v[j] += sum_e P_v[e] * V[e * ldv + j], j < ncols.
void pv_shared(int nv, VecPtrs P, const float* V, int64_t ldv, int n, int ncols, MutVecPtrs C);

}  // namespace natten::cpu::NATTEN_SIMD
