#include "completion.h"

#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "js_interop.h"

namespace natten::node {

struct Reply::State {
  std::shared_ptr<Completion> completion;
  uint64_t id;
  std::once_flag settled;
  ~State() {
    bool unsettled = false;
    std::call_once(settled, [&] { unsettled = true; });
    if (unsettled) {
      Error e(ErrorKind::Natten, "ERR_NATTEN_INTERNAL", "the operation was dropped before it produced a result");
      completion->post(id, &e, nullptr);
    }
  }
};

void Reply::resolve(MakeValue make) const {
  std::call_once(state_->settled, [&] { state_->completion->post(state_->id, nullptr, std::move(make)); });
}

void Reply::reject(const Error& e) const {
  std::call_once(state_->settled, [&] { state_->completion->post(state_->id, &e, nullptr); });
}

struct Completion::Impl {
  struct Ready {
    uint64_t id;
    std::optional<Error> error;
    Reply::MakeValue make;
  };

  // Shared with the device threads.
  std::mutex mutex;
  bool open = true;
  napi_threadsafe_function tsfn = nullptr;
  std::deque<Ready> ready;

  // JS thread only.
  napi_env env = nullptr;
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, napi_deferred> pending;

  /// Environment cleanup: no settlement after this. Replies already posted are dropped here.
  void close() {
    std::deque<Ready> dropped;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!open) return;
      open = false;
      dropped.swap(ready);
      napi_release_threadsafe_function(tsfn, napi_tsfn_abort);
    }
    pending.clear();  // the promises die with the environment
  }

  void drain(Napi::Env env) {
    std::deque<Ready> batch;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!open) return;
      batch.swap(ready);
    }
    for (Ready& r : batch) {
      auto it = pending.find(r.id);
      if (it == pending.end()) continue;
      napi_deferred deferred = it->second;
      pending.erase(it);
      Napi::HandleScope scope(env);
      napi_value value;
      bool ok = !r.error;
      if (ok) {
        try {
          value = r.make(env);
        } catch (const Napi::Error& e) {
          ok = false;
          value = e.Value();
        } catch (const Error& e) {
          ok = false;
          value = to_js_error(env, e).Value();
        } catch (const std::exception& e) {
          ok = false;
          value = to_js_error(env, Error(ErrorKind::Natten, "ERR_NATTEN_INTERNAL", e.what())).Value();
        }
      } else {
        value = to_js_error(env, *r.error).Value();
      }
      if (ok) napi_resolve_deferred(env, deferred, value);
      else napi_reject_deferred(env, deferred, value);
    }
    if (pending.empty()) napi_unref_threadsafe_function(env, tsfn);
  }

  static void call_js(napi_env env, napi_value, void* context, void*) {
    if (!env) return;  // the thread-safe function is being torn down
    try {
      static_cast<Impl*>(context)->drain(Napi::Env(env));
    } catch (...) {
      // A terminating environment refuses new JS values: nothing can be settled there any more.
    }
  }

  static void on_cleanup(void* arg) { static_cast<Impl*>(arg)->close(); }
};

std::shared_ptr<Completion> Completion::create(Napi::Env env) {
  auto* impl = new Impl;
  impl->env = env;
  napi_value name = Napi::String::New(env, "natten-completion");
  napi_status st = napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, impl,
                                                   &Impl::call_js, &impl->tsfn);
  if (st != napi_ok) {
    delete impl;
    throw Napi::Error::New(env, "natten: cannot create the completion channel");
  }
  napi_unref_threadsafe_function(env, impl->tsfn);  // only pending replies keep the loop alive
  // Registered after the thread-safe function, so it runs before the function's own cleanup.
  napi_add_env_cleanup_hook(env, &Impl::on_cleanup, impl);
  return std::shared_ptr<Completion>(new Completion(impl));
}

Completion::~Completion() {
  // The last reference may go on a device thread after the environment is gone; the Impl holds no JS
  // handle that needs the environment (the deferreds died with it).
  delete impl_;
}

std::pair<Napi::Promise, Reply> Completion::expect(Napi::Env env) {
  napi_deferred deferred;
  napi_value promise;
  if (napi_create_promise(env, &deferred, &promise) != napi_ok)
    throw Napi::Error::New(env, "natten: cannot create a promise");
  const uint64_t id = impl_->next_id++;
  if (impl_->pending.empty()) napi_ref_threadsafe_function(env, impl_->tsfn);
  impl_->pending.emplace(id, deferred);
  auto state = std::make_shared<Reply::State>();
  state->completion = shared_from_this();
  state->id = id;
  return {Napi::Promise(env, promise), Reply(std::move(state))};
}

void Completion::post(uint64_t id, const Error* error, Reply::MakeValue make) {
  Impl::Ready r{id, error ? std::optional<Error>(*error) : std::nullopt, std::move(make)};
  std::unique_lock<std::mutex> lock(impl_->mutex);
  if (!impl_->open) {
    lock.unlock();
    return;  // r (and the native data its value would have wrapped) is freed here
  }
  impl_->ready.push_back(std::move(r));
  // Under the lock, so close() cannot release the function between the check and the call.
  napi_call_threadsafe_function(impl_->tsfn, nullptr, napi_tsfn_nonblocking);
}

}  // namespace natten::node
