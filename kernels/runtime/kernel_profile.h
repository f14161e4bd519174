// Profile mode (`natten-node profile`): the kernels each GPU op launches, timed one by one with CUDA events.
// Off by default; when on for a device, every op enqueued there is captured into a CUDA graph, an event
// is recorded before and after each of its kernel nodes, and the graph is launched once (the op runs
// exactly as it would, with its kernels serialised as they were captured). The op path pays one atomic
// load while profile mode is off.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace natten::gpu {

/// One kernel launch timed in profile mode.
struct KernelTiming {
  std::string name;  // demangled kernel name ("" where the runtime cannot name it)
  double ms = 0;     // GPU time between the events around the launch
};

/// True while profile mode is on for `device`.
bool profiling(int device);

/// Turns profile mode on for `device` (dropping earlier records). Throws ERR_NATTEN_NO_CUDA without CUDA.
void profile_start(int device);

/// Runs `enqueue` (one op's enqueueing on the device's stream) under the profiler. Where the op cannot be
/// captured (it calls something a capture forbids), it runs uncaptured and its whole time is one record
/// named `fallback_name`.
void profile_enqueue(int device, const std::string& fallback_name, const std::function<void()>& enqueue);

/// Turns profile mode off for `device`, waits for the device's stream (profile mode only: it blocks the
/// calling thread) and returns the records in launch order.
std::vector<KernelTiming> profile_stop(int device);

}  // namespace natten::gpu
