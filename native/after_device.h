// Runs a task after every operation enqueued so far on a device, on a thread of that device (never a
// libuv thread-pool thread), and settles a promise with what it produces: the CPU queue's own thread
// for the CPU; for a CUDA device, the device's fence-waiter thread, which waits for a fence recorded in
// the stream at call time.
#pragma once
#include <functional>

#include "completion.h"
#include "storage.h"

namespace natten::node {

/// `task` runs on the device thread and returns the value builder for the JS thread; what it throws
/// (natten::Error or std::exception) rejects the promise, as does a device that cannot take the work
/// (a lost CUDA device). Never throws. Call on the JS thread.
void after_device(Device d, Reply reply, std::function<Reply::MakeValue()> task);

/// Blocks the calling thread until every operation enqueued so far on the device has finished, then
/// raises a failure of that work (ERR_NATTEN_ASYNC on the CPU, ERR_NATTEN_CUDA on a GPU).
void wait_for_device(Device d);

}  // namespace natten::node
