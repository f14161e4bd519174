// Glue between Node-API values and the native layer: storage handles, argument readers, the guard that
// turns natten::Error (and other C++ exceptions) into JS errors with codes, and the registry of bindings.
#pragma once
#include <napi.h>

#include <functional>
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

/// A binding's callback (wrapped in guarded<> when registered).
using BindingFn = Napi::Value (*)(const Napi::CallbackInfo&);
/// Registers a binding under its JS name while the addon loads (NATTEN_BINDING): each binding is declared
/// where it is defined, and module init exports them all, so no list of them is kept anywhere.
struct BindingRegistration {
  BindingRegistration(const char* name, BindingFn fn);
};
/// Adds every registered binding to exports (module init, once per environment).
void export_bindings(Napi::Env env, Napi::Object exports);

/// A JS array of the first n values.
Napi::Array int_array(Napi::Env env, const int* values, int n);

/// A JS handle (External) owning one StoragePtr; release() empties it (dispose), GC deletes it.
Napi::Value wrap_storage(Napi::Env env, StoragePtr storage);
/// How a message names an argument, spelled only when there is a message (a call that reads its arguments
/// successfully builds no names).
using ArgName = std::function<std::string()>;

/// The storage behind a handle; throws ERR_NATTEN_DISPOSED once released.
StoragePtr unwrap_storage(const Napi::Value& handle, const ArgName& name);
/// Drops the handle's reference (idempotent).
void release_storage(const Napi::Value& handle, const ArgName& name);

}  // namespace natten::node

/// Exports `fn` (a binding function of this file) as `js_name`; use at namespace scope after its definition.
#define NATTEN_BINDING(js_name, fn) \
  const ::natten::node::BindingRegistration fn##_registration(js_name, &::natten::node::guarded<fn>)
