// The CPU device's ordered queue (DESIGN 4): tasks run one after another on a dispatcher thread, each
// using the whole thread pool through cpu::parallel_for. JS calls enqueue and return at once.
#pragma once
#include <functional>
#include <future>
#include <string>

namespace natten::node {

class CpuQueue {
 public:
  /// The process-wide queue (started on first use).
  static CpuQueue& get();

  /// Appends a task; it runs after every task enqueued before it.
  void enqueue(std::function<void()> task);
  /// A future that becomes ready when every task enqueued so far has finished.
  std::shared_future<void> fence();
  /// The first error thrown by a task since the last call (then cleared), or "" if none.
  std::string take_error();

 private:
  CpuQueue();
  struct Impl;
  Impl* impl_;
};

}  // namespace natten::node
