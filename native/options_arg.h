// The one options object every binding reads (docs/design.md §1; typed in lib/native.ts), and the objects
// nested in it: named fields, each read with a coded TypeError/RangeError that names it
// (`options.q must be a tensor handle`, `options.problem.kernel[0] must be ...`). Reading checks types
// and the ranges that keep native code in bounds; what an option means is validated once, in lib/. Each
// field is looked up once, and names are spelled only for a message: reading stays cheap on the JS thread.
#pragma once
#include <napi.h>

#include <string>

#include "../kernels/common/dtype.h"
#include "storage.h"

namespace natten::node {

class Options {
 public:
  /// The call's first argument, named "options".
  explicit Options(const Napi::CallbackInfo& info) : Options(info[0], nullptr, "options") {}
  /// `v`, which must be an object: field `key` of `parent` (which must outlive it), or the root when
  /// parent is null.
  Options(const Napi::Value& v, const Options* parent, const char* key);

  /// How messages name this object ("options", "options.problem", ...).
  std::string self_name() const { return parent_ ? parent_->name(key_) : std::string(key_); }
  /// "<name>.<key>": how messages name a field.
  std::string name(const char* key) const { return self_name() + "." + key; }
  /// The field as given (undefined when absent).
  Napi::Value get(const char* key) const { return o_.Get(key); }
  /// False when the field is absent, undefined or null.
  bool has(const char* key) const { return present(get(key)); }
  static bool present(const Napi::Value& v) { return !v.IsUndefined() && !v.IsNull(); }
  /// A required object field, read the same way (it refers to this object: use it while this lives).
  Options object(const char* key) const { return Options(get(key), this, key); }

  DType dtype(const char* key = "dtype") const;
  /// A device index: -1 the CPU, n cuda:n.
  Device device(const char* key = "device") const;
  /// A required integer in [min, max].
  int64_t integer(const char* key, int64_t min, int64_t max) const;
  /// An optional integer in [min, max]: `dflt` when absent.
  int64_t integer_or(const char* key, int64_t dflt, int64_t min, int64_t max) const;
  /// A required non-negative integer (an element count, a size) up to 2^53.
  int64_t count(const char* key) const { return integer(key, 0, kMaxCount); }
  /// A required number.
  double number(const char* key) const;
  /// An optional number: `dflt` when absent.
  double number_or(const char* key, double dflt) const;
  /// An optional boolean (any value, taken by its truthiness): `dflt` when absent.
  bool flag(const char* key, bool dflt) const;
  /// A required array.
  Napi::Array array(const char* key) const;
  /// A required storage handle.
  StoragePtr storage(const char* key) const;
  /// `n` integers in [min, 2^31), one per spatial axis, into out[0..n).
  void per_axis(const char* key, int n, int min, int* out) const;
  /// The same, or `dflt` on every axis when absent.
  void per_axis_or(const char* key, int n, int min, int dflt, int* out) const;
  /// `n` booleans (by truthiness), one per spatial axis, or false on every axis when absent.
  void flags_per_axis(const char* key, int n, bool* out) const;

  static constexpr int64_t kMaxCount = (int64_t)1 << 53;

 private:
  double number_value(const Napi::Value& v, const char* key) const;
  Napi::Array axes(const Napi::Value& v, const char* key, int n) const;
  void axis_integers(const Napi::Value& v, const char* key, int n, int min, int* out) const;
  Napi::Object o_;
  const Options* parent_;
  const char* key_;
};

/// options.device of a binding that needs a CUDA device (`what` needs it, for the message): its index;
/// ERR_NATTEN_INVALID_DEVICE for the CPU.
int cuda_device_arg(const Napi::CallbackInfo& info, const char* what);

}  // namespace natten::node
