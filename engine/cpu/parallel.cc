#include "parallel.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace natten::cpu {
namespace {

class Pool {
 public:
  Pool() {
    int n = (int)std::thread::hardware_concurrency();
    if (const char* env = std::getenv("NATTEN_NUM_THREADS")) n = std::atoi(env);
    threads_ = std::max(1, n);
    for (int i = 0; i + 1 < threads_; ++i) workers_.emplace_back([this] {
      lower_thread_priority();
      work();
    });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int threads() const { return threads_; }

  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    // A few chunks per thread balances uneven work (e.g. causal rows) without much overhead.
    int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, (int64_t)threads_ * 4);
    if (chunks <= 1 || threads_ == 1) {
      fn(0, n);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = &fn;
      n_ = n;
      chunks_ = chunks;
      next_.store(0);
      pending_ = chunks;
      ++generation_;
    }
    wake_.notify_all();
    drain();
    std::unique_lock<std::mutex> lock(mutex_);
    // Wait for the work and for every worker that joined this job to leave it, so no straggler can
    // take a chunk of the next job's counter.
    done_.wait(lock, [this] { return pending_ == 0 && active_ == 0; });
    fn_ = nullptr;
  }

 private:
  void drain() {
    for (;;) {
      int64_t c = next_.fetch_add(1);
      if (c >= chunks_) return;
      (*fn_)(n_ * c / chunks_, n_ * (c + 1) / chunks_);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_all();
    }
  }
  void work() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || (generation_ != seen && fn_ != nullptr); });
        if (stop_) return;
        seen = generation_;
        ++active_;
      }
      drain();
      std::lock_guard<std::mutex> lock(mutex_);
      if (--active_ == 0) done_.notify_all();
    }
  }

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  bool stop_ = false;
  uint64_t generation_ = 0;
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0, chunks_ = 0, pending_ = 0;
  int active_ = 0;  // workers inside drain() for the current job
  std::atomic<int64_t> next_{0};
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: workers may outlive static destruction order
  return *p;
}

}  // namespace

void lower_thread_priority() {
#ifdef __linux__
  static const int nice = [] {
    const char* env = std::getenv("NATTEN_CPU_NICE");
    return env ? std::max(0, std::min(19, std::atoi(env))) : 10;
  }();
  if (nice == 0) return;
  // On Linux the priority calls act on single threads: the process id names the main thread (the base
  // every thread is lowered from; threads inherit their creator's value, so "current + nice" would stack).
  errno = 0;
  const int base = getpriority(PRIO_PROCESS, (id_t)getpid());
  if (errno == 0) setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), std::min(19, base + nice));
#endif
}

int num_threads() { return pool().threads(); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  pool().run(n, grain, fn);
}

}  // namespace natten::cpu
