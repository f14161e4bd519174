#include "async_work.h"

namespace natten::node {
namespace {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, std::function<void()> work, std::function<Napi::Value(Napi::Env)> result)
      : Napi::AsyncWorker(env, "natten"), deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)), result_(std::move(result)) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      work_();
    } catch (const Error& e) {
      error_.emplace(e);
    } catch (const std::exception& e) {
      error_.emplace(ErrorKind::Natten, "ERR_NATTEN_INTERNAL", e.what());
    }
    work_ = nullptr;  // release captured storages on the worker thread, before resolving
  }

  void OnOK() override {
    if (error_) {
      deferred_.Reject(to_js_error(Env(), *error_).Value());
      return;
    }
    try {
      deferred_.Resolve(result_(Env()));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<void()> work_;
  std::function<Napi::Value(Napi::Env)> result_;
  std::optional<Error> error_;
};

}  // namespace

Napi::Promise run_async(Napi::Env env, std::function<void()> work, std::function<Napi::Value(Napi::Env)> result) {
  auto* w = new PromiseWorker(env, std::move(work), std::move(result));
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

}  // namespace natten::node
