// Settles the promises of one JS environment (the main thread, or a worker thread) from the device
// threads, without holding a libuv thread-pool thread: a device thread posts the result and wakes the JS
// thread through a thread-safe function; the JS thread resolves. When the environment goes away (worker
// exit or terminate), replies still in flight are dropped on the thread that posts them.
#pragma once
#include <napi.h>

#include <functional>
#include <memory>
#include <utility>

#include "../kernels/common/error.h"

namespace natten::node {

class Completion;

/// The settlement of one promise, handed to the thread that produces its value. Copies share one
/// settlement; the first resolve/reject wins; a reply dropped unsettled rejects with ERR_NATTEN_INTERNAL.
class Reply {
 public:
  /// Builds the value on the JS thread; it must capture native data only (no JS handles).
  using MakeValue = std::function<Napi::Value(Napi::Env)>;

  void resolve(MakeValue make) const;
  void reject(const Error& e) const;

 private:
  friend class Completion;
  struct State;
  explicit Reply(std::shared_ptr<State> s) : state_(std::move(s)) {}
  std::shared_ptr<State> state_;
};

class Completion : public std::enable_shared_from_this<Completion> {
 public:
  /// Creates the environment's completion channel (JS thread, once per environment); it closes itself
  /// when the environment is cleaned up.
  static std::shared_ptr<Completion> create(Napi::Env env);
  ~Completion();

  /// JS thread: a pending promise and the reply that settles it. While replies are pending, the
  /// channel keeps the environment's event loop alive.
  std::pair<Napi::Promise, Reply> expect(Napi::Env env);

 private:
  friend class Reply;
  struct Impl;
  explicit Completion(Impl* impl) : impl_(impl) {}
  void post(uint64_t id, const Error* error, Reply::MakeValue make);
  Impl* impl_;
};

}  // namespace natten::node
