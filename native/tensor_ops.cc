// Tensor creation, conversion, transfer and readback bindings (docs/design.md §3-§4; typed in lib/native.ts).
// Each reads one options object.
#include <cstring>
#include <future>
#include <vector>

#include "../engine/cpu/convert.h"
#include "../engine/cpu/host_buffer.h"
#include "../engine/cpu/parallel.h"
#include "../kernels/common/random.h"
#include "../kernels/runtime/gpu_runtime.h"
#include "addon_env.h"
#include "after_device.h"
#include "cpu_queue.h"
#include "js_interop.h"
#include "options_arg.h"

namespace natten::node {
namespace {

/// options[key], a storage that must hold `n` elements of dtype t (a read of n elements stays inside it).
StoragePtr source_arg(const Options& o, const char* key, DType t, size_t n) {
  StoragePtr s = o.storage(key);
  if (s->bytes() < n * dtype_size(t))
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_SHAPE",
                o.name(key) + " holds " + std::to_string(s->bytes()) + " bytes, " + std::to_string(n) +
                    " elements need " + std::to_string(n * dtype_size(t)));
  return s;
}

StoragePtr make_storage(Device d, size_t bytes) {
  if (!d.is_cpu() && d.index >= gpu::device_count()) {
    if (gpu::device_count() == 0 && !gpu::build_info().cuda) gpu::device_info(d.index);  // throws NO_CUDA
    throw Error(ErrorKind::Range, "ERR_NATTEN_DEVICE",
                "device cuda:" + std::to_string(d.index) + " does not exist (" + std::to_string(gpu::device_count()) +
                    " CUDA device(s) visible)");
  }
  return std::make_shared<Storage>(d, bytes);
}

/// A new storage of options.numel elements of options.dtype on options.device (numel <= 2^53: the byte
/// count fits 64 bits).
StoragePtr new_storage(const Options& o) {
  return make_storage(o.device(), (size_t)o.count("numel") * dtype_size(o.dtype()));
}

// empty({device, dtype, numel})
Napi::Value Empty(const Napi::CallbackInfo& info) { return wrap_storage(info.Env(), new_storage(Options(info))); }
NATTEN_BINDING("empty", Empty);

// zeros({device, dtype, numel})
Napi::Value Zeros(const Napi::CallbackInfo& info) {
  StoragePtr s = new_storage(Options(info));
  const Device d = s->device();
  if (d.is_cpu()) {
    CpuQueue::get().enqueue([s] {
      cpu::parallel_for((int64_t)s->bytes(), 1 << 20, [&](int64_t b, int64_t e) {
        std::memset(static_cast<char*>(s->data()) + b, 0, (size_t)(e - b));
      });
    });
  } else {
    gpu::memset_async(d.index, s->data(), 0, s->bytes());
  }
  return wrap_storage(info.Env(), s);
}
NATTEN_BINDING("zeros", Zeros);

// fromArray({device, dtype, data, srcDtype}): copies the JS data now (the caller may reuse its array).
Napi::Value FromArray(const Napi::CallbackInfo& info) {
  const Options o(info);
  const Device d = o.device();
  const DType t = o.dtype();
  if (!o.get("data").IsTypedArray())
    throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", "options.data must be a typed array");
  const DType st = o.dtype("srcDtype");
  Napi::TypedArray arr = o.get("data").As<Napi::TypedArray>();
  const size_t n = arr.ElementLength();
  if (arr.ElementSize() != (size_t)dtype_size(st))
    throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE",
                "options.data's element size does not match options.srcDtype");
  const char* src = static_cast<const char*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
  StoragePtr s = make_storage(d, n * dtype_size(t));
  if (d.is_cpu()) {
    cpu::convert(src, st, s->data(), t, 0, n);
  } else if (st == t) {
    gpu::upload_async(d.index, s->data(), src, s->bytes());
  } else {
    cpu::HostBuffer tmp(s->bytes());
    cpu::convert(src, st, tmp.data(), t, 0, n);
    gpu::upload_async(d.index, s->data(), tmp.data(), s->bytes());
  }
  return wrap_storage(info.Env(), s);
}
NATTEN_BINDING("fromArray", FromArray);

// randn({device, dtype, numel, seed})
Napi::Value Randn(const Napi::CallbackInfo& info) {
  const Options o(info);
  StoragePtr s = new_storage(o);
  const DType t = o.dtype();
  const int64_t n = o.count("numel");
  const uint64_t seed = (uint64_t)o.count("seed");
  const Device d = s->device();
  if (d.is_cpu()) {
    CpuQueue::get().enqueue([s, t, n, seed] {
      cpu::parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) store_element(s->data(), t, (size_t)i, randn_at(seed, (uint64_t)i));
      });
    });
  } else {
    gpu::randn_async(d.index, s->data(), t, (size_t)n, seed);
  }
  return wrap_storage(info.Env(), s);
}
NATTEN_BINDING("randn", Randn);

