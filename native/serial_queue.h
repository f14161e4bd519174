// A thread that runs tasks one after another in the order they were enqueued. The device queues are
// built on it: the CPU queue runs ops, each GPU's fence waiter waits for its stream and reads results
// back. Queues are process-wide and never destroyed (their thread may be mid-task while the process
// exits); the tasks they hold at exit are dropped with the process.
#pragma once
#include <functional>

namespace natten::node {

class SerialQueue {
 public:
  /// Starts the thread (named `name` where the platform allows, for debuggers and profilers).
  explicit SerialQueue(const char* name);
  SerialQueue(const SerialQueue&) = delete;
  SerialQueue& operator=(const SerialQueue&) = delete;

  /// Appends a task; it runs after every task enqueued before it. A task must not throw.
  void enqueue(std::function<void()> task);

 private:
  struct Impl;
  Impl* impl_;  // leaked with the queue
};

/// One SerialQueue per CUDA device, each started on first use and never destroyed (a device's fence waiter,
/// its autotuner thread).
class DeviceQueues {
 public:
  /// `name`: the threads' name (at most 15 characters).
  explicit DeviceQueues(const char* name);
  SerialQueue& get(int device);

 private:
  const char* name_;
  struct Impl;
  Impl* impl_;  // leaked with the queues
};

}  // namespace natten::node
