#include "serial_queue.h"

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace natten::node {

struct SerialQueue::Impl {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<void()>> tasks;

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

SerialQueue::SerialQueue(const char* name) : impl_(new Impl) {
  std::thread t([impl = impl_] { impl->loop(); });
#ifdef __linux__
  pthread_setname_np(t.native_handle(), name);  // at most 15 characters
#endif
  t.detach();
}

void SerialQueue::enqueue(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->tasks.push_back(std::move(task));
  }
  impl_->wake.notify_one();
}

struct DeviceQueues::Impl {
  std::mutex mutex;
  std::vector<SerialQueue*> queues;
};

DeviceQueues::DeviceQueues(const char* name) : name_(name), impl_(new Impl) {}

SerialQueue& DeviceQueues::get(int device) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if ((int)impl_->queues.size() <= device) impl_->queues.resize(device + 1, nullptr);
  SerialQueue*& q = impl_->queues[device];
  if (!q) q = new SerialQueue(name_);
  return *q;
}

}  // namespace natten::node