// copy({src, srcDtype, device, dtype, numel}): a new storage on device holding src's first numel elements
// converted to dtype (Tensor.to()).
Napi::Value Copy(const Napi::CallbackInfo& info) {
  const Options o(info);
  const DType st = o.dtype("srcDtype");
  const size_t n = (size_t)o.count("numel");
  StoragePtr src = source_arg(o, "src", st, n);
  const Device dd = o.device();
  const DType dt = o.dtype();
  const Device sd = src->device();
  StoragePtr dst = make_storage(dd, n * dtype_size(dt));
  if (sd.is_cpu() && dd.is_cpu()) {
    CpuQueue::get().enqueue([src, dst, st, dt, n] { cpu::convert_parallel(src->data(), st, dst->data(), dt, n); });
  } else if (sd == dd) {
    if (st == dt) gpu::copy_async(dd.index, dst->data(), src->data(), dst->bytes());
    else gpu::convert_async(dd.index, src->data(), st, dst->data(), dt, n);
  } else if (dd.is_cpu()) {
    // GPU -> CPU: the CPU queue waits (on a worker thread) for the source's producer, then copies. Work
    // enqueued later on the CPU queue sees the data; the event loop never waits.
    auto fence = std::make_shared<gpu::Fence>(sd.index);
    CpuQueue::get().enqueue([=] {
      fence->wait();
      gpu::check_async_errors(sd.index);
      cpu::HostBuffer staged(src->bytes());
      gpu::download_sync(sd.index, staged.data(), src->data(), src->bytes());
      cpu::convert_parallel(staged.data(), st, dst->data(), dt, n);
    });
  } else {
    // CPU (or another GPU) -> GPU: the copy must be enqueued on the destination stream now, so that work
    // enqueued after it sees the data. The source must therefore be complete: this waits for the source
    // device's pending work (usually none: host data comes from tensor()), then uploads in the source
    // dtype and converts on the device. CUDA forbids the alternative of holding the stream in a host
    // callback until a CPU task has copied (a callback must not wait for other CUDA work).
    wait_for_device(sd);
    const void* host_src = src->data();
    cpu::HostBuffer staged;
    if (!sd.is_cpu()) {
      staged = cpu::HostBuffer(src->bytes());
      gpu::download_sync(sd.index, staged.data(), src->data(), src->bytes());
      host_src = staged.data();
    }
    if (st == dt) {
      gpu::upload_async(dd.index, dst->data(), host_src, dst->bytes());
    } else {
      Storage raw(dd, src->bytes());  // freed stream-ordered, after the conversion kernel
      gpu::upload_async(dd.index, raw.data(), host_src, src->bytes());
      gpu::convert_async(dd.index, raw.data(), st, dst->data(), dt, n);
    }
  }
  return wrap_storage(info.Env(), dst);
}
NATTEN_BINDING("copy", Copy);

DType output_type(DType t) { return t == DType::Float64 ? DType::Float64 : DType::Float32; }

/// A typed array over a host block (Float64Array for float64 storage, else Float32Array). The array
/// owns the block (external ArrayBuffer), or a copy where the runtime forbids external buffers.
Napi::TypedArray wrap_output(Napi::Env env, DType t, size_t n, cpu::HostBuffer buf) {
  const size_t bytes = buf.bytes();
  Napi::ArrayBuffer ab;
  napi_value raw;
  if (bytes && napi_create_external_arraybuffer(
                   env, buf.data(), bytes,
                   [](napi_env, void* data, void* hint) { cpu::host_free(data, reinterpret_cast<size_t>(hint)); },
                   reinterpret_cast<void*>(bytes), &raw) == napi_ok) {
    buf.release();
    ab = Napi::ArrayBuffer(env, raw);
  } else {
    ab = Napi::ArrayBuffer::New(env, bytes);
    if (bytes) std::memcpy(ab.Data(), buf.data(), bytes);
  }
  if (output_type(t) == DType::Float64) return Napi::Float64Array::New(env, n, ab, 0);
  return Napi::Float32Array::New(env, n, ab, 0);
}

