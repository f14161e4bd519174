#include "cpu_queue.h"

#include <exception>
#include <mutex>

#include "../engine/cpu/parallel.h"
#include "serial_queue.h"

namespace natten::node {

struct CpuQueue::Impl {
  SerialQueue queue{"natten-cpu"};
  std::mutex mutex;
  std::shared_future<void> last;  // completion of the newest task
  std::string error;

  void keep_error(const char* what) {
    std::lock_guard<std::mutex> lock(mutex);
    if (error.empty()) error = what;
  }
};

CpuQueue::CpuQueue() : impl_(new Impl) {
  std::promise<void> ready;
  ready.set_value();
  impl_->last = ready.get_future().share();
  // The queue's thread computes too (it takes a share of every parallel_for).
  impl_->queue.enqueue(cpu::lower_thread_priority);
}

CpuQueue& CpuQueue::get() {
  static CpuQueue* q = new CpuQueue();  // never destroyed: its thread may run while the process exits
  return *q;
}

void CpuQueue::enqueue(std::function<void()> task) {
  auto done = std::make_shared<std::promise<void>>();
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->last = done->get_future().share();
  Impl* impl = impl_;
  impl_->queue.enqueue([impl, done, task = std::move(task)]() mutable {
    try {
      task();
    } catch (const std::exception& e) {
      impl->keep_error(e.what());
    } catch (...) {
      impl->keep_error("unknown error in a CPU task");
    }
    task = nullptr;  // drop captured tensors before signalling, so memory() is settled at the fence
    done->set_value();
  });
}

std::shared_future<void> CpuQueue::fence() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->last;
}

std::string CpuQueue::take_error() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::string e;
  e.swap(impl_->error);
  return e;
}

}  // namespace natten::node
