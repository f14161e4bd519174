// CUDA implementation of gpu_runtime.h.
#include "gpu_runtime.h"

#include <cuda_runtime.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include "../common/random.h"
#include "cuda_check.h"
#include "device_caps.h"

namespace natten::gpu {
namespace {

struct DeviceState {
  cudaStream_t stream = nullptr;    // ordered work queue of the device
  cudaStream_t transfer = nullptr;  // blocking copies made by worker threads after a fence
  cudaStream_t side = nullptr;      // work inserted at a Gate of the stream (SideStreamScope)
  std::mutex transfer_mutex;
};

// The device whose work this thread sends to the side stream (SideStreamScope), -1 for none.
thread_local int t_side_device = -1;

// Process-wide and never destroyed: device threads may use them while the process exits.
std::mutex g_init_mutex;
auto* g_devices = new std::vector<std::unique_ptr<DeviceState>>();

// Devices whose context a kernel fault has lost, and the first error seen there.
constexpr int kMaxDevices = 64;
std::atomic<bool> g_lost[kMaxDevices];
std::mutex g_lost_mutex;
auto* g_lost_reason = new std::vector<std::string>(kMaxDevices);

std::atomic<int> g_exit_code{0};

// Kernels are loaded when CUDA starts, not at their first launch (CUDA_MODULE_LOADING=EAGER unless the
// user set it), for two reasons. The autotuner holds a device's stream with a polling kernel (Gate) while
// its candidates run on the side stream; loading a kernel lazily can need the whole context idle, so a
// candidate launched for the first time behind a held stream would wait for the hold and the hold for the
// candidate: a deadlock (CUDA programming guide, "Lazy Loading", possible issues: concurrent execution).
// And a lazy load happens inside the first launch of each kernel, on the JS thread. Set here, at load of
// the addon, before the first CUDA call; the driver reads it once.
[[maybe_unused]] const bool g_eager_modules = setenv("CUDA_MODULE_LOADING", "EAGER", /*overwrite=*/0) == 0;

// Bytes this process holds through alloc() per device, and the cap NATTEN_CUDA_MEMORY_LIMIT puts on them
// (0: none). A cap lets several processes share a card: the stream-ordered pool keeps freed memory for
// reuse, so without one a process holds its high-water mark.
std::atomic<int64_t> g_in_use[kMaxDevices];

/// A byte count from the environment (plain, or with a k/m/g suffix); `fallback` when unset or invalid.
int64_t env_bytes(const char* name, int64_t fallback) {
  const char* env = std::getenv(name);
  if (!env || !*env) return fallback;
  char* end = nullptr;
  const double v = std::strtod(env, &end);
  const char unit = end && *end ? (char)(*end | 0x20) : 'b';
  const double scale = unit == 'k' ? 1024.0 : unit == 'm' ? 1048576.0 : unit == 'g' ? 1073741824.0 : 1.0;
  return v >= 0 && end != env ? (int64_t)(v * scale) : fallback;
}

int64_t memory_limit() {
  static const int64_t limit = env_bytes("NATTEN_CUDA_MEMORY_LIMIT", 0);
  return limit;
}

/// Freed bytes the pool keeps for reuse (NATTEN_CUDA_POOL_KEEP, default 2 GiB).
uint64_t pool_keep() { return (uint64_t)env_bytes("NATTEN_CUDA_POOL_KEEP", int64_t(2) << 30); }

/// Counts `bytes` against the device's cap, or throws ERR_NATTEN_OOM when they would exceed it.
void reserve_under_limit(int device, size_t bytes) {
  const int64_t limit = memory_limit();
  const int64_t now = g_in_use[device] += (int64_t)bytes;
  if (limit > 0 && now > limit) {
    g_in_use[device] -= (int64_t)bytes;
    throw Error(ErrorKind::Natten, "ERR_NATTEN_OOM",
                "CUDA out of memory: cannot allocate " + std::to_string(bytes) +
                    " bytes on cuda:" + std::to_string(device) + " within NATTEN_CUDA_MEMORY_LIMIT (" +
                    std::to_string(limit) + " bytes; " + std::to_string(now - (int64_t)bytes) + " in use)");
  }
}

void throw_if_lost(int device) {
  if (device < 0 || device >= kMaxDevices || !g_lost[device].load()) return;
  std::lock_guard<std::mutex> lock(g_lost_mutex);
  throw Error(ErrorKind::Natten, "ERR_NATTEN_CUDA",
              "cuda:" + std::to_string(device) + " is unusable after an earlier kernel fault (" +
                  (*g_lost_reason)[device] + "): restart the process to use this device again");
}

/// At process exit with work still queued on a device, CUDA's own teardown would wait for all of it
/// (seconds, or minutes). The queued work is dropped instead: the process ends at once with its exit code.
/// Registered after CUDA's runtime initialised, so it runs before the runtime's teardown.
void exit_without_waiting() {
  // No lock: the list is sized once, before this is registered; a thread holding the lock at exit
  // must not stall the exit.
  for (auto& s : *g_devices) {
    if (s && cudaStreamQuery(s->stream) == cudaErrorNotReady) {
      std::fflush(nullptr);
      _exit(g_exit_code.load());
    }
  }
}

DeviceState& state(int device) {
  throw_if_lost(device);
  std::lock_guard<std::mutex> lock(g_init_mutex);
  if (g_devices->empty()) g_devices->resize(device_count());
  if (device < 0 || device >= (int)g_devices->size())
    throw Error(ErrorKind::Range, "ERR_NATTEN_DEVICE", "no CUDA device cuda:" + std::to_string(device));
  auto& s = (*g_devices)[device];
  if (!s) {
    auto st = std::make_unique<DeviceState>();
    NATTEN_CUDA_CHECK(cudaSetDevice(device));
    NATTEN_CUDA_CHECK(cudaStreamCreateWithFlags(&st->stream, cudaStreamNonBlocking));
    NATTEN_CUDA_CHECK(cudaStreamCreateWithFlags(&st->transfer, cudaStreamNonBlocking));
    NATTEN_CUDA_CHECK(cudaStreamCreateWithFlags(&st->side, cudaStreamNonBlocking));
    // Keep up to pool_keep() freed bytes in the pool (stream-ordered reuse without the driver); CUDA
    // returns what is above it at the next synchronisation, so a long-lived process does not hold its
    // high-water mark (other processes on the card need it).
    cudaMemPool_t pool;
    NATTEN_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
    uint64_t threshold = pool_keep();
    NATTEN_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
    // No reuse across streams through an inserted wait: an allocation on the side stream must never wait for
    // a block freed on the stream behind a Gate (the gate's own flag is one), or the side stream waits for
    // the gate it is meant to release. Reuse within a stream, and of blocks whose free has run, stays.
    int no_internal_wait = 0;
    NATTEN_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolReuseAllowInternalDependencies, &no_internal_wait));
    s = std::move(st);
    static bool registered = (std::atexit(exit_without_waiting), true);
    (void)registered;
  }
  return *s;
}

