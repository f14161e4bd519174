// Glue between Node-API values and the native layer: storage handles, argument readers, and the guard
// that turns natten::Error (and other C++ exceptions) into JS errors with codes.
#pragma once
#include <napi.h>

#include <string>

#include "../kernels/common/dtype.h"
#include "../kernels/common/error.h"
#include "storage.h"

namespace natten::node {

/// Remembers the JS NattenError class (lib/errors.ts hands it over at load time).
void set_natten_error_class(const Napi::Function& ctor);
/// Builds the JS error for a natten::Error: TypeError / RangeError / NattenError, with `code` set.
Napi::Error to_js_error(Napi::Env env, const Error& e);

/// Wraps a binding function so C++ exceptions become JS exceptions with codes.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const Error& e) {
    throw to_js_error(info.Env(), e);
  } catch (const std::bad_alloc&) {
    throw to_js_error(info.Env(), Error(ErrorKind::Natten, "ERR_NATTEN_OOM", "out of host memory"));
  } catch (const std::exception& e) {
    throw to_js_error(info.Env(), Error(ErrorKind::Natten, "ERR_NATTEN_INTERNAL", e.what()));
  }
}

/// A JS handle (External) owning one StoragePtr; release() empties it (dispose), GC deletes it.
Napi::Value wrap_storage(Napi::Env env, StoragePtr storage);
/// The storage behind a handle; throws ERR_NATTEN_DISPOSED once released.
StoragePtr unwrap_storage(const Napi::Value& handle, const char* arg_name);
/// Drops the handle's reference (idempotent).
void release_storage(const Napi::Value& handle);

DType dtype_arg(const Napi::Value& v, const char* name);
Device device_arg(const Napi::Value& v, const char* name);
int64_t int_arg(const Napi::Value& v, const char* name);

}  // namespace natten::node
