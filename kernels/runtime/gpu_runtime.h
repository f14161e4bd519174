// Host-side GPU runtime used by native/: devices, per-device streams, stream-ordered memory, transfers,
// fences and the element-wise tensor kernels. No CUDA header leaks out of here: handles are opaque.
// A CPU-only build links gpu_runtime_stub.cc instead, which reports no devices.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string>
#include "../common/dtype.h"
#include "../common/error.h"

namespace natten::gpu {

/// What the addon was compiled with.
struct BuildInfo {
  bool cuda = false;
  std::string cuda_version;  // toolkit version at build time, "" without CUDA
  std::string archs;         // CMake CUDA architectures, "" without CUDA
  int runtime_version = 0;   // cudart version (e.g. 13000), 0 without CUDA
  int driver_version = 0;    // 0 when no driver is installed
  std::string device_status; // why no device is usable (the CUDA error of the device query), "" when fine
};
BuildInfo build_info();

/// Number of usable devices; 0 without CUDA, a driver or a device. Never throws.
int device_count();

struct DeviceInfo {
  std::string name;
  int major = 0, minor = 0;
  int sm_count = 0;
  size_t total_memory = 0, free_memory = 0;
  size_t shared_memory_per_block_optin = 0;
};
DeviceInfo device_info(int device);

/// The device's ordered work stream (cudaStream_t), created on first use.
void* stream(int device);

/// Stream-ordered allocation on the device's stream. Throws Error(ERR_NATTEN_OOM) when the card is full.
void* alloc(int device, size_t bytes);
/// Stream-ordered free; safe from any thread; never throws.
void release(int device, void* ptr, size_t bytes) noexcept;

/// Device memory for the work enqueued while it lives: allocated stream-ordered, and freed stream-ordered
/// (after that work) when it goes out of scope, also when the launch throws.
class DeviceScratch {
 public:
  DeviceScratch(int device, size_t bytes) : device_(device), bytes_(bytes), ptr_(alloc(device, bytes)) {}
  ~DeviceScratch() { release(device_, ptr_, bytes_); }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  template <class T = void>
  T* data() const {
    return static_cast<T*>(ptr_);
  }

 private:
  int device_;
  size_t bytes_;
  void* ptr_;
};

/// Copies host memory to the device on its stream; returns once `src` may be reused.
void upload_async(int device, void* dst, const void* src, size_t bytes);
/// Blocking copies on a private transfer stream (call from worker threads after a fence).
void upload_sync(int device, void* dst, const void* src, size_t bytes);
void download_sync(int device, void* dst, const void* src, size_t bytes);
void memset_async(int device, void* dst, int value, size_t bytes);
void copy_async(int device, void* dst, const void* src, size_t bytes);

/// Element-wise dtype conversion on the device's stream (round to nearest even).
void convert_async(int device, const void* src, DType src_type, void* dst, DType dst_type, size_t n);
/// Standard normal numbers from (seed, element index): same generator as the CPU (kernels/common/random.h).
void randn_async(int device, void* dst, DType type, size_t n, uint64_t seed);

/// A point in the device's stream; wait() blocks the calling thread until the stream has passed it.
class Fence {
 public:
  explicit Fence(int device);
  ~Fence();
  Fence(const Fence&) = delete;
  Fence& operator=(const Fence&) = delete;
  void wait();

 private:
  int device_;
  void* event_ = nullptr;
};

/// Raises any pending asynchronous CUDA error of the device as an Error(ERR_NATTEN_CUDA). After a kernel
/// fault (a sticky error) the device is lost: every later call on it throws ERR_NATTEN_CUDA saying the
/// process must restart; other devices and the CPU keep working.
void check_async_errors(int device);

/// The process's exit code, noted when it starts to exit (used if queued GPU work makes it exit early).
void note_exit_code(int code);

/// Debug (natten.internal): enqueues a kernel that writes to an illegal address, losing the device.
void fault_async(int device);

// --- GPU timing (benchmarks) ---

/// Times work on a device's stream with CUDA events: start() and stop() record events in stream order;
/// elapsed_ms() blocks until the stop event has passed and returns the GPU time between the two.
class Timer {
 public:
  explicit Timer(int device);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  void start();
  void stop();
  double elapsed_ms();

 private:
  int device_;
  void* start_ = nullptr;
  void* stop_ = nullptr;
};

/// Enqueues a kernel that keeps the device's stream busy for about `microseconds`, so the host can queue
/// the work to be timed behind it and launch overhead does not show in event timings.
void spin_async(int device, double microseconds);

// --- Work inserted into a device's stream from another thread (the autotuner) ---

/// While it lives, this thread's work for `device` (kernels, stream-ordered allocations, timers, fences)
/// goes to the device's side stream instead of its stream. The autotuner's thread times its candidates
/// and runs the tuned op there, at the position of a Gate.
class SideStreamScope {
 public:
  explicit SideStreamScope(int device);
  ~SideStreamScope();
  SideStreamScope(const SideStreamScope&) = delete;
  SideStreamScope& operator=(const SideStreamScope&) = delete;

 private:
  int previous_;
};

/// A hold in a device's stream, made at call time on the JS thread: the stream's later work waits until
/// release(). Work a SideStreamScope thread enqueues between join() and release() therefore runs at the
/// gate's place in the stream: after everything enqueued before the gate, before everything after it.
/// The hold is a one-thread kernel polling a flag (the side stream's kernels run beside it); the
/// destructor releases a gate not yet released, so the stream never stays held.
class Gate {
 public:
  explicit Gate(int device);
  ~Gate();
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;
  /// The side stream waits for the work enqueued on the stream before the gate.
  void join();
  /// The stream goes on once the side stream's work enqueued so far has finished. Never throws.
  void release() noexcept;

 private:
  int device_;
  void* flag_ = nullptr;
  void* ready_ = nullptr;
  bool released_ = false;
};

/// True once a kernel fault (a sticky error) has lost the device.
bool device_lost(int device);

/// Records the failure of work run for the device off the JS thread (an op the autotuner launched): the
/// device's next read or synchronize raises it once, as for any failure of queued work.
void defer_error(int device, const Error& e);

}  // namespace natten::gpu
