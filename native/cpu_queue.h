// The CPU device's ordered queue: ops run one after another on its thread, each using the whole thread
// pool through cpu::parallel_for. JS calls enqueue and return at once; reads are tasks of the queue too,
// so a read runs right after the work that produced its data.
#pragma once
#include <functional>
#include <future>
#include <string>

namespace natten::node {

class CpuQueue {
 public:
  /// The process-wide queue (started on first use, never destroyed).
  static CpuQueue& get();

  /// Appends a task; it runs after every task enqueued before it. A task's exception is kept for
  /// take_error().
  void enqueue(std::function<void()> task);
  /// A future that becomes ready when every task enqueued so far has finished (blocking waits only:
  /// toArraySync and copies to a GPU).
  std::shared_future<void> fence();
  /// The first error thrown by a task since the last call (then cleared), or "" if none.
  std::string take_error();

 private:
  CpuQueue();
  struct Impl;
  Impl* impl_;
};

}  // namespace natten::node