/// The stream this thread's work for the device goes to: its side stream under a SideStreamScope.
cudaStream_t work_stream(const DeviceState& s, int device) { return device == t_side_device ? s.side : s.stream; }

/// Makes `device` current for this thread (CUDA calls from worker threads need it).
cudaStream_t use(int device) {
  DeviceState& s = state(device);
  NATTEN_CUDA_CHECK(cudaSetDevice(device));
  return work_stream(s, device);
}

// Failures of work run off the JS thread (defer_error), raised once by the next check_async_errors.
std::mutex g_deferred_mutex;
auto* g_deferred = new std::vector<std::unique_ptr<Error>>(kMaxDevices);

constexpr int kThreads = 256;
unsigned blocks_for(size_t n) {
  size_t b = (n + kThreads - 1) / kThreads;
  return (unsigned)(b < 65536 * 8 ? (b ? b : 1) : 65536 * 8);  // grid-stride loops cover the rest
}

__global__ void convert_kernel(const void* src, DType st, void* dst, DType dt, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    store_element(dst, dt, i, load_element(src, st, i));
}

// Debug: a store to an address no allocation covers (a sticky "illegal address" fault).
__global__ void fault_kernel(int* p) { *reinterpret_cast<volatile int*>(p) = 1; }

__global__ void randn_kernel(void* dst, DType t, size_t n, uint64_t seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    store_element(dst, t, i, randn_at(seed, i));
}

}  // namespace

