#include "js_interop.h"

namespace natten::node {
namespace {

Napi::FunctionReference* g_natten_error = nullptr;

struct Holder {
  StoragePtr storage;
};

// Tags our Externals so a foreign External passed by mistake is rejected, not dereferenced.
const napi_type_tag kHolderTag = {0x6e617474656e5f73ull, 0x746f726167655f31ull};

Holder* holder_of(const Napi::Value& v, const char* name) {
  if (!v.IsExternal() || !v.As<Napi::External<Holder>>().CheckTypeTag(&kHolderTag))
    throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", std::string(name) + " must be a tensor handle");
  return v.As<Napi::External<Holder>>().Data();
}

}  // namespace

void set_natten_error_class(const Napi::Function& ctor) {
  if (!g_natten_error) g_natten_error = new Napi::FunctionReference();
  *g_natten_error = Napi::Persistent(ctor);
}

Napi::Error to_js_error(Napi::Env env, const Error& e) {
  Napi::Error err;
  switch (e.kind()) {
    case ErrorKind::Type: err = Napi::TypeError::New(env, e.what()); break;
    case ErrorKind::Range: err = Napi::RangeError::New(env, e.what()); break;
    default:
      if (g_natten_error && !g_natten_error->IsEmpty()) {
        err = Napi::Error(env, g_natten_error->New({Napi::String::New(env, e.what()), Napi::String::New(env, e.code())}));
      } else {
        err = Napi::Error::New(env, e.what());
      }
  }
  err.Set("code", Napi::String::New(env, e.code()));
  return err;
}

Napi::Value wrap_storage(Napi::Env env, StoragePtr storage) {
  auto ext = Napi::External<Holder>::New(env, new Holder{std::move(storage)},
                                         [](Napi::Env, Holder* h) { delete h; });
  ext.TypeTag(&kHolderTag);
  return ext;
}

StoragePtr unwrap_storage(const Napi::Value& handle, const char* arg_name) {
  Holder* h = holder_of(handle, arg_name);
  if (!h->storage)
    throw Error(ErrorKind::Natten, "ERR_NATTEN_DISPOSED", std::string(arg_name) + " has been disposed");
  return h->storage;
}

void release_storage(const Napi::Value& handle) { holder_of(handle, "handle")->storage.reset(); }

DType dtype_arg(const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", std::string(name) + " must be a dtype code");
  int c = v.As<Napi::Number>().Int32Value();
  if (c < 0 || c > 3) throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_DTYPE", std::string(name) + ": unknown dtype code");
  return static_cast<DType>(c);
}

Device device_arg(const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", std::string(name) + " must be a device index");
  return Device{v.As<Napi::Number>().Int32Value()};
}

int64_t int_arg(const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", std::string(name) + " must be a number");
  return v.As<Napi::Number>().Int64Value();
}

}  // namespace natten::node
