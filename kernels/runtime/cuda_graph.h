// CUDA graphs of enqueued ops (natten.captureGraph): what one thread enqueues on a device's work stream between
// graph_begin and graph_end becomes one graph, replayed by one launch. A replay costs one host call however many
// kernels the ops launched: for inference servers whose ops are small enough that launching them costs more
// host time than they run on the GPU. The memory the captured ops allocate belongs to the graph (CUDA's graph
// memory nodes); what they free inside the capture is reused inside it, and what they leave allocated (the
// outputs) keeps its address on every replay (cudaGraphInstantiateFlagAutoFreeOnLaunch).
#pragma once
#include <memory>

namespace natten::gpu {

/// An instantiated graph of one device.
class Graph;

/// Starts capturing this thread's ops on the device's work stream. Throws ERR_NATTEN_GRAPH when a capture or
/// profile mode is already on for the device, ERR_NATTEN_NO_CUDA on CPU-only builds.
void graph_begin(int device);

/// Ends the capture and instantiates it. Throws ERR_NATTEN_GRAPH (with CUDA's reason) when the captured work
/// cannot form a graph (an op synchronised, or the capture was invalidated).
std::shared_ptr<Graph> graph_end(int device);

/// Ends a capture whose function failed, discarding what it captured. Never throws.
void graph_abort(int device) noexcept;

/// True while a capture is on for the device.
bool graph_capturing(int device);

/// Enqueues one replay of `g` on its device's work stream.
void graph_launch(const Graph& g);

/// The device `g` was captured on.
int graph_device(const Graph& g);

}  // namespace natten::gpu