std::string mark_current_device_lost(const std::string& error) {
  int device = -1;
  cudaGetDevice(&device);
  if (device < 0 || device >= kMaxDevices) return error + " (the CUDA context is lost: restart the process)";
  {
    std::lock_guard<std::mutex> lock(g_lost_mutex);
    if (!g_lost[device].load()) (*g_lost_reason)[device] = error;
    g_lost[device] = true;
  }
  return error + " (the CUDA context of cuda:" + std::to_string(device) +
         " is lost: restart the process to use this device again)";
}

// The error of the device query, when it failed (reported by build_info()).
static std::atomic<int> g_device_query_error{cudaSuccess};

BuildInfo build_info() {
  BuildInfo b;
  device_count();
  const auto e = static_cast<cudaError_t>(g_device_query_error.load());
  if (e != cudaSuccess) b.device_status = cudaGetErrorName(e);
  b.cuda = true;
  b.cuda_version = NATTEN_CUDA_VERSION;
  b.archs = NATTEN_CUDA_ARCHS;
  cudaRuntimeGetVersion(&b.runtime_version);
  if (cudaDriverGetVersion(&b.driver_version) != cudaSuccess) b.driver_version = 0;
  return b;
}

int device_count() {
  static int count = [] {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      g_device_query_error = e;
      cudaGetLastError();  // no driver / no device: not an error for a library that also runs on CPU
      return 0;
    }
    return n;
  }();
  return count;
}

DeviceInfo device_info(int device) {
  use(device);
  const fused::DeviceCaps caps = fused::device_caps(device);  // the one capability query (device_caps.cu)
  DeviceInfo d;
  d.name = fused::device_name(device);
  d.major = caps.cc_major;
  d.minor = caps.cc_minor;
  d.sm_count = caps.sm_count;
  d.shared_memory_per_block_optin = static_cast<size_t>(caps.smem_optin);
  NATTEN_CUDA_CHECK(cudaMemGetInfo(&d.free_memory, &d.total_memory));
  return d;
}

void* stream(int device) { return work_stream(state(device), device); }

void* alloc(int device, size_t bytes) {
  cudaStream_t s = use(device);
  if (bytes == 0) return nullptr;
  reserve_under_limit(device, bytes);
  void* p = nullptr;
  cudaError_t e = cudaMallocAsync(&p, bytes, s);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    // Give cached pool blocks back and retry once before reporting out-of-memory.
    cudaMemPool_t pool;
    NATTEN_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
    NATTEN_CUDA_CHECK(cudaStreamSynchronize(s));
    NATTEN_CUDA_CHECK(cudaMemPoolTrimTo(pool, 0));
    e = cudaMallocAsync(&p, bytes, s);
  }
  if (e != cudaSuccess) g_in_use[device] -= (int64_t)bytes;
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    throw Error(ErrorKind::Natten, "ERR_NATTEN_OOM",
                "CUDA out of memory: cannot allocate " + std::to_string(bytes) +
                    " bytes on cuda:" + std::to_string(device) + " (" + std::to_string(free_b) + " of " +
                    std::to_string(total_b) + " bytes free)");
  }
  NATTEN_CUDA_CHECK(e);
  return p;
}

void release(int device, void* ptr, size_t bytes) noexcept {
  if (!ptr) return;
  if (device >= 0 && device < kMaxDevices) g_in_use[device] -= (int64_t)bytes;
  try {
    cudaStream_t s = use(device);
    cudaFreeAsync(ptr, s);
  } catch (...) {
    // A freed pointer during a broken context: nothing useful to do.
  }
}

void upload_async(int device, void* dst, const void* src, size_t bytes) {
  if (!bytes) return;
  NATTEN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, use(device)));
}

