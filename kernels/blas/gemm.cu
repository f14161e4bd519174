// cuBLASLt GEMM (gemm.h). A call's descriptors and the heuristic's algorithm are planned once per problem
// (shape, dtype, strides, pointer alignments, epilogue) and kept: planning costs tens of microseconds of host
// time, more than a small GEMM runs. Launch order: the plan's bias pointer is set and cublasLtMatmul
// enqueued under one lock, so calls from several threads (worker_threads) never mix their pointers.
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>

#include "../runtime/cublaslt.h"
#include "../runtime/cuda_check.h"
#include "../runtime/gpu_runtime.h"
#include "gemm.h"

namespace natten::blas {
namespace {

using namespace blas_api;
using gpu::check_cublas;

/// Workspace offered to cuBLASLt (NVIDIA recommends 32 MiB on Hopper); from the stream-ordered pool.
constexpr size_t kWorkspaceBytes = size_t(32) << 20;

/// Largest power of two (up to 256) dividing a pointer: what the heuristic may assume of it.
uint32_t alignment(const void* p) {
  const uintptr_t v = reinterpret_cast<uintptr_t>(p);
  uint32_t a = 256;
  while (a > 1 && v % a) a /= 2;
  return a;
}

struct Key {
  int device, dtype;
  int64_t batch, m, n, k, a_stride, b_stride, bias_stride;
  bool a_trans, b_trans, bias, tf32;
  uint32_t align_a, align_b, align_c, align_bias;
  bool operator<(const Key& o) const {
    return std::tie(device, dtype, batch, m, n, k, a_stride, b_stride, bias_stride, a_trans, b_trans, bias, tf32,
                    align_a, align_b, align_c, align_bias) <
           std::tie(o.device, o.dtype, o.batch, o.m, o.n, o.k, o.a_stride, o.b_stride, o.bias_stride, o.a_trans,
                    o.b_trans, o.bias, o.tf32, o.align_a, o.align_b, o.align_c, o.align_bias);
  }
};

/// Descriptors and algorithm of one problem (kept for the process).
struct Plan {
  MatmulDesc desc = nullptr;
  MatrixLayout a = nullptr, b = nullptr, d = nullptr;  // cuBLASLt's operands: a = our B, b = our A, d = C
  MatmulAlgo algo{};
  size_t workspace = 0;
};

int cuda_type(DType t) { return t == DType::Float32 ? kR32F : t == DType::Float16 ? kR16F : kR16BF; }

template <class T>
void set_desc(const Api& api, MatmulDesc d, int attr, const T& v) {
  check_cublas(api.matmul_desc_set_attribute(d, attr, &v, sizeof v), "cublasLtMatmulDescSetAttribute");
}

/// A column-major layout of `rows` x `cols` (leading dimension ld), batched with the given stride.
MatrixLayout layout(const Api& api, int type, int64_t rows, int64_t cols, int64_t ld, int64_t batch, int64_t stride) {
  MatrixLayout l = nullptr;
  check_cublas(api.matrix_layout_create(&l, type, (uint64_t)rows, (uint64_t)cols, ld), "cublasLtMatrixLayoutCreate");
  const int32_t count = (int32_t)batch;
  check_cublas(api.matrix_layout_set_attribute(l, kLayoutBatchCount, &count, sizeof count),
               "cublasLtMatrixLayoutSetAttribute");
  check_cublas(api.matrix_layout_set_attribute(l, kLayoutStridedBatchOffset, &stride, sizeof stride),
               "cublasLtMatrixLayoutSetAttribute");
  return l;
}

Plan make_plan(const Key& key, DType t, const GemmArgs& g) {
  const Api& api = gpu::cublaslt();
  Plan p;
  const int type = cuda_type(t);
  const int compute = t == DType::Float32 && g.allow_tf32 ? kComputeF32FastTf32 : kComputeF32;
  check_cublas(api.matmul_desc_create(&p.desc, compute, kR32F), "cublasLtMatmulDescCreate");
  // Column-major view: D[n x m] = op(B)^T[n x k] · A^T[k x m]. B row-major [k, n] is column-major [n x k]
  // (op N, ld n); B given as W [n, k] row-major is column-major [k x n] (op T, ld k). Likewise A row-major
  // [m, k] is column-major [k x m] (op N, ld k), and A given as [k, m] (a_trans) is [m x k] (op T, ld m).
  const int32_t ta = g.b_trans ? kOpT : kOpN, tb = g.a_trans ? kOpT : kOpN;
  set_desc(api, p.desc, kDescTransA, ta);
  set_desc(api, p.desc, kDescTransB, tb);
  set_desc(api, p.desc, kDescEpilogue, g.bias ? kEpilogueBias : kEpilogueDefault);
  if (g.bias) set_desc(api, p.desc, kDescBiasDataType, type);
  if (g.bias && g.bias_stride) set_desc(api, p.desc, kDescBiasBatchStride, g.bias_stride);
  p.a = g.b_trans ? layout(api, type, g.k, g.n, g.k, g.batch, g.b_stride)
                  : layout(api, type, g.n, g.k, g.n, g.batch, g.b_stride);
  p.b = g.a_trans ? layout(api, type, g.m, g.k, g.m, g.batch, g.a_stride)
                  : layout(api, type, g.k, g.m, g.k, g.batch, g.a_stride);
  p.d = layout(api, type, g.n, g.m, g.n, g.batch, g.m * g.n);
  if (g.bias) set_desc(api, p.desc, kDescBiasPointer, g.bias);  // the heuristic reads its alignment

  Preference pref = nullptr;
  check_cublas(api.preference_create(&pref), "cublasLtMatmulPreferenceCreate");
  const uint64_t ws = kWorkspaceBytes;
  check_cublas(api.preference_set_attribute(pref, kPrefMaxWorkspaceBytes, &ws, sizeof ws),
               "cublasLtMatmulPreferenceSetAttribute");
  const uint32_t aligns[4] = {key.align_b, key.align_a, key.align_c, key.align_c};  // cuBLASLt's A is our B
  for (int i = 0; i < 4; ++i)
    check_cublas(api.preference_set_attribute(pref, kPrefMinAlignmentA + i, &aligns[i], sizeof aligns[i]),
                 "cublasLtMatmulPreferenceSetAttribute");
  HeuristicResult result{};
  int found = 0;
  const Status s =
      api.algo_get_heuristic(gpu::cublaslt_handle(key.device), p.desc, p.a, p.b, p.d, p.d, pref, 1, &result, &found);
  api.preference_destroy(pref);
  check_cublas(s, "cublasLtMatmulAlgoGetHeuristic");
  if (found < 1)
    throw Error(ErrorKind::Natten, "ERR_NATTEN_UNSUPPORTED",
                "cuBLASLt has no algorithm for this GEMM (m " + std::to_string(g.m) + ", n " + std::to_string(g.n) +
                    ", k " + std::to_string(g.k) + ", batch " + std::to_string(g.batch) + ")");
  p.algo = result.algo;
  p.workspace = result.workspace_size;
  return p;
}

std::mutex g_mutex;
std::map<Key, Plan>& plans() {
  static auto* m = new std::map<Key, Plan>();  // kept for the process (descriptors are never destroyed)
  return *m;
}

/// One workspace per stream, grown to the largest a plan asked for and kept for the process: an allocation
/// and a free per GEMM cost more host time than a small GEMM's launch. Per stream, because GEMMs on two
/// streams (the work stream and the tuner's side stream) may run at once; calls on one stream are ordered.
void* workspace_for(int device, void* stream, size_t bytes) {
  struct Workspace {
    void* ptr = nullptr;
    size_t bytes = 0;
  };
  static auto* spaces = new std::map<void*, Workspace>();  // under g_mutex; never freed (threads may use it)
  Workspace& w = (*spaces)[stream];
  if (w.bytes < bytes) {
    // Stream-ordered: the old block is freed after the GEMMs already queued on this stream.
    if (w.ptr) gpu::release(device, w.ptr, w.bytes);
    w.ptr = gpu::alloc(device, bytes);
    w.bytes = bytes;
  }
  return w.ptr;
}

}  // namespace

void gemm(int device, DType t, const GemmArgs& g) {
  const Key key{device,
                (int)t,
                g.batch,
                g.m,
                g.n,
                g.k,
                g.a_stride,
                g.b_stride,
                g.bias ? g.bias_stride : 0,
                g.a_trans,
                g.b_trans,
                g.bias != nullptr,
                t == DType::Float32 && g.allow_tf32,
                alignment(g.a),
                alignment(g.b),
                alignment(g.c),
                g.bias ? alignment(g.bias) : 256u};
  const Api& api = gpu::cublaslt();
  void* stream = gpu::stream(device);
  NATTEN_CUDA_CHECK(cudaSetDevice(device));
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = plans().find(key);
  if (it == plans().end()) it = plans().emplace(key, make_plan(key, t, g)).first;
  const Plan& p = it->second;
  if (g.bias) set_desc(api, p.desc, kDescBiasPointer, g.bias);
  // Under graph capture (profile mode) the workspace is the graph's own allocation, freed within it: a block
  // allocated during capture exists only while the graph runs, so it cannot become the kept one.
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  NATTEN_CUDA_CHECK(cudaStreamIsCapturing(static_cast<cudaStream_t>(stream), &capture));
  std::optional<gpu::DeviceScratch> captured;
  if (capture != cudaStreamCaptureStatusNone) captured.emplace(device, p.workspace);
  void* workspace = captured ? captured->data()
                    : p.workspace ? workspace_for(device, stream, p.workspace)
                                  : nullptr;
  const float alpha = 1.f, beta = 0.f;
  check_cublas(api.matmul(gpu::cublaslt_handle(device), p.desc, &alpha, g.b, p.a, g.a, p.b, &beta, g.c, p.d, g.c, p.d,
                          &p.algo, workspace, p.workspace, stream),
               "cublasLtMatmul");
}

}  // namespace natten::blas
