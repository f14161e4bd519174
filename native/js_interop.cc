#include "js_interop.h"

#include "addon_env.h"

namespace natten::node {
namespace {

/// What a JS storage handle owns: one reference to the storage, and the bytes it reported to V8 as
/// external memory (so the garbage collector sees what forgotten tensors hold).
struct Holder {
  StoragePtr storage;
  int64_t reported = 0;

  void drop(napi_env env) {
    int64_t total;  // Node-API requires the out-parameter
    if (reported) napi_adjust_external_memory(env, -reported, &total);
    reported = 0;
    storage.reset();
  }
};

/// Runs inside the garbage collector (the addon is built for synchronous finalizers): it may only use
/// the Node-API calls that do not touch the JS heap. Freeing here, not in a later tick, is what lets an
/// out-of-memory retry after a GC find the memory.
void finalize_holder(napi_env env, void* data, void*) {
  auto* h = static_cast<Holder*>(data);
  h->drop(env);
  delete h;
}

// Tags our Externals so a foreign External passed by mistake is rejected, not dereferenced.
const napi_type_tag kHolderTag = {0x6e617474656e5f73ull, 0x746f726167655f31ull};

Holder* holder_of(const Napi::Value& v, const char* name) {
  if (!v.IsExternal() || !v.As<Napi::External<Holder>>().CheckTypeTag(&kHolderTag))
    throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", std::string(name) + " must be a tensor handle");
  return v.As<Napi::External<Holder>>().Data();
}

}  // namespace

void set_natten_error_class(const Napi::Function& ctor) { addon_env(ctor.Env()).natten_error = Napi::Persistent(ctor); }

Napi::Error to_js_error(Napi::Env env, const Error& e) {
  Napi::Error err;
  switch (e.kind()) {
    case ErrorKind::Type: err = Napi::TypeError::New(env, e.what()); break;
    case ErrorKind::Range: err = Napi::RangeError::New(env, e.what()); break;
    default:
      Napi::FunctionReference& cls = addon_env(env).natten_error;
      if (!cls.IsEmpty()) {
        err = Napi::Error(env, cls.New({Napi::String::New(env, e.what()), Napi::String::New(env, e.code())}));
      } else {
        err = Napi::Error::New(env, e.what());
      }
  }
  err.Set("code", Napi::String::New(env, e.code()));
  return err;
}

Napi::Value wrap_storage(Napi::Env env, StoragePtr storage) {
  auto* h = new Holder{std::move(storage)};
  napi_value v;
  if (napi_create_external(env, h, &finalize_holder, nullptr, &v) != napi_ok) {
    delete h;
    throw Napi::Error::New(env, "natten: cannot create a storage handle");
  }
  h->reported = h->storage ? (int64_t)h->storage->bytes() : 0;
  int64_t total;
  if (h->reported) napi_adjust_external_memory(env, h->reported, &total);
  Napi::External<Holder> ext(env, v);
  ext.TypeTag(&kHolderTag);
  return ext;
}

StoragePtr unwrap_storage(const Napi::Value& handle, const char* arg_name) {
  Holder* h = holder_of(handle, arg_name);
  if (!h->storage) throw Error(ErrorKind::Natten, "ERR_NATTEN_DISPOSED", std::string(arg_name) + " has been disposed");
  return h->storage;
}

void release_storage(const Napi::Value& handle) { holder_of(handle, "handle")->drop(handle.Env()); }

DType dtype_arg(const Napi::Value& v, const char* name) {
  if (!v.IsNumber())
    throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", std::string(name) + " must be a dtype code");
  int c = v.As<Napi::Number>().Int32Value();
  if (c < 0 || c > 3)
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_DTYPE", std::string(name) + ": unknown dtype code");
  return static_cast<DType>(c);
}

Device device_arg(const Napi::Value& v, const char* name) {
  if (!v.IsNumber())
    throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", std::string(name) + " must be a device index");
  return Device{v.As<Napi::Number>().Int32Value()};
}

int64_t int_arg(const Napi::Value& v, const char* name) {
  if (!v.IsNumber())
    throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", std::string(name) + " must be a number");
  return v.As<Napi::Number>().Int64Value();
}

}  // namespace natten::node