namespace {
/// A blocking copy on the device's transfer stream (one transfer at a time per device).
void copy_sync(int device, void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (!bytes) return;
  DeviceState& s = state(device);
  std::lock_guard<std::mutex> lock(s.transfer_mutex);
  use(device);
  NATTEN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, s.transfer));
  NATTEN_CUDA_CHECK(cudaStreamSynchronize(s.transfer));
}
}  // namespace

void upload_sync(int device, void* dst, const void* src, size_t bytes) {
  copy_sync(device, dst, src, bytes, cudaMemcpyHostToDevice);
}

void download_sync(int device, void* dst, const void* src, size_t bytes) {
  copy_sync(device, dst, src, bytes, cudaMemcpyDeviceToHost);
}

void memset_async(int device, void* dst, int value, size_t bytes) {
  if (!bytes) return;
  NATTEN_CUDA_CHECK(cudaMemsetAsync(dst, value, bytes, use(device)));
}

void copy_async(int device, void* dst, const void* src, size_t bytes) {
  if (!bytes) return;
  NATTEN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, use(device)));
}

void convert_async(int device, const void* src, DType src_type, void* dst, DType dst_type, size_t n) {
  if (!n) return;
  cudaStream_t s = use(device);
  convert_kernel<<<blocks_for(n), kThreads, 0, s>>>(src, src_type, dst, dst_type, n);
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

void randn_async(int device, void* dst, DType type, size_t n, uint64_t seed) {
  if (!n) return;
  cudaStream_t s = use(device);
  randn_kernel<<<blocks_for(n), kThreads, 0, s>>>(dst, type, n, seed);
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

Fence::Fence(int device) : device_(device) {
  cudaStream_t s = use(device);
  cudaEvent_t e;
  NATTEN_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  NATTEN_CUDA_CHECK(cudaEventRecord(e, s));
  event_ = e;
}

Fence::~Fence() {
  if (event_) cudaEventDestroy(static_cast<cudaEvent_t>(event_));
}

void Fence::wait() {
  use(device_);  // a fault seen here is attributed to this device
  NATTEN_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event_)));
}

void note_exit_code(int code) { g_exit_code = code; }

void fault_async(int device) {
  cudaStream_t s = use(device);
  fault_kernel<<<1, 1, 0, s>>>(reinterpret_cast<int*>(uintptr_t(8)));
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

void check_async_errors(int device) {
  use(device);
  NATTEN_CUDA_CHECK(cudaGetLastError());
  std::unique_ptr<Error> deferred;
  {
    std::lock_guard<std::mutex> lock(g_deferred_mutex);
    if (device >= 0 && device < kMaxDevices) deferred = std::move((*g_deferred)[device]);
  }
  if (deferred) throw *deferred;
}

bool device_lost(int device) { return device >= 0 && device < kMaxDevices && g_lost[device].load(); }

void defer_error(int device, const Error& e) {
  if (device < 0 || device >= kMaxDevices) return;
  std::lock_guard<std::mutex> lock(g_deferred_mutex);
  if (!(*g_deferred)[device]) (*g_deferred)[device] = std::make_unique<Error>(e);
}

// --- GPU timing (benchmarks) ---

namespace {
__global__ void spin_kernel(uint64_t nanoseconds) {
  uint64_t t0, t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  do {
    __nanosleep(1000);
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  } while (t - t0 < nanoseconds);
}
}  // namespace

Timer::Timer(int device) : device_(device) {
  use(device);
  cudaEvent_t a, b;
  NATTEN_CUDA_CHECK(cudaEventCreate(&a));
  if (cudaError_t e = cudaEventCreate(&b); e != cudaSuccess) {
    cudaEventDestroy(a);
    NATTEN_CUDA_CHECK(e);
  }
  start_ = a;
  stop_ = b;
}

Timer::~Timer() {
  if (start_) cudaEventDestroy(static_cast<cudaEvent_t>(start_));
  if (stop_) cudaEventDestroy(static_cast<cudaEvent_t>(stop_));
}

void Timer::start() { NATTEN_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(start_), use(device_))); }

