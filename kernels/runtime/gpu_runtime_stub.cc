// gpu_runtime.h for CPU-only builds: no devices; anything device-specific is an ERR_NATTEN_NO_CUDA error.
#include "gpu_runtime.h"

namespace natten::gpu {
namespace {
[[noreturn]] void no_cuda() {
  throw Error(ErrorKind::Natten, "ERR_NATTEN_NO_CUDA",
              "this natten-node addon was built without CUDA (nvcc was not found at install time); "
              "reinstall with the CUDA toolkit present (or NATTEN_CUDA=1) to use CUDA devices");
}
}  // namespace

BuildInfo build_info() { return BuildInfo{}; }
int device_count() { return 0; }
DeviceInfo device_info(int) { no_cuda(); }
void* stream(int) { no_cuda(); }
void* alloc(int, size_t) { no_cuda(); }
void release(int, void*, size_t) noexcept {}
void upload_async(int, void*, const void*, size_t) { no_cuda(); }
void upload_sync(int, void*, const void*, size_t) { no_cuda(); }
void download_sync(int, void*, const void*, size_t) { no_cuda(); }
void memset_async(int, void*, int, size_t) { no_cuda(); }
void copy_async(int, void*, const void*, size_t) { no_cuda(); }
void convert_async(int, const void*, DType, void*, DType, size_t) { no_cuda(); }
void randn_async(int, void*, DType, size_t, uint64_t) { no_cuda(); }
Fence::Fence(int device) : device_(device) { no_cuda(); }
Fence::~Fence() {}
void Fence::wait() {}
void check_async_errors(int) {}
void note_exit_code(int) {}
void fault_async(int) { no_cuda(); }

Timer::Timer(int device) : device_(device) { no_cuda(); }
Timer::~Timer() {}
void Timer::start() { no_cuda(); }
void Timer::stop() { no_cuda(); }
double Timer::elapsed_ms() { no_cuda(); }
void spin_async(int, double) { no_cuda(); }

SideStreamScope::SideStreamScope(int) : previous_(-1) { no_cuda(); }
SideStreamScope::~SideStreamScope() {}
Gate::Gate(int device) : device_(device) { no_cuda(); }
Gate::~Gate() {}
void Gate::join() { no_cuda(); }
void Gate::release() noexcept {}
bool device_lost(int) { return false; }
void defer_error(int, const Error&) {}

}  // namespace natten::gpu
