// cuda_graph.h for CPU-only builds: there is no GPU to capture.
#include "cuda_graph.h"

#include "../common/error.h"

namespace natten::gpu {

class Graph {};

void graph_begin(int) {
  throw Error(ErrorKind::Natten, "ERR_NATTEN_NO_CUDA", "CUDA graphs need CUDA: this natten-node addon was built without it");
}
std::shared_ptr<Graph> graph_end(int) { graph_begin(0); return nullptr; }
void graph_abort(int) noexcept {}
bool graph_capturing(int) { return false; }
void graph_launch(const Graph&) { graph_begin(0); }
int graph_device(const Graph&) { return -1; }

}  // namespace natten::gpu
