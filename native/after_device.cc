#include "after_device.h"

#include <memory>
#include <string>

#include "../kernels/runtime/gpu_runtime.h"
#include "cpu_queue.h"
#include "serial_queue.h"

namespace natten::node {
namespace {

/// The fence-waiter thread of a CUDA device (created on first use, never destroyed).
SerialQueue& fence_waiter(int device) {
  static auto* waiters = new DeviceQueues("natten-gpu-wait");
  return waiters->get(device);
}

/// Raises a failure of earlier asynchronous work on the device (CPU task exception or CUDA error).
void raise_deferred(Device d) {
  if (d.is_cpu()) {
    std::string e = CpuQueue::get().take_error();
    if (!e.empty()) throw Error(ErrorKind::Natten, "ERR_NATTEN_ASYNC", "an earlier CPU operation failed: " + e);
  } else {
    gpu::check_async_errors(d.index);
  }
}

void settle(const Reply& reply, const std::function<Reply::MakeValue()>& task) {
  try {
    reply.resolve(task());
  } catch (const Error& e) {
    reply.reject(e);
  } catch (const std::bad_alloc&) {
    reply.reject(Error(ErrorKind::Natten, "ERR_NATTEN_OOM", "out of host memory"));
  } catch (const std::exception& e) {
    reply.reject(Error(ErrorKind::Natten, "ERR_NATTEN_INTERNAL", e.what()));
  }
}

}  // namespace

void after_device(Device d, Reply reply, std::function<Reply::MakeValue()> task) {
  // What fails here (a lost device, no fence) rejects the promise rather than throwing: the caller
  // returns the promise either way.
  std::shared_ptr<gpu::Fence> fence;
  if (!d.is_cpu()) {
    try {
      fence = std::make_shared<gpu::Fence>(d.index);  // recorded now: after the work enqueued so far
    } catch (const Error& e) {
      reply.reject(e);
      return;
    }
  }
  if (d.is_cpu()) {
    CpuQueue::get().enqueue([reply, task = std::move(task), d] {
      settle(reply, [&] {
        raise_deferred(d);
        return task();
      });
    });
    return;
  }
  fence_waiter(d.index).enqueue([reply, task = std::move(task), fence, d] {
    settle(reply, [&] {
      fence->wait();
      raise_deferred(d);
      return task();
    });
  });
}

void wait_for_device(Device d) {
  if (d.is_cpu()) {
    CpuQueue::get().fence().wait();
  } else {
    gpu::Fence(d.index).wait();
  }
  raise_deferred(d);
}

}  // namespace natten::node
