// The one options object every binding reads (docs/design.md §1; typed in lib/native.ts), and the objects
// nested in it: named fields, each read with a coded TypeError/RangeError that names it
// (`options.q must be a tensor handle`, `options.problem.kernel[0] must be ...`). Reading checks types
// and the ranges that keep native code in bounds; what an option means is validated once, in lib/.
#pragma once
#include <napi.h>

#include <string>

#include "../kernels/common/dtype.h"
#include "storage.h"

namespace natten::node {

class Options {
 public:
  /// The call's first argument, named "options".
  explicit Options(const Napi::CallbackInfo& info) : Options(info[0], "options") {}
  /// `v`, which must be an object; messages call it `name`.
  Options(const Napi::Value& v, std::string name);

  /// How messages name this object ("options", "options.problem", ...).
  const std::string& self_name() const { return name_; }
  /// "<name>.<key>": how messages name a field.
  std::string name(const char* key) const { return name_ + "." + key; }
  /// The field as given (undefined when absent).
  Napi::Value get(const char* key) const { return o_.Get(key); }
  /// False when the field is absent, undefined or null.
  bool has(const char* key) const;
  /// A required object field, read the same way.
  Options object(const char* key) const { return Options(get(key), name(key)); }

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
  Napi::Array axes(const char* key, int n) const;
  Napi::Object o_;
  std::string name_;
};

}  // namespace natten::node
