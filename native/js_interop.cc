#include "js_interop.h"

#include <utility>
#include <vector>

#include "addon_env.h"

namespace natten::node {
namespace {

/// What a JS storage handle owns: one reference to the storage, and the host bytes it reported to V8 as
/// external memory (so the garbage collector sees what forgotten CPU tensors hold).
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

Holder* holder_of(const Napi::Value& v, const ArgName& name) {
  if (!v.IsExternal() || !v.As<Napi::External<Holder>>().CheckTypeTag(&kHolderTag))
    throw Error(ErrorKind::Type, "ERR_NATTEN_INVALID_ARG_TYPE", name() + " must be a tensor handle");
  return v.As<Napi::External<Holder>>().Data();
}

/// The registered bindings: a function-local static, so registrations from any file's static initialisers
/// find it constructed whatever order the files initialise in.
std::vector<std::pair<const char*, BindingFn>>& registry() {
  static std::vector<std::pair<const char*, BindingFn>> bindings;
  return bindings;
}

}  // namespace

BindingRegistration::BindingRegistration(const char* name, BindingFn fn) { registry().emplace_back(name, fn); }

void export_bindings(Napi::Env env, Napi::Object exports) {
  for (const auto& [name, fn] : registry()) exports.Set(name, Napi::Function::New(env, fn, name));
}

Napi::Array int_array(Napi::Env env, const int* values, int n) {
  Napi::Array a = Napi::Array::New(env, n);
  for (int i = 0; i < n; ++i) a.Set(uint32_t(i), Napi::Number::New(env, values[i]));
  return a;
}

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
  // Host memory only. Device bytes are not V8's heap pressure: reported, every multi-megabyte GPU tensor
  // (and every reshape's second handle) pushes V8 into a collection every few ops, which costs more host time
  // than the ops' own launches. Forgotten GPU tensors are collected by the full GC that an out-of-memory
  // allocation runs before its one retry (lib/native.ts).
  h->reported = h->storage && h->storage->device().is_cpu() ? (int64_t)h->storage->bytes() : 0;
  int64_t total;
  if (h->reported) napi_adjust_external_memory(env, h->reported, &total);
  Napi::External<Holder> ext(env, v);
  ext.TypeTag(&kHolderTag);
  return ext;
}

StoragePtr unwrap_storage(const Napi::Value& handle, const ArgName& name) {
  Holder* h = holder_of(handle, name);
  if (!h->storage) throw Error(ErrorKind::Natten, "ERR_NATTEN_DISPOSED", name() + " has been disposed");
  return h->storage;
}

void release_storage(const Napi::Value& handle, const ArgName& name) { holder_of(handle, name)->drop(handle.Env()); }

}  // namespace natten::node
