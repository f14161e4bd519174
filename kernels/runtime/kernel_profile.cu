// Profile mode (kernel_profile.h): each op captured into a CUDA graph, an event pair around every kernel
// node, one launch of the graph. Records are read (blocking) when profile mode ends.
#include <cxxabi.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>

#include <cuda.h>

#include "cuda_check.h"
#include "driver_entry.h"
#include "gpu_runtime.h"
#include "kernel_profile.h"

namespace natten::gpu {
namespace {

/// An event pair recorded around one kernel, not yet read.
struct PendingTiming {
  std::string name;
  cudaEvent_t start = nullptr, stop = nullptr;
};

/// A device's profile: its pending timings and the graphs that must live until their launch has run.
struct DeviceProfile {
  std::vector<PendingTiming> timings;
  std::vector<cudaGraph_t> graphs;
  std::vector<cudaGraphExec_t> execs;
};

constexpr int kMaxDevices = 64;
std::atomic<uint64_t> g_on{0};  // bit d: profile mode on for cuda:d
std::mutex g_mutex;
DeviceProfile g_profiles[kMaxDevices];

/// A mangled kernel symbol demangled, without its return type and parameter list.
std::string demangled(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  std::string name = status == 0 && d ? d.get() : mangled;
  if (name.rfind("void ", 0) == 0) name.erase(0, 5);
  // The parameter list is the last top-level '(...)'; template arguments may hold parentheses too.
  int depth = 0;
  for (size_t i = name.size(); i-- > 0;) {
    if (name[i] == ')') depth++;
    if (name[i] == '(' && --depth == 0) {
      name.resize(i);
      break;
    }
  }
  return name;
}

/// The demangled name of a kernel's host stub ("" where the runtime cannot say).
std::string kernel_name(const void* func) {
#if CUDART_VERSION >= 12040
  const char* mangled = nullptr;
  if (cudaFuncGetName(&mangled, func) == cudaSuccess && mangled) return demangled(mangled);
  cudaGetLastError();
#endif
  (void)func;
  return "";
}

/// The name of a kernel node whose function the runtime does not know (a kernel of a library loaded on
/// its own, as cuBLASLt's), from the driver; "(library kernel)" where the driver cannot say.
std::string library_kernel_name(cudaGraphNode_t node) {
  using GetParams = CUresult (*)(CUgraphNode, CUDA_KERNEL_NODE_PARAMS*);
  using FuncName = CUresult (*)(const char**, CUfunction);
  using KernelName = CUresult (*)(const char**, CUkernel);
  static const auto get_params = reinterpret_cast<GetParams>(driver_entry("cuGraphKernelNodeGetParams", 12000));
  static const auto func_name = reinterpret_cast<FuncName>(driver_entry("cuFuncGetName", 12030));
  static const auto kernel_name_of = reinterpret_cast<KernelName>(driver_entry("cuKernelGetName", 12030));
  CUDA_KERNEL_NODE_PARAMS p{};
  const char* name = nullptr;
  if (get_params && get_params(reinterpret_cast<CUgraphNode>(node), &p) == CUDA_SUCCESS) {
    if (p.func && func_name) func_name(&name, p.func);
    if (!name && p.kern && kernel_name_of) kernel_name_of(&name, p.kern);
  }
  return name ? demangled(name) : "(library kernel)";
}

/// The dependencies of `node` (CUDA 13 added edge data to the graph-edge calls).
std::vector<cudaGraphNode_t> dependencies(cudaGraphNode_t node) {
  size_t n = 0;
#if CUDART_VERSION >= 13000
  NATTEN_CUDA_CHECK(cudaGraphNodeGetDependencies(node, nullptr, nullptr, &n));
  std::vector<cudaGraphNode_t> deps(n);
  if (n) NATTEN_CUDA_CHECK(cudaGraphNodeGetDependencies(node, deps.data(), nullptr, &n));
#else
  NATTEN_CUDA_CHECK(cudaGraphNodeGetDependencies(node, nullptr, &n));
  std::vector<cudaGraphNode_t> deps(n);
  if (n) NATTEN_CUDA_CHECK(cudaGraphNodeGetDependencies(node, deps.data(), &n));
#endif
  return deps;
}

/// Makes `node` depend on `before` too. Its edges from `deps` stay (`before` depends on them as well, so
/// they add nothing): removing captured edges is refused by some drivers (cudaErrorNotSupported).
void insert_before(cudaGraph_t g, cudaGraphNode_t node, cudaGraphNode_t before) {
#if CUDART_VERSION >= 13000
  NATTEN_CUDA_CHECK(cudaGraphAddDependencies(g, &before, &node, nullptr, 1));
#else
  NATTEN_CUDA_CHECK(cudaGraphAddDependencies(g, &before, &node, 1));
#endif
}

/// Adds an event record node before and after every kernel node of `g`; returns the event pairs.
std::vector<PendingTiming> add_kernel_events(cudaGraph_t g) {
  size_t n = 0;
  NATTEN_CUDA_CHECK(cudaGraphGetNodes(g, nullptr, &n));
  std::vector<cudaGraphNode_t> nodes(n);
  if (n) NATTEN_CUDA_CHECK(cudaGraphGetNodes(g, nodes.data(), &n));
  std::vector<PendingTiming> out;
  for (cudaGraphNode_t node : nodes) {
    cudaGraphNodeType type;
    NATTEN_CUDA_CHECK(cudaGraphNodeGetType(node, &type));
    if (type != cudaGraphNodeTypeKernel) continue;
    cudaKernelNodeParams params;
    std::string name;
    if (cudaGraphKernelNodeGetParams(node, &params) == cudaSuccess) {
      name = kernel_name(params.func);
    } else {
      (void)cudaGetLastError();  // cudaErrorInvalidDeviceFunction: not one of this module's kernels
      name = library_kernel_name(node);
    }
    PendingTiming t{name};
    NATTEN_CUDA_CHECK(cudaEventCreate(&t.start));
    NATTEN_CUDA_CHECK(cudaEventCreate(&t.stop));
    const std::vector<cudaGraphNode_t> deps = dependencies(node);
    cudaGraphNode_t before, after;
    NATTEN_CUDA_CHECK(cudaGraphAddEventRecordNode(&before, g, deps.data(), deps.size(), t.start));
    insert_before(g, node, before);
    NATTEN_CUDA_CHECK(cudaGraphAddEventRecordNode(&after, g, &node, 1, t.stop));
    out.push_back(std::move(t));
  }
  return out;
}

/// Runs `enqueue` uncaptured between two events: one record for the whole op.
void enqueue_timed(cudaStream_t s, const std::string& name, const std::function<void()>& enqueue,
                   DeviceProfile& p) {
  PendingTiming t{name};
  NATTEN_CUDA_CHECK(cudaEventCreate(&t.start));
  NATTEN_CUDA_CHECK(cudaEventCreate(&t.stop));
  try {
    NATTEN_CUDA_CHECK(cudaEventRecord(t.start, s));
    enqueue();
    NATTEN_CUDA_CHECK(cudaEventRecord(t.stop, s));
  } catch (...) {
    cudaEventDestroy(t.start);
    cudaEventDestroy(t.stop);
    throw;
  }
  p.timings.push_back(std::move(t));
}

void release(DeviceProfile& p) {
  for (auto& t : p.timings) {
    cudaEventDestroy(t.start);
    cudaEventDestroy(t.stop);
  }
  for (auto e : p.execs) cudaGraphExecDestroy(e);
  for (auto g : p.graphs) cudaGraphDestroy(g);
  p = DeviceProfile{};
}

DeviceProfile& profile_of(int device) {
  if (device < 0 || device >= kMaxDevices)
    throw Error(ErrorKind::Range, "ERR_NATTEN_DEVICE", "profile mode: no CUDA device cuda:" + std::to_string(device));
  return g_profiles[device];
}

}  // namespace

bool profiling(int device) {
  return device >= 0 && device < kMaxDevices && ((g_on.load(std::memory_order_relaxed) >> device) & 1);
}

void profile_start(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceProfile& p = profile_of(device);
  stream(device);  // the device exists and its stream is created
  release(p);
  g_on.fetch_or(uint64_t(1) << device);
}

void profile_enqueue(int device, const std::string& fallback_name, const std::function<void()>& enqueue) {
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceProfile& p = profile_of(device);
  cudaStream_t s = static_cast<cudaStream_t>(stream(device));
  NATTEN_CUDA_CHECK(cudaSetDevice(device));
  NATTEN_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  bool captured = true;
  try {
    enqueue();
  } catch (...) {
    captured = false;
  }
  cudaGraph_t g = nullptr;
  if (cudaStreamEndCapture(s, &g) != cudaSuccess) captured = false;
  cudaGetLastError();  // a failed capture's error is not the op's
  if (!captured) {
    // Nothing of a failed capture ran: run the op plainly (its own errors now reach the caller).
    if (g) cudaGraphDestroy(g);
    enqueue_timed(s, fallback_name, enqueue, p);
    return;
  }
  p.graphs.push_back(g);
  std::vector<PendingTiming> timings = add_kernel_events(g);
  cudaGraphExec_t exec;
  NATTEN_CUDA_CHECK(cudaGraphInstantiate(&exec, g, 0));
  p.execs.push_back(exec);
  NATTEN_CUDA_CHECK(cudaGraphLaunch(exec, s));
  for (auto& t : timings) p.timings.push_back(std::move(t));
}

std::vector<KernelTiming> profile_stop(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceProfile& p = profile_of(device);
  g_on.fetch_and(~(uint64_t(1) << device));
  std::vector<KernelTiming> out;
  if (p.timings.empty() && p.execs.empty()) return out;
  NATTEN_CUDA_CHECK(cudaSetDevice(device));
  NATTEN_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream(device))));
  for (const auto& t : p.timings) {
    float ms = 0;
    NATTEN_CUDA_CHECK(cudaEventElapsedTime(&ms, t.start, t.stop));
    out.push_back({t.name, ms});
  }
  release(p);
  return out;
}

}  // namespace natten::gpu
