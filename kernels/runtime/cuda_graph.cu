// cuda_graph.h: stream capture of the device's work stream and replay of the instantiated graph.
#include "cuda_graph.h"

#include <atomic>
#include <string>

#include "../common/error.h"
#include "cuda_check.h"
#include "gpu_runtime.h"
#include "kernel_profile.h"

namespace natten::gpu {

class Graph {
 public:
  Graph(int device, cudaGraph_t graph, cudaGraphExec_t exec) : device_(device), graph_(graph), exec_(exec) {}
  // A replay still queued completes first: CUDA frees an executable graph in flight when it has run.
  ~Graph() {
    cudaGraphExecDestroy(exec_);
    cudaGraphDestroy(graph_);
  }
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  int device() const { return device_; }
  cudaGraphExec_t exec() const { return exec_; }

 private:
  int device_;
  cudaGraph_t graph_;
  cudaGraphExec_t exec_;
};

namespace {

constexpr int kMaxDevices = 64;
std::atomic<bool> g_capturing[kMaxDevices];

[[noreturn]] void graph_error(const std::string& msg) { throw Error(ErrorKind::Natten, "ERR_NATTEN_GRAPH", msg); }

int checked(int device) {
  if (device < 0 || device >= kMaxDevices) graph_error("no CUDA device cuda:" + std::to_string(device));
  return device;
}

cudaStream_t work(int device) {
  NATTEN_CUDA_CHECK(cudaSetDevice(device));
  return static_cast<cudaStream_t>(stream(device));
}

}  // namespace

void graph_begin(int device) {
  checked(device);
  if (profiling(device)) graph_error("cannot capture a graph on cuda:" + std::to_string(device) + " in profile mode");
  const cudaStream_t s = work(device);
  if (g_capturing[device].exchange(true))
    graph_error("a graph is already being captured on cuda:" + std::to_string(device));
  // Thread-local mode: a call of this thread that would synchronise (and so break the capture) fails at once
  // instead of invalidating it later; other threads (the tuner's, the CPU pool) are not affected.
  const cudaError_t e = cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal);
  if (e != cudaSuccess) {
    g_capturing[device] = false;
    cudaGetLastError();
    graph_error(std::string("cannot start a capture: ") + cudaGetErrorString(e));
  }
}

std::shared_ptr<Graph> graph_end(int device) {
  checked(device);
  if (!g_capturing[device]) graph_error("no graph is being captured on cuda:" + std::to_string(device));
  const cudaStream_t s = work(device);
  cudaGraph_t graph = nullptr;
  cudaError_t e = cudaStreamEndCapture(s, &graph);
  g_capturing[device] = false;
  if (e != cudaSuccess || !graph) {
    cudaGetLastError();
    if (graph) cudaGraphDestroy(graph);
    graph_error(std::string("the captured ops cannot form a graph (an op synchronised or read back?): ") +
                cudaGetErrorString(e));
  }
  cudaGraphExec_t exec = nullptr;
  e = cudaGraphInstantiateWithFlags(&exec, graph, cudaGraphInstantiateFlagAutoFreeOnLaunch);
  if (e != cudaSuccess) {
    cudaGetLastError();
    cudaGraphDestroy(graph);
    graph_error(std::string("cannot instantiate the captured graph: ") + cudaGetErrorString(e));
  }
  return std::make_shared<Graph>(device, graph, exec);
}

void graph_abort(int device) noexcept {
  if (device < 0 || device >= kMaxDevices || !g_capturing[device]) return;
  cudaGraph_t graph = nullptr;
  if (cudaSetDevice(device) == cudaSuccess) {
    cudaStreamEndCapture(static_cast<cudaStream_t>(stream(device)), &graph);
    if (graph) cudaGraphDestroy(graph);
  }
  cudaGetLastError();
  g_capturing[device] = false;
}

bool graph_capturing(int device) { return device >= 0 && device < kMaxDevices && g_capturing[device]; }

void graph_launch(const Graph& g) {
  if (g_capturing[g.device()]) graph_error("cannot replay a graph while one is being captured on its device");
  NATTEN_CUDA_CHECK(cudaGraphLaunch(g.exec(), work(g.device())));
}

int graph_device(const Graph& g) { return g.device(); }

}  // namespace natten::gpu
