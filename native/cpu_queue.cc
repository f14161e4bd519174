#include "cpu_queue.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace natten::node {

struct CpuQueue::Impl {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<void()>> tasks;
  std::shared_future<void> last;  // completion of the newest task
  std::string error;
  std::thread dispatcher;

  void loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return !tasks.empty(); });
        task = std::move(tasks.front());
        tasks.pop_front();
      }
      task();
    }
  }
};

CpuQueue::CpuQueue() : impl_(new Impl) {
  std::promise<void> ready;
  ready.set_value();
  impl_->last = ready.get_future().share();
  impl_->dispatcher = std::thread([this] { impl_->loop(); });
  impl_->dispatcher.detach();  // lives as long as the process
}

CpuQueue& CpuQueue::get() {
  static CpuQueue* q = new CpuQueue();
  return *q;
}

void CpuQueue::enqueue(std::function<void()> task) {
  auto done = std::make_shared<std::promise<void>>();
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->last = done->get_future().share();
  Impl* impl = impl_;
  impl_->tasks.push_back([impl, done, task = std::move(task)]() mutable {
    try {
      task();
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(impl->mutex);
      if (impl->error.empty()) impl->error = e.what();
    } catch (...) {
      std::lock_guard<std::mutex> lock(impl->mutex);
      if (impl->error.empty()) impl->error = "unknown error in a CPU task";
    }
    task = nullptr;  // drop captured tensors before signalling, so memory() is settled at the fence
    done->set_value();
  });
  impl_->wake.notify_one();
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