/// Converts a storage's first n elements into `out` (float32, or float64 for float64 storage).
void read_into(const StoragePtr& s, DType t, size_t n, void* out) {
  const DType ot = output_type(t);
  if (s->device().is_cpu()) {
    cpu::convert(s->data(), t, out, ot, 0, n);
    return;
  }
  if (t == ot) {
    gpu::download_sync(s->device().index, out, s->data(), n * dtype_size(t));
    return;
  }
  cpu::HostBuffer staged(n * dtype_size(t));
  gpu::download_sync(s->device().index, staged.data(), s->data(), staged.bytes());
  cpu::convert(staged.data(), t, out, ot, 0, n);
}

// toArray({tensor, dtype, numel}) -> Promise: the values are read on the device's own thread into a host
// block that becomes the array's memory, after the work queued so far.
Napi::Value ToArray(const Napi::CallbackInfo& info) {
  const Options o(info);
  const DType t = o.dtype();
  const size_t n = (size_t)o.count("numel");
  const StoragePtr s = source_arg(o, "tensor", t, n);
  auto [promise, reply] = addon_env(info.Env()).completion->expect(info.Env());
  after_device(s->device(), reply, [s, t, n]() -> Reply::MakeValue {
    auto buf = std::make_shared<cpu::HostBuffer>(n * dtype_size(output_type(t)));
    read_into(s, t, n, buf->data());
    return [buf, t, n](Napi::Env env) { return wrap_output(env, t, n, std::move(*buf)); };
  });
  return promise;
}
NATTEN_BINDING("toArray", ToArray);

// toArraySync({tensor, dtype, numel}): the same, waiting on the calling thread.
Napi::Value ToArraySync(const Napi::CallbackInfo& info) {
  const Options o(info);
  const DType t = o.dtype();
  const size_t n = (size_t)o.count("numel");
  const StoragePtr s = source_arg(o, "tensor", t, n);
  cpu::HostBuffer buf(n * dtype_size(output_type(t)));
  wait_for_device(s->device());
  read_into(s, t, n, buf.data());
  return wrap_output(info.Env(), t, n, std::move(buf));
}
NATTEN_BINDING("toArraySync", ToArraySync);

// share({tensor}): a second handle to the same storage (views such as reshape keep it alive independently).
Napi::Value Share(const Napi::CallbackInfo& info) { return wrap_storage(info.Env(), Options(info).storage("tensor")); }
NATTEN_BINDING("share", Share);

// view({tensor, offset, bytes}): a handle to bytes [offset, offset + bytes) of the tensor's storage, sharing
// it (split and chunk return such views where a part is one contiguous run).
Napi::Value View(const Napi::CallbackInfo& info) {
  const Options o(info);
  StoragePtr s = o.storage("tensor");
  const int64_t offset = o.count("offset"), bytes = o.count("bytes");
  if ((uint64_t)offset > s->bytes() || (uint64_t)bytes > s->bytes() - (uint64_t)offset)
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_SHAPE",
                "options.offset + options.bytes = " + std::to_string(offset + bytes) + " is past the " +
                    std::to_string(s->bytes()) + " bytes of options.tensor");
  return wrap_storage(info.Env(), std::make_shared<Storage>(s, (size_t)offset, (size_t)bytes));
}
NATTEN_BINDING("view", View);

// release({tensor}): drops the handle's reference (idempotent).
Napi::Value Release(const Napi::CallbackInfo& info) {
  release_storage(Options(info).get("tensor"), [] { return std::string("options.tensor"); });
  return info.Env().Undefined();
}
NATTEN_BINDING("release", Release);

// synchronize({device}) -> Promise: settles once the work queued so far on the device has finished.
Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  const Device d = Options(info).device();
  if (!d.is_cpu() && d.index >= gpu::device_count())
    throw Error(ErrorKind::Range, "ERR_NATTEN_DEVICE", "device cuda:" + std::to_string(d.index) + " does not exist");
  auto [promise, reply] = addon_env(info.Env()).completion->expect(info.Env());
  after_device(d, reply, [] { return [](Napi::Env env) { return env.Undefined(); }; });
  return promise;
}
NATTEN_BINDING("synchronize", Synchronize);

// memory() -> {cpu, 'cuda:N'...}: bytes held by live storages per device.
Napi::Value Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("cpu", Napi::Number::New(env, (double)bytes_in_use(Device{-1})));
  for (int i = 0; i < gpu::device_count(); ++i)
    o.Set("cuda:" + std::to_string(i), Napi::Number::New(env, (double)bytes_in_use(Device{i})));
  return o;
}
NATTEN_BINDING("memory", Memory);

// liveStorages({device}): how many storages are alive there (tests of lifetimes; natten.internal).
Napi::Value LiveStorages(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), (double)storages_alive(Options(info).device()));
}
NATTEN_BINDING("liveStorages", LiveStorages);

}  // namespace

}  // namespace natten::node