void Timer::stop() { NATTEN_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(stop_), use(device_))); }

double Timer::elapsed_ms() {
  use(device_);
  NATTEN_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(stop_)));
  float ms = 0.f;
  NATTEN_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start_), static_cast<cudaEvent_t>(stop_)));
  return ms;
}

void spin_async(int device, double microseconds) {
  if (!(microseconds > 0)) return;
  spin_kernel<<<1, 1, 0, use(device)>>>((uint64_t)(microseconds * 1000.0));
  NATTEN_CUDA_CHECK(cudaGetLastError());
}

// --- Work inserted into a device's stream from another thread ---

namespace {
// Holds its stream until the flag turns non-zero; one thread, sleeping between polls, so the side stream's
// kernels run beside it at (nearly) full speed.
__global__ void gate_kernel(const volatile int* flag) {
  while (*flag == 0) __nanosleep(2000);
}
}  // namespace

SideStreamScope::SideStreamScope(int device) : previous_(t_side_device) {
  state(device);  // creates the side stream
  t_side_device = device;
}

SideStreamScope::~SideStreamScope() { t_side_device = previous_; }

Gate::Gate(int device) : device_(device) {
  DeviceState& st = state(device);
  NATTEN_CUDA_CHECK(cudaSetDevice(device));
  cudaStream_t s = st.stream;
  cudaEvent_t ready = nullptr;
  NATTEN_CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
  ready_ = ready;
  void* flag = nullptr;
  try {
    reserve_under_limit(device, sizeof(int));
    if (cudaError_t e = cudaMallocAsync(&flag, sizeof(int), s); e != cudaSuccess) {
      g_in_use[device] -= (int64_t)sizeof(int);
      NATTEN_CUDA_CHECK(e);
    }
    NATTEN_CUDA_CHECK(cudaMemsetAsync(flag, 0, sizeof(int), s));
    NATTEN_CUDA_CHECK(cudaEventRecord(ready, s));
    gate_kernel<<<1, 1, 0, s>>>(static_cast<int*>(flag));
    NATTEN_CUDA_CHECK(cudaGetLastError());
  } catch (...) {
    if (flag) {
      g_in_use[device] -= (int64_t)sizeof(int);
      cudaFreeAsync(flag, s);
    }
    cudaEventDestroy(ready);
    throw;
  }
  // Freed by release(), after its write: a block freed with cudaFreeAsync is no longer an allocation for the
  // API, and a memset of it fails (cudaErrorInvalidValue), so the gate would never open.
  flag_ = flag;
}

Gate::~Gate() {
  release();
  if (ready_) cudaEventDestroy(static_cast<cudaEvent_t>(ready_));
}

void Gate::join() {
  DeviceState& st = state(device_);
  NATTEN_CUDA_CHECK(cudaSetDevice(device_));
  NATTEN_CUDA_CHECK(cudaStreamWaitEvent(st.side, static_cast<cudaEvent_t>(ready_), 0));
}

void Gate::release() noexcept {
  if (released_) return;
  released_ = true;
  try {
    DeviceState& st = state(device_);
    cudaSetDevice(device_);
    // Without a join the side stream has not waited for the flag's zeroing: make it wait first.
    cudaStreamWaitEvent(st.side, static_cast<cudaEvent_t>(ready_), 0);
    if (cudaMemsetAsync(flag_, 1, sizeof(int), st.side) != cudaSuccess) {  // any non-zero bytes end the gate
      // Without the write the stream would stay held for ever: a failure here is a broken context.
      std::fprintf(stderr, "natten-node: cannot release a held stream of cuda:%d: %s\n", device_,
                   cudaGetErrorString(cudaGetLastError()));
    }
    // Freed in the held stream's order: after the gate kernel, which outlives every read of the flag.
    g_in_use[device_] -= (int64_t)sizeof(int);
    cudaFreeAsync(flag_, st.stream);
  } catch (...) {
    // A lost device: its streams are dead, the gate with them.
  }
}

}  // namespace natten::gpu
